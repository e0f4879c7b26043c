-- What a bank debit payment method shows instead of a card: its bank's name (ACH; Stripe names
-- none for SEPA) and the last four digits of the account. Never the account number: Stripe
-- sends only these. NULL for cards.

ALTER TABLE {schema}.payment_methods ADD COLUMN bank_name text;
ALTER TABLE {schema}.payment_methods ADD COLUMN bank_last4 text;

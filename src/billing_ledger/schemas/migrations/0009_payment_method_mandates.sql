-- The mandate a debit payment method was saved under (its SetupIntent's `mandate`), so finance
-- can tell which SEPA and ACH methods may be debited; NULL for cards.

ALTER TABLE {schema}.payment_methods ADD COLUMN mandate_id text;

-- Before API 2025-03-31 an invoice names the PaymentIntent that pays it, whose own payload may
-- name no invoice. Kept where each projection finds it whatever arrives first: the invoice's
-- row (a payment that comes later is linked from it), and the journal's own record of which
-- invoice a payment paid (so the payment is not also posted as a sale of its own).

ALTER TABLE {schema}.invoices ADD COLUMN payment_transaction_id uuid;
CREATE INDEX invoices_payment_transaction_id ON {schema}.invoices (payment_transaction_id);

CREATE TABLE {schema}.journal_payment_invoices (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    payment_source text NOT NULL,
    invoice_source text NOT NULL,
    PRIMARY KEY (account_id, livemode, payment_source, invoice_source)
);

-- Payments, invoices and what hangs off them. Same conventions as 0001: uuid5 ids from
-- (account, livemode, stripe id), references by those ids, no foreign keys, Stripe's timestamps.

CREATE TABLE {schema}.invoices (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_invoice_id text NOT NULL,
    customer_id uuid,
    subscription_id uuid,
    number text,
    amount_due bigint NOT NULL,
    amount_paid bigint NOT NULL,
    amount_remaining bigint NOT NULL,
    total bigint NOT NULL,
    tax bigint NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    paid_out_of_band boolean NOT NULL,
    invoice_pdf text,
    hosted_invoice_url text,
    due_date timestamptz,
    finalized_at timestamptz,
    paid_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (account_id, livemode, stripe_invoice_id)
);
CREATE INDEX invoices_customer_id ON {schema}.invoices (customer_id);
CREATE INDEX invoices_subscription_id ON {schema}.invoices (subscription_id);
CREATE INDEX invoices_status ON {schema}.invoices (status);

CREATE TABLE {schema}.payment_transactions (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_payment_intent_id text NOT NULL,
    customer_id uuid,
    subscription_id uuid,
    invoice_id uuid,
    amount bigint NOT NULL,
    amount_received bigint NOT NULL,
    amount_refunded bigint NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    payment_method_id text,
    payment_method_type text,
    wallet text,
    failure_code text,
    decline_code text,
    failure_message text,
    receipt_url text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (account_id, livemode, stripe_payment_intent_id)
);
CREATE INDEX payment_transactions_customer_id ON {schema}.payment_transactions (customer_id);
CREATE INDEX payment_transactions_invoice_id ON {schema}.payment_transactions (invoice_id);
CREATE INDEX payment_transactions_status_created ON {schema}.payment_transactions (status, created_at);

CREATE TABLE {schema}.refunds (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_refund_id text NOT NULL,
    payment_transaction_id uuid NOT NULL,
    stripe_charge_id text,
    amount bigint NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    reason text,
    failure_reason text,
    created_at timestamptz,
    updated_at timestamptz NOT NULL,
    UNIQUE (account_id, livemode, stripe_refund_id)
);
CREATE INDEX refunds_payment_transaction_id ON {schema}.refunds (payment_transaction_id);

CREATE TABLE {schema}.disputes (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_dispute_id text NOT NULL,
    stripe_charge_id text,
    payment_transaction_id uuid,
    amount bigint NOT NULL,
    currency text NOT NULL,
    status text NOT NULL,
    reason text,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (account_id, livemode, stripe_dispute_id)
);

CREATE TABLE {schema}.payment_methods (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_payment_method_id text NOT NULL,
    customer_id uuid,
    status text NOT NULL,
    type text NOT NULL,
    card_brand text,
    card_last4 text,
    card_exp_month integer,
    card_exp_year integer,
    wallet text,
    created_at timestamptz,
    updated_at timestamptz NOT NULL,
    UNIQUE (account_id, livemode, stripe_payment_method_id)
);
CREATE INDEX payment_methods_customer_id ON {schema}.payment_methods (customer_id);

-- The read schema's first tables. `{schema}` is the target schema (billing, or a rebuild's).
-- Row ids are uuid5 of (account, livemode, stripe id); references use the same ids, so no
-- foreign key is declared and rows resolve whatever order Stripe delivered them in.

CREATE TABLE {schema}.stripe_customers (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_customer_id text NOT NULL,
    user_id uuid,
    email text,
    name text,
    default_payment_method text,
    tax_id text,
    billing_address jsonb,
    deleted_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (account_id, livemode, stripe_customer_id)
);

CREATE TABLE {schema}.subscriptions (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_subscription_id text NOT NULL,
    customer_id uuid NOT NULL,
    business_id uuid,
    status text NOT NULL,
    plan_id text,
    current_period_start timestamptz,
    current_period_end timestamptz,
    trial_end timestamptz,
    cancel_at_period_end boolean NOT NULL,
    canceled_at timestamptz,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    UNIQUE (account_id, livemode, stripe_subscription_id)
);
CREATE INDEX subscriptions_customer_id ON {schema}.subscriptions (customer_id);

CREATE TABLE {schema}.subscription_items (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    subscription_id uuid NOT NULL,
    stripe_subscription_item_id text NOT NULL,
    price_id text NOT NULL,
    quantity bigint,
    unit_amount bigint,
    currency text NOT NULL,
    interval text,
    interval_count integer,
    usage_type text NOT NULL,
    UNIQUE (account_id, livemode, stripe_subscription_item_id)
);
CREATE INDEX subscription_items_subscription_id ON {schema}.subscription_items (subscription_id);

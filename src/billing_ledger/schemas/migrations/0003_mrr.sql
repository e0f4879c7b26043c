-- MRR: the subscription snapshots it is computed from (every one, including those that arrived
-- late), the coupons and discounts behind them, and the two tables finance reads.

CREATE TABLE {schema}.mrr_points (
    subscription_id uuid NOT NULL,
    stripe_event_id text NOT NULL,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    customer_id text NOT NULL,
    created bigint NOT NULL,
    status text,
    attributes jsonb NOT NULL,
    previous_attributes jsonb NOT NULL,
    state jsonb NOT NULL,
    discount_ids text[] NOT NULL,
    PRIMARY KEY (subscription_id, stripe_event_id)
);
CREATE INDEX mrr_points_customer ON {schema}.mrr_points (account_id, livemode, customer_id);
CREATE INDEX mrr_points_discounts ON {schema}.mrr_points USING gin (discount_ids);

CREATE TABLE {schema}.mrr_coupons (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_coupon_id text NOT NULL,
    coupon jsonb NOT NULL,
    PRIMARY KEY (account_id, livemode, stripe_coupon_id)
);

CREATE TABLE {schema}.mrr_discounts (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_discount_id text NOT NULL,
    coupon_id text,
    coupon jsonb,
    PRIMARY KEY (account_id, livemode, stripe_discount_id)
);
CREATE INDEX mrr_discounts_coupon ON {schema}.mrr_discounts (account_id, livemode, coupon_id);

-- The months MRR is reported for: from the earliest subscription event to the latest event.
CREATE TABLE {schema}.mrr_horizon (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    first_month date,
    last_month date NOT NULL,
    PRIMARY KEY (account_id, livemode)
);

CREATE TABLE {schema}.mrr_movements (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    month date NOT NULL,
    currency text NOT NULL,
    customer_id text NOT NULL,
    kind text NOT NULL CHECK (kind IN ('new', 'expansion', 'contraction', 'churn', 'reactivation')),
    amount_cents bigint NOT NULL,
    PRIMARY KEY (account_id, livemode, currency, month, customer_id)
);
CREATE INDEX mrr_movements_customer ON {schema}.mrr_movements (account_id, livemode, customer_id);

CREATE TABLE {schema}.mrr_monthly (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    month date NOT NULL,
    currency text NOT NULL,
    mrr_cents bigint NOT NULL,
    customers integer NOT NULL,
    PRIMARY KEY (account_id, livemode, currency, month)
);

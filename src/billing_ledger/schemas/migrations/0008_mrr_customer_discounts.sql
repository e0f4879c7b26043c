-- A customer's own discount applies to its subscriptions that carry none: what each customer
-- snapshot (its `discount`) and each customer-level discount snapshot (`customer.discount.*`)
-- says of it, one row per snapshot, so MRR derives when it was in force whatever the order.

CREATE TABLE {schema}.mrr_customer_discounts (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    customer_id text NOT NULL,
    stripe_event_id text NOT NULL,
    created bigint NOT NULL,
    from_customer boolean NOT NULL,
    discount_id text,
    coupon_id text,
    coupon jsonb,
    start bigint,
    ended boolean NOT NULL,
    PRIMARY KEY (account_id, livemode, customer_id, stripe_event_id)
);
CREATE INDEX mrr_customer_discounts_coupon
    ON {schema}.mrr_customer_discounts (account_id, livemode, coupon_id);

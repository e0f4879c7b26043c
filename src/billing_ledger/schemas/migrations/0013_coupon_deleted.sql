-- Whether a coupon was deleted at Stripe (`coupon.deleted`): discounts made from it keep
-- applying, but Stripe's coupon list leaves it out, so `reconcile --objects` must know.
ALTER TABLE {schema}.mrr_coupons ADD COLUMN deleted boolean NOT NULL DEFAULT false;

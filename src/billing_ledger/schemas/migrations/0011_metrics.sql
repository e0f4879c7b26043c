-- The brief's business metrics, as views finance (billing_reader) reads: MRR and ARR as of the
-- latest event, churn and retention, trials, payment conversion, involuntary churn, dunning
-- recovery, lifetime value, cohorts. Ratios are numeric, rounded to 6 places half away from
-- zero; money stays bigint minor units per currency. Every figure is derived from rows the
-- projections wrote from Stripe's events: no view reads the clock.

-- The MRR definition this schema was built with (mrr_definitions.py); one row. A rebuild
-- writes MRR_DEFINITION here before projecting; `replay --swap` makes it live.
CREATE TABLE {schema}.mrr_definition (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    name text NOT NULL
);
INSERT INTO {schema}.mrr_definition (name) VALUES ('stripe');

-- The latest event applied per scope (Stripe's `created`): "now" for MRR.
CREATE TABLE {schema}.mrr_clock (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    last_created bigint NOT NULL,
    PRIMARY KEY (account_id, livemode)
);

-- What the payment tables keep only the last of (projections/payment_facts.py): every status a
-- PaymentIntent passed through, every charge (one payment attempt each), every failed payment
-- of an invoice. Each is a set of facts, so any delivery order gives the same rows.
CREATE TABLE {schema}.payment_intent_statuses (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_payment_intent_id text NOT NULL,
    status text NOT NULL,
    first_seen bigint NOT NULL,
    PRIMARY KEY (account_id, livemode, stripe_payment_intent_id, status)
);

CREATE TABLE {schema}.payment_charges (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_charge_id text NOT NULL,
    stripe_payment_intent_id text,
    status text NOT NULL,
    payment_method_type text,
    failure_code text,
    amount bigint NOT NULL,
    currency text NOT NULL,
    created bigint NOT NULL,
    PRIMARY KEY (account_id, livemode, stripe_charge_id)
);

CREATE TABLE {schema}.invoice_payment_failures (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    stripe_invoice_id text NOT NULL,
    stripe_event_id text NOT NULL,
    created bigint NOT NULL,
    PRIMARY KEY (account_id, livemode, stripe_invoice_id, stripe_event_id)
);

-- MRR, ARR, paying customers and ARPA as of the latest event applied (the running month's row
-- of mrr_monthly is read up to that event, see mrr_rules.customer_month_ends).
CREATE VIEW {schema}.mrr_current AS
SELECT m.account_id, m.livemode, m.currency,
       to_timestamp(c.last_created) AS as_of,
       m.month AS as_of_month,
       m.mrr_cents,
       12 * m.mrr_cents AS arr_cents,
       m.customers AS paying_customers,
       CASE WHEN m.customers > 0 THEN round(m.mrr_cents::numeric / m.customers)::bigint
       END AS arpa_cents,
       d.name AS mrr_definition
FROM {schema}.mrr_monthly m
JOIN {schema}.mrr_horizon h
    ON h.account_id = m.account_id AND h.livemode = m.livemode AND h.last_month = m.month
LEFT JOIN {schema}.mrr_clock c ON c.account_id = m.account_id AND c.livemode = m.livemode
CROSS JOIN {schema}.mrr_definition d;

-- Per month: the movements, customer churn, gross and net MRR churn (ChartMogul's standard
-- formulas), net and gross revenue retention. "Start" is the previous month's end.
CREATE VIEW {schema}.mrr_churn_monthly AS
WITH months AS (
    SELECT m.account_id, m.livemode, m.currency, m.month, m.mrr_cents, m.customers,
           coalesce(lag(m.mrr_cents) OVER w, 0) AS start_mrr_cents,
           coalesce(lag(m.customers) OVER w, 0) AS start_customers
    FROM {schema}.mrr_monthly m
    WINDOW w AS (PARTITION BY m.account_id, m.livemode, m.currency ORDER BY m.month)
), moved AS (
    SELECT account_id, livemode, currency, month,
           coalesce(sum(amount_cents) FILTER (WHERE kind = 'new'), 0) AS new_cents,
           coalesce(sum(amount_cents) FILTER (WHERE kind = 'expansion'), 0) AS expansion_cents,
           coalesce(sum(amount_cents) FILTER (WHERE kind = 'contraction'), 0)
               AS contraction_cents,
           coalesce(sum(amount_cents) FILTER (WHERE kind = 'churn'), 0) AS churn_cents,
           coalesce(sum(amount_cents) FILTER (WHERE kind = 'reactivation'), 0)
               AS reactivation_cents,
           count(*) FILTER (WHERE kind = 'new') AS new_customers,
           count(*) FILTER (WHERE kind = 'reactivation') AS reactivated_customers,
           count(*) FILTER (WHERE kind = 'churn') AS churned_customers
    FROM {schema}.mrr_movements
    GROUP BY account_id, livemode, currency, month
), joined AS (
    SELECT s.*,
           coalesce(v.new_cents, 0) AS new_cents,
           coalesce(v.expansion_cents, 0) AS expansion_cents,
           coalesce(v.contraction_cents, 0) AS contraction_cents,
           coalesce(v.churn_cents, 0) AS churn_cents,
           coalesce(v.reactivation_cents, 0) AS reactivation_cents,
           coalesce(v.new_customers, 0) AS new_customers,
           coalesce(v.reactivated_customers, 0) AS reactivated_customers,
           coalesce(v.churned_customers, 0) AS churned_customers
    FROM months s
    LEFT JOIN moved v ON v.account_id = s.account_id AND v.livemode = s.livemode
        AND v.currency = s.currency AND v.month = s.month
)
SELECT account_id, livemode, currency, month, start_mrr_cents, mrr_cents,
       start_customers, customers,
       new_cents, expansion_cents, contraction_cents, churn_cents, reactivation_cents,
       new_customers, reactivated_customers, churned_customers,
       CASE WHEN start_customers > 0
           THEN round(churned_customers::numeric / start_customers, 6) END
           AS customer_churn_rate,
       CASE WHEN start_mrr_cents > 0
           THEN round(-(churn_cents + contraction_cents)::numeric / start_mrr_cents, 6) END
           AS gross_mrr_churn_rate,
       CASE WHEN start_mrr_cents > 0
           THEN round(-(churn_cents + contraction_cents + expansion_cents + reactivation_cents)
               ::numeric / start_mrr_cents, 6) END
           AS net_mrr_churn_rate,
       CASE WHEN start_mrr_cents > 0
           THEN round((start_mrr_cents + expansion_cents + contraction_cents + churn_cents)
               ::numeric / start_mrr_cents, 6) END
           AS net_revenue_retention,
       CASE WHEN start_mrr_cents > 0
           THEN round((start_mrr_cents + contraction_cents + churn_cents)::numeric
               / start_mrr_cents, 6) END
           AS gross_revenue_retention
FROM joined;

-- LTV = ARPA ÷ customer churn rate, the churn rate over the 12 months up to the latest
-- (churned customers ÷ customers at the start of each month, both summed); NULL without churn.
CREATE VIEW {schema}.customer_lifetime_value AS
SELECT c.account_id, c.livemode, c.currency, c.as_of, c.arpa_cents,
       w.churned_customers, w.start_customers,
       CASE WHEN w.start_customers > 0
           THEN round(w.churned_customers::numeric / w.start_customers, 6) END
           AS customer_churn_rate,
       CASE WHEN w.churned_customers > 0 AND c.paying_customers > 0
           THEN round(c.mrr_cents::numeric * w.start_customers
               / (c.paying_customers::numeric * w.churned_customers))::bigint END
           AS ltv_cents,
       'ARPA / customer churn rate, where ARPA = MRR / paying customers and the churn rate = '
       'churned customers / customers at the start of the month, summed over the 12 months '
       'up to the latest; NULL when no customer churned'::text AS formula
FROM {schema}.mrr_current c
CROSS JOIN LATERAL (
    SELECT coalesce(sum(r.churned_customers), 0)::bigint AS churned_customers,
           coalesce(sum(r.start_customers), 0)::bigint AS start_customers
    FROM {schema}.mrr_churn_monthly r
    WHERE r.account_id = c.account_id AND r.livemode = c.livemode
        AND r.currency = c.currency AND r.month > (c.as_of_month - interval '12 months')
        AND r.month <= c.as_of_month
) w;

-- Signup-month cohorts: a customer's cohort is the month of its first MRR (its `new`
-- movement) in a currency; each later month shows what the cohort still pays.
CREATE VIEW {schema}.mrr_cohorts AS
WITH members AS (
    SELECT account_id, livemode, currency, customer_id, month AS cohort_month
    FROM {schema}.mrr_movements WHERE kind = 'new'
), flows AS (
    SELECT c.account_id, c.livemode, c.currency, c.cohort_month, v.month,
           sum(v.amount_cents) AS delta_cents,
           sum(CASE WHEN v.kind IN ('new', 'reactivation') THEN 1
                    WHEN v.kind = 'churn' THEN -1 ELSE 0 END) AS delta_customers
    FROM {schema}.mrr_movements v
    JOIN members c ON c.account_id = v.account_id AND c.livemode = v.livemode
        AND c.currency = v.currency AND c.customer_id = v.customer_id
    GROUP BY c.account_id, c.livemode, c.currency, c.cohort_month, v.month
), cohorts AS (
    SELECT account_id, livemode, currency, cohort_month,
           count(*) AS cohort_customers
    FROM members GROUP BY account_id, livemode, currency, cohort_month
), grid AS (
    SELECT c.account_id, c.livemode, c.currency, c.cohort_month, c.cohort_customers, m.month
    FROM cohorts c
    JOIN {schema}.mrr_monthly m ON m.account_id = c.account_id AND m.livemode = c.livemode
        AND m.currency = c.currency AND m.month >= c.cohort_month
), running AS (
    SELECT g.*,
           sum(coalesce(f.delta_cents, 0)) OVER w AS retained_mrr_cents,
           sum(coalesce(f.delta_customers, 0)) OVER w AS retained_customers,
           first_value(coalesce(f.delta_cents, 0)) OVER w AS cohort_mrr_cents
    FROM grid g
    LEFT JOIN flows f ON f.account_id = g.account_id AND f.livemode = g.livemode
        AND f.currency = g.currency AND f.cohort_month = g.cohort_month AND f.month = g.month
    WINDOW w AS (PARTITION BY g.account_id, g.livemode, g.currency, g.cohort_month
                 ORDER BY g.month)
)
SELECT account_id, livemode, currency, cohort_month, month,
       ((extract(year FROM month) - extract(year FROM cohort_month)) * 12
        + extract(month FROM month) - extract(month FROM cohort_month))::integer
           AS months_since_signup,
       cohort_customers, cohort_mrr_cents,
       retained_customers::bigint AS retained_customers,
       retained_mrr_cents::bigint AS retained_mrr_cents,
       CASE WHEN cohort_mrr_cents > 0
           THEN round(retained_mrr_cents / cohort_mrr_cents, 6) END AS mrr_retention
FROM running;

-- Trials by the month they started (first `trialing` snapshot): how many became `active`.
CREATE VIEW {schema}.trial_conversion_monthly AS
WITH trials AS (
    SELECT account_id, livemode, subscription_id,
           min(created) FILTER (WHERE status = 'trialing') AS started,
           max(created) FILTER (WHERE status = 'active') AS last_active
    FROM {schema}.mrr_points
    GROUP BY account_id, livemode, subscription_id
    HAVING bool_or(status = 'trialing')
), outcomes AS (
    SELECT t.account_id, t.livemode, t.started,
           coalesce(t.last_active >= t.started, false) AS converted,
           coalesce(s.status = 'trialing', false) AS still_trialing
    FROM trials t LEFT JOIN {schema}.subscriptions s ON s.id = t.subscription_id
)
SELECT account_id, livemode,
       date_trunc('month', to_timestamp(started) AT TIME ZONE 'UTC')::date AS trial_month,
       count(*) AS trials,
       count(*) FILTER (WHERE converted) AS converted,
       count(*) FILTER (WHERE still_trialing) AS still_trialing,
       round(count(*) FILTER (WHERE converted)::numeric / count(*), 6) AS conversion_rate
FROM outcomes
GROUP BY account_id, livemode, trial_month;

-- PaymentIntents by the month they were created: how many ended `succeeded`, and of those that
-- asked for the customer's action (`requires_action`: for cards, the 3-D Secure challenge),
-- how many never completed it.
CREATE VIEW {schema}.payment_conversion_monthly AS
WITH intents AS (
    SELECT p.account_id, p.livemode, p.created_at, p.status,
           s.stripe_payment_intent_id IS NOT NULL AS asked_action
    FROM {schema}.payment_transactions p
    LEFT JOIN {schema}.payment_intent_statuses s
        ON s.account_id = p.account_id AND s.livemode = p.livemode
        AND s.stripe_payment_intent_id = p.stripe_payment_intent_id
        AND s.status = 'requires_action'
)
SELECT account_id, livemode,
       date_trunc('month', created_at AT TIME ZONE 'UTC')::date AS month,
       count(*) AS created,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       round(count(*) FILTER (WHERE status = 'succeeded')::numeric / count(*), 6)
           AS conversion_rate,
       count(*) FILTER (WHERE asked_action) AS required_action,
       count(*) FILTER (WHERE asked_action AND status <> 'succeeded') AS action_dropped,
       CASE WHEN count(*) FILTER (WHERE asked_action) > 0
           THEN round(count(*) FILTER (WHERE asked_action AND status <> 'succeeded')::numeric
               / count(*) FILTER (WHERE asked_action), 6) END AS action_drop_off_rate,
       round(count(*) FILTER (WHERE status = 'succeeded')::numeric
           / nullif(count(*) FILTER (WHERE NOT asked_action OR status = 'succeeded'), 0), 6)
           AS conversion_rate_without_drop_off
FROM intents
GROUP BY account_id, livemode, month;

-- Every charge is one attempt to move money: succeeded of those that ended, per payment
-- method type (the brief asks for more than 98%).
CREATE VIEW {schema}.payment_success_by_method AS
SELECT account_id, livemode, coalesce(payment_method_type, 'unknown') AS payment_method_type,
       count(*) FILTER (WHERE status IN ('succeeded', 'failed')) AS attempts,
       count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
       count(*) FILTER (WHERE status = 'failed') AS failed,
       CASE WHEN count(*) FILTER (WHERE status IN ('succeeded', 'failed')) > 0
           THEN round(count(*) FILTER (WHERE status = 'succeeded')::numeric
               / count(*) FILTER (WHERE status IN ('succeeded', 'failed')), 6) END
           AS success_rate
FROM {schema}.payment_charges
GROUP BY account_id, livemode, coalesce(payment_method_type, 'unknown');

-- How each subscription that stopped paying ended: its first snapshot `canceled` or `unpaid`.
-- Involuntary: marked `unpaid`, or canceled while `past_due` or `unpaid` (after failed
-- payments); voluntary: canceled from any other status (trials that never paid included).
CREATE VIEW {schema}.subscription_endings AS
WITH ordered AS (
    SELECT account_id, livemode, subscription_id, customer_id, created, status,
           lag(status) OVER (PARTITION BY subscription_id ORDER BY created, stripe_event_id)
               AS status_before
    FROM {schema}.mrr_points
), ended AS (
    SELECT DISTINCT ON (subscription_id) *
    FROM ordered WHERE status IN ('canceled', 'unpaid')
    ORDER BY subscription_id, created, status
)
SELECT account_id, livemode, subscription_id, customer_id,
       to_timestamp(created) AS ended_at, status AS ended_as, status_before,
       CASE WHEN status = 'unpaid' OR status_before IN ('past_due', 'unpaid')
           THEN 'involuntary' ELSE 'voluntary' END AS kind
FROM ended;

CREATE VIEW {schema}.churn_by_cause_monthly AS
SELECT account_id, livemode, date_trunc('month', ended_at AT TIME ZONE 'UTC')::date AS month,
       count(*) FILTER (WHERE kind = 'voluntary') AS voluntary,
       count(*) FILTER (WHERE kind = 'involuntary') AS involuntary,
       round(count(*) FILTER (WHERE kind = 'involuntary')::numeric / count(*), 6)
           AS involuntary_share
FROM {schema}.subscription_endings
GROUP BY account_id, livemode, month;

-- Dunning: invoices with a failed payment (`invoice.payment_failed`), by the month of their
-- first failure: how many were paid later, how much, and how long after the first failure.
CREATE VIEW {schema}.dunning_recovery_monthly AS
WITH failed AS (
    SELECT account_id, livemode, stripe_invoice_id, min(created) AS first_failed
    FROM {schema}.invoice_payment_failures
    GROUP BY account_id, livemode, stripe_invoice_id
), outcomes AS (
    SELECT f.account_id, f.livemode, i.currency, f.first_failed,
           i.status = 'paid' AS recovered,
           CASE WHEN i.status = 'paid' THEN i.amount_paid ELSE 0 END AS recovered_cents,
           i.amount_due,
           CASE WHEN i.status = 'paid' AND i.paid_at IS NOT NULL
               THEN extract(epoch FROM i.paid_at)::bigint - f.first_failed END
               AS seconds_to_recovery
    FROM failed f
    JOIN {schema}.invoices i ON i.account_id = f.account_id AND i.livemode = f.livemode
        AND i.stripe_invoice_id = f.stripe_invoice_id
)
SELECT account_id, livemode, currency,
       date_trunc('month', to_timestamp(first_failed) AT TIME ZONE 'UTC')::date AS month,
       count(*) AS failed_invoices,
       count(*) FILTER (WHERE recovered) AS recovered_invoices,
       round(count(*) FILTER (WHERE recovered)::numeric / count(*), 6) AS recovery_rate,
       sum(amount_due)::bigint AS failed_cents,
       sum(recovered_cents)::bigint AS recovered_cents,
       round(avg(seconds_to_recovery) / 86400, 6) AS mean_days_to_recovery,
       round((percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds_to_recovery) / 86400)::numeric,
             6) AS median_days_to_recovery
FROM outcomes
GROUP BY account_id, livemode, currency, month;

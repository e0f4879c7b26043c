-- Summaries PostgreSQL keeps beside their rows, so the trial balance and the trial conversion
-- read months × currencies × ledger accounts, not every journal line or MRR snapshot.
--
-- Statement-level AFTER triggers with transition tables fold each statement's rows into the
-- summary in the writer's own transaction, whatever way the rows are written (one row per
-- statement, INSERT ... SELECT unnest, COPY) and in whichever schema (a rebuild's too; the
-- functions name their tables through TG_TABLE_SCHEMA, so they follow a swap). The summaries
-- are base tables: `replay --verify` compares them like every other table.

-- The journal's balances per account, mode, ledger account, currency and month (UTC) of the
-- entry. Lines are immutable (0004), so only INSERT changes them.
CREATE TABLE {schema}.journal_balances (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    ledger_account text NOT NULL,
    currency text NOT NULL,
    month date NOT NULL,
    debit_cents bigint NOT NULL,
    credit_cents bigint NOT NULL,
    lines bigint NOT NULL,
    PRIMARY KEY (account_id, livemode, ledger_account, currency, month)
);

CREATE FUNCTION {schema}.journal_balances_add_lines() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
BEGIN
    -- One statement (the projector writes lines one INSERT each today): the lines dated by
    -- their entries, folded in, and how many found no entry. Entries are written before their
    -- lines (journal.py); a line without its entry would be lost from the summary, so it is
    -- refused instead (which undoes the statement, the summary's part of it too).
    EXECUTE format(
        'WITH dated AS (SELECT l.account_id, l.livemode, l.ledger_account, l.currency, '
        'date_trunc(''month'', e.occurred_at AT TIME ZONE ''UTC'')::date AS month, '
        'l.debit_cents, l.credit_cents '
        'FROM new_lines l LEFT JOIN %1$I.journal_entries e ON e.id = l.entry_id), '
        'folded AS (INSERT INTO %1$I.journal_balances AS b (account_id, livemode, '
        'ledger_account, currency, month, debit_cents, credit_cents, lines) '
        'SELECT account_id, livemode, ledger_account, currency, month, '
        'sum(debit_cents), sum(credit_cents), count(*) FROM dated WHERE month IS NOT NULL '
        'GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5 '
        'ON CONFLICT (account_id, livemode, ledger_account, currency, month) DO UPDATE SET '
        'debit_cents = b.debit_cents + excluded.debit_cents, '
        'credit_cents = b.credit_cents + excluded.credit_cents, '
        'lines = b.lines + excluded.lines RETURNING 1) '
        'SELECT count(*) FROM dated WHERE month IS NULL', TG_TABLE_SCHEMA)
        INTO missing;
    IF missing > 0 THEN
        RAISE EXCEPTION '% journal lines were written before their entries', missing
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER journal_lines_summed AFTER INSERT ON {schema}.journal_lines
    REFERENCING NEW TABLE AS new_lines
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.journal_balances_add_lines();

INSERT INTO {schema}.journal_balances
SELECT l.account_id, l.livemode, l.ledger_account, l.currency,
       date_trunc('month', e.occurred_at AT TIME ZONE 'UTC')::date,
       sum(l.debit_cents), sum(l.credit_cents), count(*)
FROM {schema}.journal_lines l JOIN {schema}.journal_entries e ON e.id = l.entry_id
GROUP BY 1, 2, 3, 4, 5;

CREATE OR REPLACE VIEW {schema}.account_balances AS
SELECT account_id, livemode, ledger_account, currency,
       sum(debit_cents - credit_cents)::bigint AS balance_cents
FROM {schema}.journal_balances
GROUP BY account_id, livemode, ledger_account, currency;

-- As of a moment: the months before its month from the summary, its own month from the lines
-- (entries from the month's start up to and including the moment).
CREATE OR REPLACE FUNCTION {schema}.trial_balance(as_of timestamptz)
RETURNS TABLE (account_id text, livemode boolean, ledger_account text, currency text,
               balance_cents bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT x.account_id, x.livemode, x.ledger_account, x.currency, sum(x.cents)::bigint
    FROM (
        SELECT b.account_id, b.livemode, b.ledger_account, b.currency,
               b.debit_cents - b.credit_cents AS cents
        FROM {schema}.journal_balances b
        WHERE b.month < date_trunc('month', as_of AT TIME ZONE 'UTC')::date
        UNION ALL
        SELECT l.account_id, l.livemode, l.ledger_account, l.currency,
               l.debit_cents - l.credit_cents
        FROM {schema}.journal_entries e
        JOIN {schema}.journal_lines l ON l.entry_id = e.id
        WHERE e.occurred_at >= (date_trunc('month', as_of AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')
            AND e.occurred_at <= as_of
    ) x
    GROUP BY x.account_id, x.livemode, x.ledger_account, x.currency;
END;

-- Trials: each subscription's first `trialing` snapshot and latest `active` one (MRR
-- snapshots are only ever inserted, so these only move outward), and whether it is still
-- trialing now (its `subscriptions` row); then the counts per month the trials started,
-- which follow that table through its own triggers (each row's contribution out, the new in).
CREATE TABLE {schema}.trial_subscriptions (
    subscription_id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    started bigint,
    last_active bigint,
    still_trialing boolean NOT NULL
);

CREATE TABLE {schema}.trial_conversion_counts (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    trial_month date NOT NULL,
    trials bigint NOT NULL,
    converted bigint NOT NULL,
    still_trialing bigint NOT NULL,
    PRIMARY KEY (account_id, livemode, trial_month)
);

CREATE FUNCTION {schema}.trial_subscriptions_add_points() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'INSERT INTO %1$I.trial_subscriptions AS t (subscription_id, account_id, livemode, '
        'started, last_active, still_trialing) '
        'SELECT p.subscription_id, min(p.account_id), bool_or(p.livemode), '
        'min(p.created) FILTER (WHERE p.status = ''trialing''), '
        'max(p.created) FILTER (WHERE p.status = ''active''), '
        'coalesce((SELECT s.status = ''trialing'' FROM %1$I.subscriptions s '
        'WHERE s.id = p.subscription_id), false) '
        'FROM new_points p WHERE p.status IN (''trialing'', ''active'') '
        'GROUP BY p.subscription_id ORDER BY p.subscription_id '
        'ON CONFLICT (subscription_id) DO UPDATE SET '
        'started = least(t.started, excluded.started), '
        'last_active = greatest(t.last_active, excluded.last_active) '
        'WHERE least(t.started, excluded.started) IS DISTINCT FROM t.started '
        'OR greatest(t.last_active, excluded.last_active) IS DISTINCT FROM t.last_active',
        TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
CREATE TRIGGER mrr_points_trials AFTER INSERT ON {schema}.mrr_points
    REFERENCING NEW TABLE AS new_points
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trial_subscriptions_add_points();

CREATE FUNCTION {schema}.trial_subscriptions_follow_status() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format(
        'UPDATE %1$I.trial_subscriptions t SET still_trialing = n.trialing '
        'FROM (SELECT id, coalesce(bool_or(status = ''trialing''), false) AS trialing '
        'FROM new_subscriptions GROUP BY id) n '
        'WHERE t.subscription_id = n.id AND t.still_trialing <> n.trialing',
        TG_TABLE_SCHEMA);
    RETURN NULL;
END
$$;
-- Transition tables allow one event per trigger: INSERT ... ON CONFLICT DO UPDATE fires both.
CREATE TRIGGER subscriptions_trials_inserted AFTER INSERT ON {schema}.subscriptions
    REFERENCING NEW TABLE AS new_subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trial_subscriptions_follow_status();
CREATE TRIGGER subscriptions_trials_updated AFTER UPDATE ON {schema}.subscriptions
    REFERENCING NEW TABLE AS new_subscriptions
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trial_subscriptions_follow_status();

-- A trial row's contribution to its month: one trial, converted when it was active at or
-- after its start (as 0011's view), still trialing as its subscription is.
CREATE FUNCTION {schema}.trial_conversion_counts_follow() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    contributions text := 'SELECT account_id, livemode, '
        'date_trunc(''month'', to_timestamp(started) AT TIME ZONE ''UTC'')::date AS trial_month, '
        '%2$s AS trials, %2$s * coalesce(last_active >= started, false)::int AS converted, '
        '%2$s * still_trialing::int AS still_trialing FROM %1$s WHERE started IS NOT NULL';
    changes text := format(contributions, 'new_trials', '1');
BEGIN
    IF TG_OP = 'UPDATE' THEN
        changes := changes || ' UNION ALL ' || format(contributions, 'old_trials', '-1');
    END IF;
    EXECUTE format(
        'INSERT INTO %1$I.trial_conversion_counts AS c (account_id, livemode, trial_month, '
        'trials, converted, still_trialing) '
        'SELECT account_id, livemode, trial_month, sum(trials), sum(converted), '
        'sum(still_trialing) FROM (%2$s) d GROUP BY 1, 2, 3 ORDER BY 1, 2, 3 '
        'ON CONFLICT (account_id, livemode, trial_month) DO UPDATE SET '
        'trials = c.trials + excluded.trials, converted = c.converted + excluded.converted, '
        'still_trialing = c.still_trialing + excluded.still_trialing',
        TG_TABLE_SCHEMA, changes);
    IF TG_OP = 'UPDATE' THEN
        -- A month whose only trials moved to an earlier start is no trial month any more.
        EXECUTE format('DELETE FROM %I.trial_conversion_counts WHERE trials = 0',
            TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER trial_subscriptions_inserted AFTER INSERT ON {schema}.trial_subscriptions
    REFERENCING NEW TABLE AS new_trials
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trial_conversion_counts_follow();
CREATE TRIGGER trial_subscriptions_updated AFTER UPDATE ON {schema}.trial_subscriptions
    REFERENCING OLD TABLE AS old_trials NEW TABLE AS new_trials
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.trial_conversion_counts_follow();

-- The rows already projected (the triggers above fill the counts from these).
INSERT INTO {schema}.trial_subscriptions
SELECT p.subscription_id, min(p.account_id), bool_or(p.livemode),
       min(p.created) FILTER (WHERE p.status = 'trialing'),
       max(p.created) FILTER (WHERE p.status = 'active'),
       coalesce(bool_or(s.status = 'trialing'), false)
FROM {schema}.mrr_points p LEFT JOIN {schema}.subscriptions s ON s.id = p.subscription_id
WHERE p.status IN ('trialing', 'active')
GROUP BY p.subscription_id;

CREATE OR REPLACE VIEW {schema}.trial_conversion_monthly AS
SELECT account_id, livemode, trial_month, trials, converted, still_trialing,
       round(converted::numeric / trials, 6) AS conversion_rate
FROM {schema}.trial_conversion_counts;

-- MRR's movements summed per account, mode, currency and month, kept beside the movements by
-- statement-level triggers with transition tables (as 0014's summaries), so that the monthly
-- totals each batch recomputes read months × currencies rows instead of grouping every
-- movement of the account: before this, a batch's cost grew with the whole history.
--
-- `customers` is the change in paying customers (new and reactivated ones less churned ones),
-- `movements` how many movements the row sums; a row whose movements are all gone is deleted,
-- so the table equals the GROUP BY over the movements that it replaces.
CREATE TABLE {schema}.mrr_movement_totals (
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    currency text NOT NULL,
    month date NOT NULL,
    amount_cents bigint NOT NULL,
    customers bigint NOT NULL,
    movements bigint NOT NULL,
    PRIMARY KEY (account_id, livemode, currency, month)
);

CREATE FUNCTION {schema}.mrr_movement_totals_follow() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    contributions text := 'SELECT account_id, livemode, currency, month, '
        '%2$s * amount_cents AS amount_cents, %2$s * CASE WHEN kind IN (''new'', '
        '''reactivation'') THEN 1 WHEN kind = ''churn'' THEN -1 ELSE 0 END AS customers, '
        '%2$s AS movements FROM %1$s';
    changes text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        changes := format(contributions, 'new_movements', '1');
    ELSIF TG_OP = 'DELETE' THEN
        changes := format(contributions, 'old_movements', '-1');
    ELSE
        changes := format(contributions, 'new_movements', '1') || ' UNION ALL '
            || format(contributions, 'old_movements', '-1');
    END IF;
    EXECUTE format(
        'INSERT INTO %1$I.mrr_movement_totals AS t (account_id, livemode, currency, month, '
        'amount_cents, customers, movements) '
        'SELECT account_id, livemode, currency, month, sum(amount_cents), sum(customers), '
        'sum(movements) FROM (%2$s) c GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 '
        'ON CONFLICT (account_id, livemode, currency, month) DO UPDATE SET '
        'amount_cents = t.amount_cents + excluded.amount_cents, '
        'customers = t.customers + excluded.customers, '
        'movements = t.movements + excluded.movements',
        TG_TABLE_SCHEMA, changes);
    IF TG_OP <> 'INSERT' THEN
        EXECUTE format('DELETE FROM %I.mrr_movement_totals WHERE movements = 0',
            TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END
$$;
-- Transition tables allow one event per trigger.
CREATE TRIGGER mrr_movements_inserted AFTER INSERT ON {schema}.mrr_movements
    REFERENCING NEW TABLE AS new_movements
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.mrr_movement_totals_follow();
CREATE TRIGGER mrr_movements_deleted AFTER DELETE ON {schema}.mrr_movements
    REFERENCING OLD TABLE AS old_movements
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.mrr_movement_totals_follow();
CREATE TRIGGER mrr_movements_updated AFTER UPDATE ON {schema}.mrr_movements
    REFERENCING OLD TABLE AS old_movements NEW TABLE AS new_movements
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.mrr_movement_totals_follow();

-- The movements already projected.
INSERT INTO {schema}.mrr_movement_totals
SELECT account_id, livemode, currency, month, sum(amount_cents),
       sum(CASE WHEN kind IN ('new', 'reactivation') THEN 1 WHEN kind = 'churn' THEN -1
                ELSE 0 END),
       count(*)
FROM {schema}.mrr_movements
GROUP BY 1, 2, 3, 4;

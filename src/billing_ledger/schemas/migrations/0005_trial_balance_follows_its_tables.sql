-- `trial_balance` named its tables in a body kept as text, so after `replay --swap` moved the
-- journal into `billing` it still read the rebuild's schema. A SQL-standard body is parsed
-- once and refers to the tables themselves: it follows them wherever they are moved.
CREATE OR REPLACE FUNCTION {schema}.trial_balance(as_of timestamptz)
RETURNS TABLE (account_id text, livemode boolean, ledger_account text, currency text,
               balance_cents bigint)
LANGUAGE sql STABLE
BEGIN ATOMIC
    SELECT l.account_id, l.livemode, l.ledger_account, l.currency,
           sum(l.debit_cents - l.credit_cents)::bigint
    FROM {schema}.journal_lines l
    JOIN {schema}.journal_entries e ON e.id = l.entry_id
    WHERE e.occurred_at <= as_of
    GROUP BY l.account_id, l.livemode, l.ledger_account, l.currency;
END;

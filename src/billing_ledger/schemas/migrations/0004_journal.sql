-- The double-entry journal (ledger/ holds the rules, projections/journal.py writes the rows).
-- Entries are keyed by (account, livemode, source object, transition): posting is exactly once.
-- Entries and lines are immutable (a trigger refuses UPDATE and DELETE); a correction is a
-- reversing entry naming what it reverses in `reversal_of`, which no entry can be twice.
-- Every entry balances per currency: a deferred constraint trigger checks it at commit.

CREATE TABLE {schema}.journal_entries (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    occurred_at timestamptz NOT NULL,
    kind text NOT NULL,
    description text NOT NULL,
    source_object text NOT NULL,
    transition text NOT NULL,
    stripe_event_id text NOT NULL,
    reversal_of uuid UNIQUE,
    UNIQUE (account_id, livemode, source_object, transition)
);
CREATE INDEX journal_entries_occurred_at ON {schema}.journal_entries (occurred_at);

CREATE TABLE {schema}.journal_lines (
    id uuid PRIMARY KEY,
    account_id text NOT NULL,
    livemode boolean NOT NULL,
    entry_id uuid NOT NULL,
    ledger_account text NOT NULL,
    customer_id text,
    debit_cents bigint NOT NULL CHECK (debit_cents >= 0),
    credit_cents bigint NOT NULL CHECK (credit_cents >= 0),
    currency text NOT NULL,
    CHECK ((debit_cents = 0) <> (credit_cents = 0))
);
CREATE INDEX journal_lines_entry_id ON {schema}.journal_lines (entry_id);
CREATE INDEX journal_lines_customer_id ON {schema}.journal_lines (customer_id);
CREATE INDEX journal_lines_account_currency ON {schema}.journal_lines (ledger_account, currency);

-- Which domain event posted each entry (its aggregate and version). Rules read an object's
-- entries as they stood before the event being projected, so replaying any event re-derives
-- exactly what it posted the first time, which the unique key then refuses.
CREATE TABLE {schema}.journal_entry_origins (
    entry_id uuid PRIMARY KEY,
    originator_id uuid NOT NULL,
    originator_version integer NOT NULL
);

CREATE FUNCTION {schema}.journal_is_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journal rows are immutable: post a reversing entry instead'
        USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON {schema}.journal_entries
    FOR EACH ROW EXECUTE FUNCTION {schema}.journal_is_immutable();
CREATE TRIGGER journal_lines_immutable BEFORE UPDATE OR DELETE ON {schema}.journal_lines
    FOR EACH ROW EXECUTE FUNCTION {schema}.journal_is_immutable();
CREATE TRIGGER journal_entry_origins_immutable
    BEFORE UPDATE OR DELETE ON {schema}.journal_entry_origins
    FOR EACH ROW EXECUTE FUNCTION {schema}.journal_is_immutable();

CREATE FUNCTION {schema}.journal_entry_balances() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    off record;
BEGIN
    EXECUTE format(
        'SELECT currency, sum(debit_cents - credit_cents) AS difference FROM %I.journal_lines '
        'WHERE entry_id = $1 GROUP BY currency HAVING sum(debit_cents - credit_cents) <> 0 '
        'LIMIT 1', TG_TABLE_SCHEMA)
        INTO off USING NEW.entry_id;
    IF off IS NOT NULL THEN
        RAISE EXCEPTION 'journal entry % does not balance in %: debits - credits = %',
            NEW.entry_id, off.currency, off.difference USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER journal_lines_balance AFTER INSERT ON {schema}.journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION {schema}.journal_entry_balances();

-- Balances are debits minus credits, per account (Connect account and mode), ledger account
-- and currency. `trial_balance(as_of)` is the same as of a moment (entries up to and including
-- it); its rows sum to zero per account, mode and currency.
CREATE VIEW {schema}.account_balances AS
SELECT account_id, livemode, ledger_account, currency,
       sum(debit_cents - credit_cents)::bigint AS balance_cents
FROM {schema}.journal_lines
GROUP BY account_id, livemode, ledger_account, currency;

CREATE FUNCTION {schema}.trial_balance(as_of timestamptz)
RETURNS TABLE (account_id text, livemode boolean, ledger_account text, currency text,
               balance_cents bigint)
LANGUAGE sql STABLE AS $$
    SELECT l.account_id, l.livemode, l.ledger_account, l.currency,
           sum(l.debit_cents - l.credit_cents)::bigint
    FROM {schema}.journal_lines l
    JOIN {schema}.journal_entries e ON e.id = l.entry_id
    WHERE e.occurred_at <= as_of
    GROUP BY l.account_id, l.livemode, l.ledger_account, l.currency
$$;

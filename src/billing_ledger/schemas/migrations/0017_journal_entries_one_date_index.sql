-- `journal_entries_occurred_at_id` (occurred_at, id), the read API's order (0010), serves every
-- query that `journal_entries_occurred_at` (occurred_at) served: a search by date uses its
-- leading column. Keeping both made every entry posted update two indexes for one purpose.
DROP INDEX {schema}.journal_entries_occurred_at;

-- Which subscription snapshot of one second follows which: the digest of the state each says it
-- changed from (NULL for snapshots projected before it was known, or reporting no change).

ALTER TABLE {schema}.mrr_points ADD COLUMN previous_state_digest text;

-- The read API pages every list by a unique order, oldest first (web/finance_listings.py):
-- an index on each order lets a page start at its cursor and stop after `limit` rows, however
-- deep into a large table it is. Refunds first seen without `created_at` sort at the epoch.

CREATE INDEX stripe_customers_created_at_id ON {schema}.stripe_customers (created_at, id);
CREATE INDEX subscriptions_created_at_id ON {schema}.subscriptions (created_at, id);
CREATE INDEX invoices_created_at_id ON {schema}.invoices (created_at, id);
CREATE INDEX payment_transactions_created_at_id ON {schema}.payment_transactions (created_at, id);
CREATE INDEX refunds_created_at_id
    ON {schema}.refunds ((coalesce(created_at, 'epoch'::timestamptz)), id);
CREATE INDEX disputes_created_at_id ON {schema}.disputes (created_at, id);
CREATE INDEX journal_entries_occurred_at_id ON {schema}.journal_entries (occurred_at, id);

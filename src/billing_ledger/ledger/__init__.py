"""Double-entry bookkeeping of Stripe billing: the chart of accounts and the posting rules.

Rules are pure functions from an object's current state (as a domain event carries it) and the
entries already posted for it to the entries still missing. Each rule says what the journal
*should* hold for the object's state and posts only the difference, so skipped intermediate
states still post, replays post nothing, and final balances depend on the final state alone.
Their projector lives with the others (projections/journal.py).
"""

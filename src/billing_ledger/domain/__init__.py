"""The billing domain: aggregates on `eventsourcing`, the mapping of Stripe events onto them,
and the ordering and duplicate rules. Pure: no I/O, no clock — time arrives with each event."""

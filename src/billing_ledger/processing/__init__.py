"""The processor: the log of record → aggregates, in the eventsourcing application's store."""

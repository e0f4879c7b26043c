"""The ground everything stands on: the database server and its roles, the audit log, logs and
metrics. Imports nothing of the billing model."""

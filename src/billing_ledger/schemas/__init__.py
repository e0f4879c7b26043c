"""Pydantic models of the Stripe payloads we read, and the SQL migrations of the read schema.

Models describe only the fields we use and ignore the rest (`extra="ignore"`), so Stripe adding
fields never breaks us. Both API shapes are read: before 2025-03-31 billing periods sat on the
subscription; since then they sit on each subscription item.
"""

"""The HTTP edge: Stripe webhook verification, limits, durable append, health and metrics."""

"""Acting through Stripe: the client, the command record, the customer and payment services,
and a stateful stand-in of Stripe for development and tests (`fake/`).

A command calls Stripe and never writes a projection: the state it causes reaches the
`billing` tables only through Stripe's signed webhooks, so there is one source of truth and a
replay still rebuilds everything.
"""

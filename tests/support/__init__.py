"""What the tests share; no test lives here.

- `stripe`: builders of Stripe objects and events, in the basil or the pre-basil API shape.
- `webhooks`: the suite's webhook secret, signing and delivery over HTTP as Stripe does.
- `domain_memory`, `books`: the domain and the journal in memory, through the real rules.
- `ledger_histories`: generated billing histories for the journal's property tests.
- `hard_histories` (with `hard_billing`): seeded histories of three scopes, hard cases and
  Stripe-like deliveries, for the pipeline's hardest test.
- `http_server`: an ASGI app served over real HTTP in a background thread.
"""

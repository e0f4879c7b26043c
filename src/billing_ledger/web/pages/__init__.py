"""The pages a paying customer sees: `/pay/…` (the secure payment form, also the
`confirmation_url` the API answers for `requires_action`) and `/portal/payment-methods`.

Server-rendered HTML with a little vanilla JavaScript and Stripe.js (`STRIPE_JS_URL`): card
data goes from the Payment Element straight to Stripe, never through this server. A customer
reaches a page only through a signed, expiring link (`links.py`), which becomes a session
cookie; every form post carries that session's CSRF token. What the pages change goes through
the customer service's commands (`stripe_api/`), and what it causes reaches the tables through
Stripe's webhooks, like any other command.
"""

"""`billing-ledger fake-stripe`: the stateful Stripe stand-in as a development server.

Point the ledger at it with `STRIPE_API_BASE=http://127.0.0.1:12113` and any `sk_test_…`
key; it delivers signed webhooks to `--webhook-url`, signed with the first of
STRIPE_WEBHOOK_SECRETS (the secret the ledger verifies with).
"""

from __future__ import annotations

import argparse

from billing_ledger.ingest.server import listening_socket, serve
from billing_ledger.settings import Settings
from billing_ledger.stripe_api.fake import fake_stripe as stand_in


def fake_stripe(settings: Settings, args: argparse.Namespace) -> int:
    secret = settings.webhook_secrets()[0]
    public = f"http://{args.host}:{args.port}"
    served = settings.model_copy(
        update={"HOST": args.host, "PORT": args.port, "TLS_CERTFILE": None, "TLS_KEYFILE": None}
    )
    with stand_in(public, args.webhook_url, secret, settle_seconds=args.settle_seconds) as fake:

        def announce() -> None:
            print(f"fake-stripe listening on {public} (STRIPE_API_BASE={public})", flush=True)
            print(f"  webhooks:  {args.webhook_url}", flush=True)
            print("  keys:      any sk_test_… key; test mode only", flush=True)
            print("  Ctrl-C to stop", flush=True)

        with listening_socket(served) as sock:
            serve(fake.app, served, [sock], announce)
    print("fake-stripe stopped cleanly", flush=True)
    return 0

"""`billing-ledger tokens create|list|revoke`: the API's bearer tokens.

`create` prints the token once, on stdout (only its SHA-256 is stored); every change is
recorded in the audit log. Names are kept after revocation, so a name always means one token.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC

from billing_ledger import bootstrap
from billing_ledger.infra import audit
from billing_ledger.settings import Settings
from billing_ledger.web.tokens import TokenStore, parse_scopes


def tokens(settings: Settings, args: argparse.Namespace) -> int:
    with bootstrap.database(settings) as dsn, bootstrap.api_pool(dsn) as pool:
        store = TokenStore(pool)
        store.create_table()
        if args.tokens_command == "create":
            scopes = parse_scopes(args.scope)
            token = store.create(args.name, scopes)
            with pool.connection() as conn:
                audit.record(
                    conn, "tokens.create", "ok", {"name": args.name, "scopes": sorted(scopes)}
                )
            print(token)
            print(
                f"token {args.name!r} ({', '.join(sorted(scopes))}) created: it is shown only "
                "now; send it as `Authorization: Bearer <token>`",
                file=sys.stderr,
            )
            return 0
        if args.tokens_command == "revoke":
            store.revoke(args.name)
            with pool.connection() as conn:
                audit.record(conn, "tokens.revoke", "ok", {"name": args.name})
            print(f"token {args.name!r} revoked")
            return 0
        return _list(store)


def _list(store: TokenStore) -> int:
    listed = store.all()
    if not listed:
        print("no tokens: create one with `billing-ledger tokens create --name NAME --scope …`")
        return 0
    print(f"{'name':<24}  {'scopes':<40}  {'created (UTC)':<25}  revoked (UTC)")
    for token in listed:
        created = (
            token.created_at.astimezone(UTC).isoformat(timespec="seconds")
            if token.created_at
            else "-"
        )
        revoked = (
            token.revoked_at.astimezone(UTC).isoformat(timespec="seconds")
            if token.revoked_at
            else "-"
        )
        print(f"{token.name:<24}  {','.join(sorted(token.scopes)):<40}  {created:<25}  {revoked}")
    return 0

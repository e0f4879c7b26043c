"""Which servers `up`'s workers may renice the sessions of: only one on this machine."""

from __future__ import annotations

import pytest

from billing_ledger.infra.session_priority import is_local


@pytest.mark.parametrize(
    ("dsn", "local"),
    [
        ("host=/tmp/billing-ledger/pgdata dbname=billing", True),
        ("postgresql://app@/billing?host=/var/run/postgresql", True),
        ("dbname=billing", True),  # libpq's default: the local socket
        ("host=127.0.0.1 dbname=billing", False),
        ("postgresql://app:secret@db.example.com:5432/billing", False),
        ("host=/tmp/a,db.example.com dbname=billing", False),
    ],
)
def test_only_a_server_reached_over_a_unix_socket_is_local(
    dsn: str, local: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PGHOST", raising=False)
    assert is_local(dsn) is local

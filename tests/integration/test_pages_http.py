"""The customer pages served over HTTP without a browser: what they answer when there is
nothing they could do."""

from __future__ import annotations

import httpx
from psycopg_pool import ConnectionPool

from billing_ledger import bootstrap
from billing_ledger.settings import Settings
from tests.support.http_server import serving


def test_without_a_stripe_key_the_pages_need_no_link_secret_and_say_so() -> None:
    settings = Settings(DATABASE_URL="postgresql://nowhere/none")
    pool = ConnectionPool("postgresql://nowhere/none", open=False)
    with serving(bootstrap.web_pages(settings, pool)) as url:
        answer = httpx.get(f"{url}/pay/pi_1")
    assert answer.status_code == 401 and "Open this page from your link" in answer.text
    assert "default-src 'self'" in answer.headers["content-security-policy"]

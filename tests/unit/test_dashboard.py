"""The finance dashboard's rules without a server: its links and sessions never pass for a
customer's (nor a customer's for its), a pinned session shows its own account and mode only,
the read API takes its cookie for GETs of that account only, the charts' data are the metrics'
rows, and the vendored Chart.js is the file its notice names."""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path

import pytest
from starlette.requests import Request

from billing_ledger import bootstrap
from billing_ledger.cli import main
from billing_ledger.settings import Settings
from billing_ledger.web.api import dashboard_read
from billing_ledger.web.dashboard import access
from billing_ledger.web.dashboard.app import dashboard_policy
from billing_ledger.web.dashboard.figures import Figures
from billing_ledger.web.dashboard.page import chart_data, context, money
from billing_ledger.web.pages.links import PORTAL, Link, LinkRefused, LinkSigner
from billing_ledger.web.pages.sessions import COOKIE, PageRefused, Sessions

SIGNER = LinkSigner(b"d" * 32)
NOW = 1_800_000_000.0
VENDOR = Path(access.__file__).parent / "static" / "vendor"


def clock() -> float:
    return NOW


DASHBOARD = Sessions(SIGNER, "http://x", clock, cookie=access.COOKIE, accepts=access.is_dashboard)
PORTAL_SESSIONS = Sessions(SIGNER, "http://x", clock)


def request(cookies: dict[str, str], query: str = "") -> Request:
    header = "; ".join(f"{k}={v}" for k, v in cookies.items()).encode()
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/x",
            "query_string": query.encode(),
            "headers": [(b"cookie", header)] if cookies else [],
        }
    )


def session_of(link: Link) -> str:
    return SIGNER.session(link, NOW)[1]


def test_a_dashboard_link_opens_a_pinned_session_and_a_portal_link_does_not() -> None:
    token = access.dashboard_link(SIGNER, "acct_1", True, int(NOW) + 60)
    opened = DASHBOARD.open(request({}), token)
    cookie = opened.headers["set-cookie"]
    assert cookie.startswith(f"{access.COOKIE}=") and "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    portal = SIGNER.sign(Link("cus_A", "", False, int(NOW) + 60, PORTAL))
    for other in (portal, SIGNER.sign(access.login_form(NOW))):
        with pytest.raises(LinkRefused, match="invalid"):
            DASHBOARD.open(request({}), other)


def test_a_customer_page_refuses_a_dashboard_link_and_session() -> None:
    token = access.dashboard_link(SIGNER, "", False, int(NOW) + 60)
    with pytest.raises(LinkRefused, match="invalid"):
        PORTAL_SESSIONS.open(request({}), token)
    dashboard_cookie = session_of(Link("", "", False, int(NOW) + 60, access.ALL))
    with pytest.raises(PageRefused, match="invalid"):
        PORTAL_SESSIONS.session(request({COOKIE: dashboard_cookie}))


def test_the_dashboard_refuses_a_customer_session_and_a_bare_link_in_its_cookie() -> None:
    portal_cookie = session_of(Link("cus_A", "", False, int(NOW) + 60, PORTAL))
    bare = access.dashboard_link(SIGNER, "", False, int(NOW) + 60)  # a link, not a session
    for cookie in (portal_cookie, bare):
        with pytest.raises(PageRefused, match="invalid"):
            DASHBOARD.session(request({access.COOKIE: cookie}))
    # A customer's cookie name is not read at all, whatever it holds.
    good = session_of(Link("", "", False, int(NOW) + 60, access.ALL))
    with pytest.raises(PageRefused, match="no_session"):
        DASHBOARD.session(request({COOKIE: good}))


def test_an_expired_or_tampered_dashboard_link_is_refused_as_such() -> None:
    expired = access.dashboard_link(SIGNER, "", False, int(NOW) - 1)
    with pytest.raises(LinkRefused, match="expired"):
        DASHBOARD.open(request({}), expired)
    token = access.dashboard_link(SIGNER, "acct_1", False, int(NOW) + 60)
    body, _, mac = token.partition(".")
    forged = access.dashboard_link(SIGNER, "acct_2", False, int(NOW) + 60).partition(".")[0]
    for bad in (f"{forged}.{mac}", f"{body}.{mac[:-2]}xx", body, "garbage"):
        with pytest.raises(LinkRefused, match="invalid"):
            DASHBOARD.open(request({}), bad)


def test_a_pinned_session_shows_its_account_and_mode_only() -> None:
    pinned = Link("", "acct_1", True, int(NOW) + 60, access.PINNED, "n")
    assert access.view_of(pinned, None, None) == access.View("acct_1", True)
    assert access.view_of(pinned, "acct_1", True) == access.View("acct_1", True)
    assert access.view_of(pinned, "", None) is None
    assert access.view_of(pinned, None, False) is None
    chooser = Link("", "", False, int(NOW) + 60, access.ALL, "n")
    assert access.view_of(chooser, "acct_2", True) == access.View("acct_2", True)
    assert access.view_of(chooser, None, None) == access.View("", False)


def test_a_token_session_lasts_as_a_customer_session_and_a_login_form_briefly() -> None:
    opened, _ = SIGNER.session(access.token_session(NOW), NOW)
    assert opened.scope == access.ALL and opened.expires == int(NOW) + 2 * 3600
    form = access.login_form(NOW)
    assert access.is_login_form(form) and not access.is_dashboard(form)
    assert form.expires == int(NOW) + access.LOGIN_SECONDS


def test_the_read_api_takes_a_pinned_cookie_for_its_own_account_only() -> None:
    cookie = {access.COOKIE: session_of(Link("", "acct_1", False, int(NOW) + 60, access.PINNED))}
    assert dashboard_read(DASHBOARD, request(cookie, "account=acct_1&livemode=false")) is None
    for query in (
        "",
        "account=acct_2&livemode=false",
        "account=acct_1&livemode=true",
        "account=acct_1",
        "account=acct_1&account=acct_2&livemode=false",
    ):
        refused = dashboard_read(DASHBOARD, request(cookie, query))
        assert refused is not None and refused.status_code == 403, query
    chooser = {access.COOKIE: session_of(Link("", "", False, int(NOW) + 60, access.ALL))}
    assert dashboard_read(DASHBOARD, request(chooser, "account=acct_9")) is None
    expired = {access.COOKIE: session_of(Link("", "", False, int(NOW) - 1, access.ALL))}
    refused = dashboard_read(DASHBOARD, request(expired))
    assert refused is not None and refused.status_code == 401


def test_the_csp_allows_this_origin_only_and_no_inline_or_eval() -> None:
    policy = dashboard_policy("'none'")
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    assert "unsafe" not in policy and "http" not in policy


def figures() -> Figures:
    month = {
        "month": "2026-02-01",
        "start_mrr_cents": 1000,
        "mrr_cents": 1700,
        "customers": 3,
        "new_cents": 900,
        "expansion_cents": 100,
        "reactivation_cents": 0,
        "contraction_cents": -50,
        "churn_cents": -250,
        "customer_churn_rate": 0.5,
        "gross_mrr_churn_rate": 0.3,
        "net_revenue_retention": 0.8,
        "gross_revenue_retention": 0.7,
    }
    found = Figures(access.View("acct_1", True), "eur", ["eur", "usd"], [("acct_1", True)])
    found.sections = {
        "mrr": [
            {
                "mrr_cents": 1700,
                "arr_cents": 20400,
                "paying_customers": 3,
                "arpa_cents": 567,
                "as_of": "2026-02-03T00:00:00+00:00",
                "mrr_definition": "stripe",
            }
        ],
        "churn": [month],
        "trials": [
            {
                "trial_month": "2026-01-01",
                "trials": 2,
                "converted": 1,
                "still_trialing": 0,
                "conversion_rate": 0.5,
            }
        ],
        "payment_conversion": [],
        "dunning": [],
        "payment_success": [],
    }
    return found


def test_the_charts_data_are_the_metrics_rows_with_a_link_per_point() -> None:
    data = chart_data(figures())
    assert data["months"] == ["2026-02"] and data["mrr"] == [1700] and data["arr"] == [20400]
    assert data["movements"] == {
        "new": [900],
        "expansion": [100],
        "reactivation": [0],
        "contraction": [-50],
        "churn": [-250],
    }
    assert data["start_mrr"][0] + sum(v[0] for v in data["movements"].values()) == 1700
    assert data["links"]["movements"] == [
        "/api/v1/mrr/movements?account=acct_1&livemode=true&currency=eur&from=2026-02&to=2026-02"
    ]
    assert data["trials"]["links"] == [
        "/api/v1/subscriptions?account=acct_1&livemode=true&since=2026-01-01&until=2026-02-01"
    ]
    shown = context(figures())
    assert [t["value"] for t in shown["tiles"]] == ["€17.00", "€204.00", "3", "€5.67"]
    assert money(-250, "eur") == "−€2.50" and money(500, "jpy") == "¥500"


def test_the_vendored_chart_js_is_the_file_its_notice_names() -> None:
    notice = (VENDOR / "README.md").read_text()
    wanted = re.search(r"`chart\.umd\.min\.js` \|.*\| (\d+\.\d+\.\d+) \| `([0-9a-f]{64})`", notice)
    assert wanted is not None
    body = (VENDOR / "chart.umd.min.js").read_bytes()
    assert hashlib.sha256(body).hexdigest() == wanted.group(2)
    assert f"Chart.js v{wanted.group(1)}".encode() in body[:200]
    assert (VENDOR / "LICENSE.md").read_text().startswith("The MIT License")


def test_dashboard_link_prints_a_pinned_link_that_expires(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BILLING_LEDGER_LINK_SECRET", raising=False)
    monkeypatch.setenv("BILLING_LEDGER_HOME", str(tmp_path))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://books.example")
    argv = ["dashboard-link", "--expires", "30m", "--account", "acct_1", "--livemode"]
    assert main(argv) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://books.example/dashboard?link=")
    signer = bootstrap.link_signer(Settings.from_env())
    link = signer.verify(url.partition("?link=")[2], time.time())
    assert (link.customer, link.account, link.livemode, link.scope) == (
        "",
        "acct_1",
        True,
        access.PINNED,
    )
    assert time.time() + 1700 < link.expires <= time.time() + 1800
    assert main(["dashboard-link", "--account", "cus_1"]) == 2
    assert main(["dashboard-link", "--expires", "90d"]) == 2


def test_a_login_form_post_needs_its_own_cookie_and_csrf_token() -> None:
    forms = Sessions(
        SIGNER, "http://x", clock, cookie=access.LOGIN_COOKIE, accepts=access.is_login_form
    )
    form, cookie = SIGNER.session(access.login_form(NOW), NOW)
    csrf = SIGNER.csrf_token(form)

    def post(cookies: dict[str, str], given: str, origin: str = "http://x") -> str:
        asked = request(cookies)
        asked.scope["method"] = "POST"
        asked.scope["headers"].append((b"origin", origin.encode()))
        try:
            forms.checked_post(asked, {"csrf": given})
        except PageRefused as e:
            return e.kind
        return "ok"

    assert post({access.LOGIN_COOKIE: cookie}, csrf) == "ok"
    assert post({access.LOGIN_COOKIE: cookie}, "wrong") == "csrf"
    assert post({access.LOGIN_COOKIE: cookie}, csrf, "http://evil.example") == "csrf"
    assert post({}, csrf) == "no_session"
    chooser = session_of(Link("", "", False, int(NOW) + 60, access.ALL))
    assert post({access.LOGIN_COOKIE: chooser}, csrf) == "invalid"

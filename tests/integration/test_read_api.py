"""The read API over real HTTP, on a hard billing history (three scopes) processed into a real
database as the application's role: each list gives the same answers as the README's SQL
beside it, a walk of any page size sees every row exactly once while rows are inserted, filters
select what they say, bad ones are 400 with the parameter named, every answer matches the
served OpenAPI document, and reads run as billing_reader."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import httpx
import jsonschema
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openapi_spec_validator import validate
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from billing_ledger import bootstrap
from billing_ledger.domain.identity import stripe_uuid
from billing_ledger.projections import erasure
from billing_ledger.schemas.personal import REDACTED
from billing_ledger.settings import Settings
from billing_ledger.web.finance_listings import CUSTOMERS, LISTINGS, Listing
from billing_ledger.web.finance_models import Customer
from billing_ledger.web.finance_reads import FinanceReads, ReadsUnavailable, parse_query
from billing_ledger.web.listing import Key
from billing_ledger.web.tokens import TokenStore
from tests.conftest import fresh_database
from tests.pipeline import Pipeline
from tests.support.hard_histories import SCOPES, Shape, hard_history
from tests.support.http_server import serving
from tests.support.webhooks import body_of

CONNECT = "acct_1HardConnect"


@dataclass
class Books:
    url: str
    dsn: str
    token: str
    writer: str

    def get(self, path: str, token: str | None = None, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return httpx.get(f"{self.url}/api/v1{path}", params=params, headers=headers, timeout=30)

    def walk(self, path: str, **params: str) -> list[dict[str, Any]]:
        """Every row of a list, page by page."""
        rows: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            page = self.get(path, **params, **({"cursor": cursor} if cursor else {}))
            assert page.status_code == 200, page.text
            answer = page.json()
            rows += answer["data"]
            if not answer["has_more"]:
                assert answer["next_cursor"] is None
                return rows
            cursor = answer["next_cursor"]

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.dsn) as conn:
            return conn.execute(statement, params).fetchall()


@pytest.fixture(scope="module")
def books(postgres_server_url: str) -> Iterator[Books]:
    with fresh_database(postgres_server_url) as url:
        dsn = bootstrap.app_role_dsn(url)
        pipeline = Pipeline(dsn)
        try:
            for document in hard_history(Shape(3, customers=4, months=3)).events:
                pipeline.append(body_of(document))
            pipeline.process_all()
        finally:
            pipeline.close()
        with bootstrap.api_pool(dsn) as pool:
            api = bootstrap.web_api(Settings(), pool)
            tokens = TokenStore(pool)
            reader, writer = (
                tokens.create("finance", ["read"]),
                tokens.create("shop", ["payments:write"]),
            )
            with serving(api) as served:
                yield Books(served, dsn, reader, writer)


def test_the_history_fills_every_list(books: Books) -> None:
    for path in ("/customers", "/subscriptions", "/invoices", "/payments"):
        rows = books.walk(path)
        assert {(r["account_id"], r["livemode"]) for r in rows} == set(SCOPES), path
    assert (
        books.walk("/refunds")
        and books.walk("/disputes")
        and books.walk("/mrr")
        and books.walk("/mrr/movements")
    )


@pytest.mark.parametrize(("account", "livemode"), SCOPES)
def test_the_readme_sql_and_the_api_agree(books: Books, account: str, livemode: bool) -> None:
    scope = {"account": account, "livemode": str(livemode).lower()}
    # MRR by month
    mrr = books.sql(
        "SELECT month, currency, mrr_cents / 100.0 AS mrr, customers FROM billing.mrr_monthly "
        "WHERE account_id = %s AND livemode = %s ORDER BY currency, month",
        account,
        livemode,
    )
    api_mrr = sorted(
        (r["month"], r["currency"], Decimal(r["mrr_cents"]) / 100, r["customers"])
        for r in books.walk("/mrr", **scope)
    )
    assert [(m.strftime("%Y-%m"), c, v, n) for m, c, v, n in mrr] == sorted(
        api_mrr, key=lambda r: (r[1], r[0])
    )
    assert mrr
    # Movements by month
    movements = books.sql(
        "SELECT month, currency, kind, count(*) AS customers, sum(amount_cents) / 100.0 AS amount "
        "FROM billing.mrr_movements WHERE account_id = %s AND livemode = %s "
        "GROUP BY month, currency, kind ORDER BY month, currency, kind",
        account,
        livemode,
    )
    grouped: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for row in books.walk("/mrr/movements", **scope, limit="7"):
        totals = grouped[(row["month"], row["currency"], row["kind"])]
        totals[0] += 1
        totals[1] += row["amount_cents"]
    assert [(m.strftime("%Y-%m"), c, k, n, a) for m, c, k, n, a in movements] == [
        (*key, n, Decimal(a) / 100) for key, (n, a) in sorted(grouped.items())
    ]
    # Active subscriptions by plan
    plans = books.sql(
        "SELECT plan_id, count(*) AS subscriptions FROM billing.subscriptions "
        "WHERE account_id = %s AND livemode = %s AND status IN ('active', 'past_due') "
        "GROUP BY plan_id",
        account,
        livemode,
    )
    active = books.walk("/subscriptions", **scope, status="active,past_due")
    assert Counter(r["plan_id"] for r in active) == dict(plans)
    # Failed payments in the history's last month (the README's is this month)
    emails = {r["id"]: r["email"] for r in books.walk("/customers", **scope)}
    payments = books.walk("/payments", **scope)
    last = max(datetime.fromisoformat(r["updated_at"]) for r in payments)
    month = last.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    failed = books.sql(
        "SELECT p.stripe_payment_intent_id, c.email, p.amount / 100.0 AS amount, p.currency, "
        "p.payment_method_type, p.failure_code, p.decline_code, p.failure_message, p.updated_at "
        "FROM billing.payment_transactions p "
        "LEFT JOIN billing.stripe_customers c ON c.id = p.customer_id "
        "WHERE p.account_id = %s AND p.livemode = %s AND p.failure_code IS NOT NULL "
        "AND p.updated_at >= %s ORDER BY p.updated_at DESC, p.stripe_payment_intent_id",
        account,
        livemode,
        month,
    )
    api_failed = sorted(
        (
            (
                r["id"],
                emails.get(r["customer"]),
                Decimal(r["amount"]) / 100,
                r["currency"],
                r["payment_method_type"],
                r["failure_code"],
                r["decline_code"],
                r["failure_message"],
                datetime.fromisoformat(r["updated_at"]),
            )
            for r in payments
            if r["failure_code"] is not None and datetime.fromisoformat(r["updated_at"]) >= month
        ),
        key=lambda r: (-r[8].timestamp(), r[0]),
    )
    assert failed == api_failed
    # Open invoices
    open_invoices = books.sql(
        "SELECT i.stripe_invoice_id, i.number, c.email, i.amount_remaining / 100.0 AS due, "
        "i.currency, i.due_date FROM billing.invoices i "
        "LEFT JOIN billing.stripe_customers c ON c.id = i.customer_id "
        "WHERE i.account_id = %s AND i.livemode = %s AND i.status = 'open'",
        account,
        livemode,
    )
    api_open = [
        (
            r["id"],
            r["number"],
            emails.get(r["customer"]),
            Decimal(r["amount_remaining"]) / 100,
            r["currency"],
            r["due_date"] and datetime.fromisoformat(r["due_date"]),
        )
        for r in books.walk("/invoices", **scope, status="open")
    ]
    assert sorted(open_invoices, key=repr) == sorted(api_open, key=repr)


@pytest.mark.parametrize(("account", "livemode"), SCOPES)
def test_the_journal_sql_and_the_api_agree(books: Books, account: str, livemode: bool) -> None:
    scope = {"account": account, "livemode": str(livemode).lower()}
    balances = books.sql(
        "SELECT * FROM billing.account_balances WHERE account_id = %s AND livemode = %s",
        account,
        livemode,
    )
    api = books.walk("/journal/balances", **scope, limit="3")
    assert sorted(balances) == sorted(
        (r["account_id"], r["livemode"], r["ledger_account"], r["currency"], r["balance_cents"])
        for r in api
    )
    assert balances
    (first, last) = books.sql(
        "SELECT min(occurred_at), max(occurred_at) FROM billing.journal_entries"
    )[0]
    as_of = first + (last - first) / 2
    trial = books.sql(
        "SELECT ledger_account, currency, balance_cents FROM billing.trial_balance(%s) "
        "WHERE account_id = %s AND livemode = %s ORDER BY currency, ledger_account",
        as_of,
        account,
        livemode,
    )
    api_trial = books.walk("/journal/balances", **scope, as_of=as_of.isoformat())
    assert trial == [(r["ledger_account"], r["currency"], r["balance_cents"]) for r in api_trial]
    for currency in {r["currency"] for r in api_trial}:
        assert sum(r["balance_cents"] for r in api_trial if r["currency"] == currency) == 0
    # What a customer owes, and the entries behind it
    customers = [r["id"] for r in books.walk("/customers", **scope)]
    for customer in customers:
        owed = books.sql(
            "SELECT currency, sum(debit_cents - credit_cents) AS receivable_cents "
            "FROM billing.journal_lines WHERE ledger_account = 'accounts_receivable' "
            "AND customer_id = %s AND account_id = %s AND livemode = %s GROUP BY currency",
            customer,
            account,
            livemode,
        )
        entries = books.walk(f"/customers/{customer}/journal_entries", **scope, limit="2")
        receivable: Counter[str] = Counter()
        for entry in entries:
            assert any(line["customer"] == customer for line in entry["lines"])
            for line in entry["lines"]:
                if line["ledger_account"] == "accounts_receivable" and line["customer"] == customer:
                    receivable[line["currency"]] += line["debit_cents"] - line["credit_cents"]
            by_currency: Counter[str] = Counter()
            for line in entry["lines"]:
                by_currency[line["currency"]] += line["debit_cents"] - line["credit_cents"]
            assert set(by_currency.values()) <= {0}  # every entry balances
        assert dict(owed) == dict(receivable)
        (count,) = books.sql(
            "SELECT count(DISTINCT entry_id) FROM billing.journal_lines WHERE customer_id = %s "
            "AND account_id = %s AND livemode = %s",
            customer,
            account,
            livemode,
        )[0]
        assert len(entries) == count


TABLES = {
    "/customers": "SELECT stripe_customer_id, account_id, livemode, email, name, "
    "default_payment_method, deleted_at FROM billing.stripe_customers",
    "/invoices": "SELECT stripe_invoice_id, account_id, livemode, status, total, tax, "
    "amount_paid, currency FROM billing.invoices",
    "/payments": "SELECT stripe_payment_intent_id, account_id, livemode, status, amount, "
    "amount_refunded, currency FROM billing.payment_transactions",
    "/refunds": "SELECT stripe_refund_id, account_id, livemode, status, amount, currency "
    "FROM billing.refunds",
    "/disputes": "SELECT stripe_dispute_id, account_id, livemode, status, amount, currency "
    "FROM billing.disputes",
}


@pytest.mark.parametrize("path", sorted(TABLES))
def test_each_list_is_its_table(books: Books, path: str) -> None:
    rows = books.sql(TABLES[path])
    names = [c.split(".")[-1] for c in TABLES[path].split(" FROM ")[0][7:].split(", ")]
    names[0] = "id"
    listed = [tuple(_plain(r[name]) for name in names) for r in books.walk(path)]
    assert sorted(listed, key=repr) == sorted((tuple(_plain(v) for v in r) for r in rows), key=repr)
    assert len(set(listed)) == len(listed)


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, str) and len(value) > 19 and value[10] == "T":
        return datetime.fromisoformat(value).astimezone(UTC).isoformat()
    return value


def test_subscriptions_come_with_their_items(books: Books) -> None:
    items = books.sql(
        "SELECT s.stripe_subscription_id, i.stripe_subscription_item_id, i.price_id, i.quantity, "
        "i.unit_amount, i.currency FROM billing.subscription_items i "
        "JOIN billing.subscriptions s ON s.id = i.subscription_id"
    )
    listed = [
        (s["id"], i["id"], i["price_id"], i["quantity"], i["unit_amount"], i["currency"])
        for s in books.walk("/subscriptions", limit="5")
        for i in s["items"]
    ]
    assert sorted(listed) == sorted(items) and items


def test_lists_are_oldest_first_in_a_unique_order(books: Books) -> None:
    rows = books.walk("/invoices", limit="4")
    created = [datetime.fromisoformat(r["created_at"]) for r in rows]
    assert created == sorted(created)


PAGED: tuple[tuple[str, Any], ...] = (
    ("/customers", lambda r: (r["account_id"], r["livemode"], r["id"])),
    ("/payments", lambda r: (r["account_id"], r["livemode"], r["id"])),
    (
        "/mrr/movements",
        lambda r: (r["account_id"], r["livemode"], r["currency"], r["month"], r["customer"]),
    ),
)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(range(len(PAGED))),
    size=st.integers(min_value=1, max_value=60),
    inserts=st.lists(st.integers(min_value=0, max_value=20), max_size=3),
)
def test_a_walk_of_any_page_size_sees_every_row_once_while_rows_arrive(
    books: Books, which: int, size: int, inserts: list[int]
) -> None:
    path, identity = PAGED[which]
    before = {identity(r) for r in books.walk(path, limit="1000")}
    seen: list[Any] = []
    cursor: str | None = None
    page_number = 0
    while True:
        answer = books.get(path, limit=str(size), **({"cursor": cursor} if cursor else {})).json()
        assert len(answer["data"]) <= size
        seen += [identity(r) for r in answer["data"]]
        page_number += 1
        for _ in range(inserts.count(page_number)):
            _insert_customer(books)  # created at a moment already passed, or a tie
        if not answer["has_more"]:
            break
        cursor = answer["next_cursor"]
    assert len(seen) == len(set(seen))
    assert before <= set(seen)


def _insert_customer(books: Books) -> None:
    (created,) = books.sql(
        "SELECT created_at FROM billing.stripe_customers ORDER BY random() LIMIT 1"
    )[0]
    stripe_id = f"cus_Inserted{uuid4().hex[:12]}"
    with psycopg.connect(books.dsn) as conn:
        conn.execute(
            "INSERT INTO billing.stripe_customers (id, account_id, livemode, stripe_customer_id, "
            "created_at, updated_at) VALUES (%s, '', false, %s, %s, %s)",
            (stripe_uuid("", False, stripe_id), stripe_id, created, created),
        )


def test_filters_select_what_they_say(books: Books) -> None:
    connect = books.walk("/invoices", account=CONNECT)
    assert connect and {r["account_id"] for r in connect} == {CONNECT}
    platform = books.walk("/invoices", account="")
    assert platform and {r["account_id"] for r in platform} == {""}
    live = books.walk("/payments", livemode="true")
    assert live and all(r["livemode"] for r in live)
    everything = books.walk("/payments")
    currencies = {r["currency"] for r in everything}
    for currency in currencies:
        chosen = books.walk("/payments", currency=currency.upper())
        assert chosen == [r for r in everything if r["currency"] == currency]
    moments = sorted(datetime.fromisoformat(r["created_at"]) for r in everything)
    since, until = moments[len(moments) // 3], moments[2 * len(moments) // 3]
    window = books.walk("/payments", since=since.isoformat(), until=until.isoformat())
    assert window == [
        r for r in everything if since <= datetime.fromisoformat(r["created_at"]) < until
    ]
    assert window
    months = sorted({r["month"] for r in books.walk("/mrr")})
    middle = books.walk("/mrr", **{"from": months[1], "to": months[1]})
    assert middle and {r["month"] for r in middle} == {months[1]}
    subscriptions = books.walk("/subscriptions", currency="usd")
    assert all(any(i["currency"] == "usd" for i in s["items"]) for s in subscriptions)


@pytest.mark.parametrize(
    ("path", "params", "named"),
    [
        ("/payments", {"livemode": "yes"}, "livemode"),
        ("/payments", {"limit": "0"}, "limit"),
        ("/payments", {"limit": "100000"}, "limit"),
        ("/payments", {"currency": "euros"}, "currency"),
        ("/payments", {"account": "platform"}, "account"),
        ("/payments", {"since": "last week"}, "since"),
        ("/payments", {"since": "2026-02-01", "until": "2026-01-01"}, "since"),
        ("/payments", {"cursor": "not-a-cursor"}, "cursor"),
        ("/payments", {"colour": "blue"}, "colour"),
        ("/customers", {"currency": "eur"}, "currency"),
        ("/mrr", {"from": "2026-13"}, "from"),
        ("/mrr", {"from": "2026-03", "to": "2026-01"}, "from"),
        ("/journal/balances", {"as_of": "soon"}, "as_of"),
        ("/subscriptions", {"status": "Active!"}, "status"),
    ],
)
def test_a_bad_filter_is_400_naming_it(
    books: Books, path: str, params: dict[str, str], named: str
) -> None:
    answer = books.get(path, **params)
    assert answer.status_code == 400
    assert named in answer.json()["error"]


def test_a_cursor_of_another_list_is_400(books: Books) -> None:
    cursor = books.get("/invoices", limit="1").json()["next_cursor"]
    assert books.get("/payments", cursor=cursor).status_code == 400
    repeated = httpx.get(
        f"{books.url}/api/v1/payments?livemode=true&livemode=false",
        headers={"Authorization": f"Bearer {books.token}"},
    )
    assert repeated.status_code == 400 and "livemode" in repeated.json()["error"]


GET_PATHS = [listing.path.replace("{customer}", "cus_X") for listing in LISTINGS] + [
    "/subscriptions/sub_X",
    "/invoices/in_X",
]


@pytest.mark.parametrize("path", GET_PATHS)
def test_reads_need_a_token_with_the_read_scope(books: Books, path: str) -> None:
    anonymous = httpx.get(f"{books.url}/api/v1{path}")
    assert anonymous.status_code == 401 and "token" in anonymous.json()["error"]
    assert books.get(path, token="blt_unknown").status_code == 401
    wrong_scope = books.get(path, token=books.writer)
    assert wrong_scope.status_code == 403 and "read" in wrong_scope.json()["error"]


def test_single_objects_by_stripe_id(books: Books) -> None:
    for path in ("/subscriptions", "/invoices", "/refunds", "/disputes"):
        listed = books.walk(path, account=CONNECT)
        assert listed, path
        row = listed[0]
        one = httpx.get(
            f"{books.url}/api/v1{path}/{row['id']}",
            headers={"Authorization": f"Bearer {books.token}", "Stripe-Account": CONNECT},
            params={"livemode": "false"},
        )
        assert one.status_code == 200 and one.json() == row, path
        elsewhere = httpx.get(
            f"{books.url}/api/v1{path}/{row['id']}",
            headers={"Authorization": f"Bearer {books.token}", "Stripe-Account": "acct_Other"},
        )
        assert elsewhere.status_code == 404, path
    assert books.get("/invoices/not-an-invoice").status_code == 404
    assert books.get("/customers/nobody/journal_entries").status_code == 404
    assert books.get("/invoices/in_X", colour="blue").status_code == 400


def test_the_openapi_document_is_valid_and_describes_every_answer(books: Books) -> None:
    document = httpx.get(f"{books.url}/api/v1/openapi.json").json()
    validate(document)
    for listing in LISTINGS:
        path = f"/api/v1{listing.path}"
        operation = document["paths"][path]["get"]
        assert {p["name"] for p in operation["parameters"]} >= {"limit", "cursor", "account"}
        schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
        concrete = listing.path.replace("{customer}", _a_customer_with_entries(books))
        answer = books.get(concrete, limit="3").json()
        jsonschema.Draft202012Validator({**document, **schema}).validate(answer)
        assert answer["data"], listing.path
    one = document["paths"]["/api/v1/invoices/{invoice}"]["get"]
    invoice = books.walk("/invoices", account="", livemode="true")[0]
    schema = one["responses"]["200"]["content"]["application/json"]["schema"]
    jsonschema.Draft202012Validator({**document, **schema}).validate(
        books.get(f"/invoices/{invoice['id']}").json()
    )


def _a_customer_with_entries(books: Books) -> str:
    (customer,) = books.sql(
        "SELECT customer_id FROM billing.journal_lines WHERE customer_id IS NOT NULL LIMIT 1"
    )[0]
    return str(customer)


def test_amounts_are_integer_minor_units_with_a_currency(books: Books) -> None:
    for path in ("/invoices", "/payments", "/refunds", "/disputes", "/mrr", "/journal/balances"):
        for row in books.get(path, limit="20").json()["data"]:
            money = [k for k in row if k in ("amount", "total", "tax") or k.endswith("_cents")]
            assert money and all(type(row[k]) is int for k in money), path
            assert len(row["currency"]) == 3 and row["currency"].islower()


def test_an_erased_persons_values_stay_erased(postgres_server_url: str) -> None:
    with fresh_database(postgres_server_url) as url:
        dsn = bootstrap.app_role_dsn(url)
        pipeline = Pipeline(dsn)
        try:
            history = hard_history(Shape(5, customers=1, months=1))
            for document in history.events:
                pipeline.append(body_of(document))
            pipeline.process_all()
        finally:
            pipeline.close()
        with psycopg.connect(dsn) as conn:
            (customer,) = conn.execute(
                "SELECT stripe_customer_id FROM billing.stripe_customers "
                "WHERE account_id = '' AND NOT livemode"
            ).fetchone() or ("",)
            erasure.redact(conn, "", False, [customer])
        with bootstrap.api_pool(dsn) as pool:
            reads = FinanceReads(pool)
            scope = [("account", ""), ("livemode", "false")]
            page = json.loads(reads.page(parse_query(CUSTOMERS, scope)))
            (erased,) = [row for row in page["data"] if row["id"] == customer]
            with psycopg.connect(dsn) as conn:
                stored = conn.execute(
                    "SELECT email, name, tax_id, billing_address FROM billing.stripe_customers "
                    "WHERE stripe_customer_id = %s AND account_id = '' AND NOT livemode",
                    (customer,),
                ).fetchone()
            shown = (erased["email"], erased["name"], erased["tax_id"], erased["billing_address"])
            assert shown == stored and shown[:2] == (REDACTED, REDACTED)
            others = reads.page(parse_query(CUSTOMERS, [("livemode", "true")]))
            assert REDACTED.encode() not in others and b"@" in others


def test_reads_run_as_billing_reader(books: Books) -> None:
    tokens = Listing(
        "tokens",
        "/tokens",
        "not served: what a read that strayed outside billing would do",
        Customer,
        "t.name AS id",
        "ops.api_tokens t",
        (Key("t.name", "text"),),
        (),
    )
    with bootstrap.api_pool(books.dsn) as pool:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            FinanceReads(pool).page(parse_query(tokens, []))
        with pool.connection() as conn:  # the role is the app's again after the read
            (role,) = conn.execute("SELECT current_user").fetchone() or ("",)
        assert role == "billing_ledger_app"


def test_a_role_that_may_not_read_as_billing_reader_is_503(
    books: Books, postgres_server_url: str
) -> None:
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'no_reader'").fetchone():
            conn.execute("CREATE ROLE no_reader LOGIN")
    params = conninfo_to_dict(books.dsn)
    params["user"] = "no_reader"
    stranger = make_conninfo(**params)  # type: ignore[arg-type]
    with bootstrap.api_pool(stranger) as pool:
        with pytest.raises(ReadsUnavailable, match="GRANT billing_reader"):
            FinanceReads(pool).page(parse_query(LISTINGS[0], []))


PARAMETER_NAMES = sorted(
    {f.name for listing in LISTINGS for f in listing.filters} | {"limit", "cursor", "colour"}
)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    which=st.sampled_from(range(len(LISTINGS))),
    params=st.lists(st.tuples(st.sampled_from(PARAMETER_NAMES), st.text(max_size=30)), max_size=4),
)
def test_any_query_string_is_an_answer_or_a_400_never_a_crash(
    books: Books, which: int, params: list[tuple[str, str]]
) -> None:
    path = LISTINGS[which].path.replace("{customer}", "cus_X")
    answer = httpx.get(
        f"{books.url}/api/v1{path}",
        params=tuple(params),
        headers={"Authorization": f"Bearer {books.token}"},
        timeout=30,
    )
    assert answer.status_code in (200, 400), answer.text
    assert ("error" in answer.json()) == (answer.status_code == 400)

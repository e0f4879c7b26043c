"""The Subscription Manager end to end: commands over HTTP to the real CLI (`up`), which acts
through the Stripe stand-in (`fake-stripe`); time moves on each customer's test clock, and
what the subscriptions do comes back only as Stripe's signed webhooks, then as rows of
`billing.subscriptions`, `billing.invoices`, the MRR tables and the journal."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import psycopg
import pytest

from billing_ledger.stripe_api.fake.periods import shift
from tests.conftest import fresh_database
from tests.e2e.cli import api_token, free_port, running
from tests.e2e.test_payments_over_http import PUBLIC, Ledger, settled
from tests.e2e.test_webhook_to_tables import rows

STRIPE_KEY = "sk_test_e2e_subscriptions"
JAN = 1_767_225_600  # 2026-01-01T00:00:00Z
DAY = 86_400
FEB, MAR, APR = (shift(JAN, "month", n) for n in (1, 2, 3))


@pytest.fixture(scope="module")
def ledger(postgres_server_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ledger]:
    workdir = tmp_path_factory.mktemp("subscriptions-e2e")
    stripe_port = free_port()
    with fresh_database(postgres_server_url) as dsn:
        env = {
            "DATABASE_URL": dsn,
            "STRIPE_API_KEY": STRIPE_KEY,
            "STRIPE_API_BASE": f"http://127.0.0.1:{stripe_port}",
            "PUBLIC_BASE_URL": PUBLIC,
            "LOG_LEVEL": "DEBUG",
            "LOG_FORMAT": "json",
        }
        with running("up", env, workdir) as up:
            hook = f"{up.base_url}/webhooks/stripe"
            fake_args = ["--port", str(stripe_port), "--webhook-url", hook]
            with running("fake-stripe", {}, workdir, args=fake_args, port=stripe_port) as stripe:
                token = api_token(env, "customers:write,subscriptions:write,read")
                yield Ledger(up, stripe, dsn, token, env)


def plan(ledger: Ledger, amount: int, name: str) -> str:
    product = ledger.stand_in("POST", "/products", name=name)
    price = ledger.stand_in(
        "POST",
        "/prices",
        **{
            "product": product["id"],
            "unit_amount": amount,
            "currency": "eur",
            "recurring[interval]": "month",
        },
    )
    return str(price["id"])


def clocked(ledger: Ledger, key: str, method: str | None = None) -> tuple[str, str]:
    """A test clock at 1 January 2026 and a customer on it, created through our API (with
    `method` as its default)."""
    clock = ledger.stand_in("POST", "/test_helpers/test_clocks", frozen_time=JAN, name=key)
    created = ledger.post(
        "/customers", {"email": f"{key}@example.com", "test_clock": clock["id"]}, f"cus-{key}"
    )
    assert created.status_code == 201, created.text
    customer = created.json()
    if method is not None:
        attached = ledger.post(
            f"/customers/{customer['id']}/payment_methods",
            {"payment_method": method, "default": True},
            f"attach-{key}",
        )
        assert attached.status_code == 200, attached.text
    return str(clock["id"]), str(customer["id"])


def advance(ledger: Ledger, clock: str, to: int) -> None:
    done = ledger.stand_in("POST", f"/test_helpers/test_clocks/{clock}/advance", frozen_time=to)
    assert done["status"] == "ready"


def subscribe(ledger: Ledger, key: str, **body: Any) -> httpx.Response:
    return ledger.post("/subscriptions", body, f"subscribe-{key}")


def subscription_row(ledger: Ledger, sub: str, condition: str = "true") -> dict[str, Any]:
    found = rows(
        ledger.dsn,
        f"SELECT * FROM billing.subscriptions WHERE stripe_subscription_id = %s AND {condition}",
        sub,
        timeout=30,
    )
    assert found, f"no row of {sub} where {condition}"
    return found[0]


def invoices(ledger: Ledger, sub: str, expect: int, condition: str = "true") -> list[Any]:
    found = rows(
        ledger.dsn,
        "SELECT * FROM billing.invoices WHERE subscription_id = (SELECT id FROM "
        f"billing.subscriptions WHERE stripe_subscription_id = %s) AND {condition} "
        "ORDER BY created_at",
        sub,
        expect=expect,
        timeout=30,
    )
    assert len(found) >= expect, f"{len(found)} of {expect} invoices of {sub} where {condition}"
    return found


def movements(ledger: Ledger, customer: str) -> list[tuple[str, str, int]]:
    found = rows(
        ledger.dsn,
        "SELECT to_char(month, 'YYYY-MM') AS month, kind, amount_cents FROM "
        "billing.mrr_movements WHERE customer_id = %s ORDER BY month, kind",
        customer,
        expect=0,
    )
    return [(r["month"], r["kind"], int(r["amount_cents"])) for r in found]


def moved(ledger: Ledger, customer: str, expected: list[tuple[str, str, int]]) -> None:
    """MRR movements of the customer become `expected` (the projector is asynchronous)."""
    deadline = time.monotonic() + 30
    while (found := movements(ledger, customer)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    assert found == expected


def test_3d_secure_keeps_it_incomplete_until_the_challenge_then_active_and_counted(
    ledger: Ledger,
) -> None:
    _, customer = clocked(ledger, "three-ds")
    price = plan(ledger, 2000, "Pro")
    answer = subscribe(
        ledger,
        "three-ds",
        customer=customer,
        price=price,
        payment_method="pm_card_authenticationRequired",
    )
    waiting = answer.json()
    assert answer.status_code == 202, answer.text
    assert (waiting["status"], waiting["payment"]["status"]) == ("incomplete", "requires_action")
    intent = waiting["payment"]["id"]
    assert waiting["confirmation_url"].startswith(f"{PUBLIC}/pay/{intent}?link=")
    assert waiting["client_secret"].startswith(f"{intent}_secret_")
    sub = waiting["id"]
    assert subscription_row(ledger, sub)["status"] == "incomplete"
    again = subscribe(
        ledger,
        "three-ds",
        customer=customer,
        price=price,
        payment_method="pm_card_authenticationRequired",
    )
    assert (again.json()["id"], again.headers["idempotent-replayed"]) == (sub, "true")
    assert again.json()["client_secret"] == waiting["client_secret"]
    httpx.post(waiting["next_action"]["redirect_to_url"]["url"])
    active = subscription_row(ledger, sub, "status = 'active'")
    assert active["plan_id"] == price
    (paid,) = invoices(ledger, sub, 1, "status = 'paid'")
    assert (paid["amount_paid"], paid["total"]) == (2000, 2000)
    moved(ledger, customer, [("2026-01", "new", 2000)])


def test_a_declined_card_leaves_the_subscription_incomplete_with_the_decline(
    ledger: Ledger,
) -> None:
    _, customer = clocked(ledger, "declined")
    answer = subscribe(
        ledger,
        "declined",
        customer=customer,
        price=plan(ledger, 1000, "Basic"),
        payment_method="pm_card_chargeDeclined",
    )
    assert answer.status_code == 402, answer.text
    body = answer.json()
    assert (body["status"], body["decline_code"]) == ("incomplete", "generic_decline")
    assert subscription_row(ledger, body["id"])["status"] == "incomplete"


def test_a_swap_with_proration_shows_the_previewed_amount_on_the_next_invoice(
    ledger: Ledger,
) -> None:
    clock, customer = clocked(ledger, "swap", "pm_card_visa")
    made = subscribe(ledger, "swap", customer=customer, price=plan(ledger, 3000, "Team"))
    assert (made.status_code, made.json()["status"]) == (201, "active"), made.text
    sub = made.json()["id"]
    advance(ledger, clock, FEB + 9 * DAY)
    dearer = plan(ledger, 6000, "Business")
    preview = ledger.post(f"/subscriptions/{sub}/preview", {"price": dearer}, "preview-swap")
    assert preview.status_code == 200, preview.text
    previewed = preview.json()
    credit, debit, next_period = (line["amount"] for line in previewed["lines"])
    assert credit < 0 < debit and next_period == 6000
    assert previewed["proration_date"] == FEB + 9 * DAY
    assert previewed["total"] == credit + debit + next_period
    changed = ledger.post(
        f"/subscriptions/{sub}/change",
        {"price": dearer, "proration_date": previewed["proration_date"]},
        "change-swap",
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["items"][0]["price"] == dearer
    subscription_row(ledger, sub, f"plan_id = '{dearer}'")
    advance(ledger, clock, MAR + 60)
    renewal = invoices(ledger, sub, 3, "status = 'paid'")[-1]
    assert (renewal["total"], renewal["amount_paid"]) == (previewed["total"],) * 2
    moved(
        ledger,
        customer,
        [
            ("2026-01", "new", 3000),
            ("2026-02", "expansion", 3000),
        ],
    )


def test_cancel_at_period_end_then_resume_then_it_renews(ledger: Ledger) -> None:
    clock, customer = clocked(ledger, "resume", "pm_card_visa")
    sub = subscribe(ledger, "resume", customer=customer, price=plan(ledger, 1500, "Solo")).json()
    ending = ledger.post(f"/subscriptions/{sub['id']}/cancel", {"at_period_end": True}, "end-1")
    assert (ending.status_code, ending.json()["cancel_at"]) == (200, FEB), ending.text
    subscription_row(ledger, sub["id"], "cancel_at_period_end")
    resumed = ledger.post(f"/subscriptions/{sub['id']}/resume", {}, "resume-1")
    assert (resumed.status_code, resumed.json()["cancel_at"]) == (200, None), resumed.text
    subscription_row(ledger, sub["id"], "NOT cancel_at_period_end")
    nothing = ledger.post(f"/subscriptions/{sub['id']}/resume", {}, "resume-2")
    assert nothing.status_code == 422 and "no pending cancellation" in nothing.json()["error"]
    advance(ledger, clock, FEB + 60)
    assert len(invoices(ledger, sub["id"], 2, "status = 'paid'")) == 2
    ledger.post(f"/subscriptions/{sub['id']}/cancel", {"at_period_end": True}, "end-2")
    advance(ledger, clock, MAR + 60)
    ended = subscription_row(ledger, sub["id"], "status = 'canceled'")
    assert ended["cancel_at_period_end"]
    assert len(invoices(ledger, sub["id"], 2)) == 2  # no third
    moved(
        ledger,
        customer,
        [
            ("2026-01", "new", 1500),
            ("2026-03", "churn", -1500),
        ],
    )


def test_pause_then_resume_collection(ledger: Ledger) -> None:
    clock, customer = clocked(ledger, "pause", "pm_card_visa")
    sub = subscribe(ledger, "pause", customer=customer, price=plan(ledger, 1200, "Pause")).json()
    paused = ledger.post(f"/subscriptions/{sub['id']}/pause", {"behavior": "void"}, "pause-1")
    assert paused.json()["pause_collection"] == {"behavior": "void", "resumes_at": None}
    advance(ledger, clock, FEB + 60)
    invoices(ledger, sub["id"], 1, "status = 'void'")
    resumed = ledger.post(f"/subscriptions/{sub['id']}/resume_collection", {}, "unpause-1")
    assert (resumed.status_code, resumed.json()["pause_collection"]) == (200, None)
    advance(ledger, clock, MAR + 60)
    assert len(invoices(ledger, sub["id"], 2, "status = 'paid'")) == 2
    assert subscription_row(ledger, sub["id"])["status"] == "active"


def test_a_trial_that_ends_without_a_payment_method(ledger: Ledger) -> None:
    clock, customer = clocked(ledger, "trial")
    price = plan(ledger, 900, "Trial")
    invoiced = subscribe(ledger, "trial-1", customer=customer, price=price, trial_days=14)
    paused = subscribe(
        ledger, "trial-2", customer=customer, price=price, trial_days=7, trial_end_behavior="pause"
    )
    assert (invoiced.status_code, invoiced.json()["status"]) == (201, "trialing"), invoiced.text
    assert invoiced.json()["trial_end"] == JAN + 14 * DAY
    subscription_row(ledger, paused.json()["id"], "status = 'trialing'")
    longer = ledger.post(
        f"/subscriptions/{paused.json()['id']}/trial", {"trial_end": JAN + 10 * DAY}, "extend"
    )
    assert longer.json()["trial_end"] == JAN + 10 * DAY
    advance(ledger, clock, JAN + 20 * DAY)
    subscription_row(ledger, paused.json()["id"], "status = 'paused'")
    subscription_row(ledger, invoiced.json()["id"], "status = 'past_due'")
    open_invoice = invoices(ledger, invoiced.json()["id"], 2)[-1]
    assert (open_invoice["status"], open_invoice["amount_due"]) == ("open", 900)
    attached = ledger.post(
        f"/customers/{customer}/payment_methods",
        {"payment_method": "pm_card_visa", "default": True},
        "trial-card",
    )
    assert attached.status_code == 200, attached.text
    resumed = ledger.post(f"/subscriptions/{paused.json()['id']}/resume", {}, "unpause-trial")
    assert (resumed.status_code, resumed.json()["status"]) == (200, "active"), resumed.text
    assert invoices(ledger, paused.json()["id"], 2, "status = 'paid'")[-1]["amount_paid"] == 900


def test_more_seats_invoiced_at_once_and_an_added_item(ledger: Ledger) -> None:
    clock, customer = clocked(ledger, "seats", "pm_card_visa")
    sub = subscribe(ledger, "seats", customer=customer, price=plan(ledger, 1000, "Seat")).json()
    advance(ledger, clock, JAN + 15 * DAY)
    more = ledger.post(
        f"/subscriptions/{sub['id']}/change",
        {"quantity": 3, "proration_behavior": "always_invoice"},
        "seats-3",
    )
    assert (more.status_code, more.json()["items"][0]["quantity"]) == (200, 3), more.text
    prorated = invoices(ledger, sub["id"], 2, "status = 'paid'")[-1]
    assert 0 < prorated["amount_paid"] < 2000  # two more seats for the rest of January
    extra = plan(ledger, 500, "Support")
    added = ledger.post(f"/subscriptions/{sub['id']}/change", {"add": [{"price": extra}]}, "add")
    assert [i["price"] for i in added.json()["items"]][1] == extra
    read = httpx.get(
        f"{ledger.up.base_url}/api/v1/subscriptions/{sub['id']}",
        headers={"Authorization": f"Bearer {ledger.token}"},
    )
    assert (read.status_code, read.json()["status"]) == (200, "active")
    moved(ledger, customer, [("2026-01", "new", 3500)])


def test_a_trial_ended_now_is_charged(ledger: Ledger) -> None:
    _, customer = clocked(ledger, "trial-now", "pm_card_visa")
    sub = subscribe(
        ledger, "trial-now", customer=customer, price=plan(ledger, 700, "Now"), trial_days=30
    ).json()
    ended = ledger.post(f"/subscriptions/{sub['id']}/trial", {"trial_end": "now"}, "end-now")
    assert (ended.status_code, ended.json()["status"]) == (200, "active"), ended.text
    assert invoices(ledger, sub["id"], 2, "status = 'paid'")[-1]["amount_paid"] == 700


def test_a_repeated_key_subscribes_once_also_under_concurrency(ledger: Ledger) -> None:
    _, customer = clocked(ledger, "once", "pm_card_visa")
    body = {"customer": customer, "price": plan(ledger, 500, "Once"), "quantity": 3}
    with ThreadPoolExecutor(6) as workers:
        answers = list(
            workers.map(lambda _: ledger.post("/subscriptions", body, "sub-once"), range(6))
        )
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert ledger.post("/subscriptions", {**body, "quantity": 4}, "sub-once").status_code == 422
    made = ledger.stand_in("GET", "/subscriptions", customer=customer)["data"]
    assert len(made) == 1 and made[0]["items"]["data"][0]["quantity"] == 3


def test_the_cli_subscribes_with_a_coupon_and_cancels_at_period_end(ledger: Ledger) -> None:
    _, customer = clocked(ledger, "cli", "pm_card_visa")
    ledger.stand_in("POST", "/coupons", id="LAUNCH", percent_off=25, duration="forever")
    made = ledger.cli(
        "subscriptions",
        "create",
        "--customer",
        customer,
        "--price",
        f"{plan(ledger, 4000, 'CLI')}:2",
        "--coupon",
        "LAUNCH",
    )
    assert made.returncode == 0, made.stderr
    sub = json.loads(made.stdout)
    assert (sub["status"], sub["items"][0]["quantity"]) == ("active", 2)
    assert invoices(ledger, sub["id"], 1, "status = 'paid'")[0]["total"] == 6000
    moved(ledger, customer, [("2026-01", "new", 6000)])
    ending = ledger.cli("subscriptions", "cancel", sub["id"], "--at-period-end")
    assert ending.returncode == 0 and json.loads(ending.stdout)["cancel_at_period_end"]
    wrong = ledger.cli("subscriptions", "cancel", "sub_nope", "--at", "yesterday")
    assert wrong.returncode == 2 and "Traceback" not in wrong.stderr
    missing = ledger.cli("subscriptions", "resume", "sub_doesnotexist")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr + missing.stdout


def test_the_ledger_checks_and_a_replay_verifies_after_the_flows(ledger: Ledger) -> None:
    settled(ledger.dsn)
    check = ledger.cli("ledger", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    replay = ledger.cli("replay", "--verify")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    with psycopg.connect(ledger.dsn) as conn:
        kept = str(conn.execute("SELECT json_agg(e) FROM ops.command_events e").fetchone())
    logged = ledger.up.log() + ledger.stripe.log()
    for secret in (STRIPE_KEY, ledger.token, "_secret_"):
        assert secret not in logged, f"the logs show {secret[:12]}…"
        assert secret not in kept, f"the command record holds {secret[:12]}…"


def test_the_cli_puts_a_new_customer_on_a_test_clock(ledger: Ledger) -> None:
    clock = ledger.stand_in("POST", "/test_helpers/test_clocks", frozen_time=JAN, name="cli")
    made = ledger.cli(
        "customers", "create", "--email", "clocked@example.com", "--test-clock", clock["id"]
    )
    assert made.returncode == 0, made.stderr
    customer = ledger.stand_in("GET", f"/customers/{json.loads(made.stdout)['id']}")
    assert customer["test_clock"] == clock["id"]
    refused = ledger.cli("customers", "create", "--email", "x@example.com", "--test-clock", "c1")
    assert refused.returncode == 2
    assert refused.stderr.startswith("billing-ledger: --test-clock: ")

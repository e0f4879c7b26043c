"""Saving payment methods and erasing customers, end to end: commands over HTTP and the CLI
to the real `up`, which acts through the Stripe stand-in (`fake-stripe`); the rows finance
reads (`billing.payment_methods`, the customer's default, its deletion) change only when the
stand-in's signed webhooks arrive. Nothing of a command's effect is written by the command."""

from __future__ import annotations

import json
from typing import Any

import httpx
import psycopg

from tests.e2e.test_payments_over_http import Ledger, ledger, settled
from tests.e2e.test_webhook_to_tables import rows
from tests.support.stripe import returned_to

__all__ = ["ledger"]  # the module's own `up` and stand-in (module-scoped fixture)

MANDATE = {"ip_address": "203.0.113.7", "user_agent": "Mozilla/5.0 (e2e)"}


def new_customer(ledger: Ledger, key: str) -> str:
    made = ledger.post("/customers", {"email": f"{key}@example.com", "name": key}, f"c-{key}")
    assert made.status_code == 201, made.text
    return str(made.json()["id"])


def save(ledger: Ledger, owner: str, body: dict[str, Any], key: str) -> httpx.Response:
    return ledger.post(f"/customers/{owner}/setup_intents", body, key)


def method_row(ledger: Ledger, method: str, status: str = "attached") -> dict[str, Any]:
    found = rows(
        ledger.dsn,
        "SELECT m.*, c.stripe_customer_id FROM billing.payment_methods m "
        "LEFT JOIN billing.stripe_customers c ON c.id = m.customer_id "
        "WHERE m.stripe_payment_method_id = %s AND m.status = %s",
        method,
        status,
        timeout=30,
    )
    assert found, f"no {status} row for {method}"
    return found[0]


def no_method_row(ledger: Ledger, method: str) -> bool:
    with psycopg.connect(ledger.dsn) as conn:
        return (
            conn.execute(
                "SELECT 1 FROM billing.payment_methods WHERE stripe_payment_method_id = %s",
                (method,),
            ).fetchone()
            is None
        )


def default_of(ledger: Ledger, owner: str, method: str | None) -> None:
    found = rows(
        ledger.dsn,
        "SELECT 1 FROM billing.stripe_customers WHERE stripe_customer_id = %s "
        "AND default_payment_method IS NOT DISTINCT FROM %s",
        owner,
        method,
        timeout=30,
    )
    assert found, f"{owner}'s default is not {method}"


def test_a_card_is_saved_then_made_the_default(ledger: Ledger) -> None:
    owner = new_customer(ledger, "save-card")
    saved = save(ledger, owner, {"type": "card", "payment_method": "pm_card_visa"}, "s-card")
    answer = saved.json()
    assert (saved.status_code, answer["status"]) == (201, "succeeded"), saved.text
    method = answer["payment_method"]
    assert method.startswith("pm_") and method != "pm_card_visa"
    row = method_row(ledger, method)
    assert (row["stripe_customer_id"], row["type"], row["card_brand"], row["card_last4"]) == (
        owner,
        "card",
        "visa",
        "4242",
    )
    assert row["mandate_id"] is None
    made_default = ledger.post(
        f"/customers/{owner}/default_payment_method", {"payment_method": method}, "d-card"
    )
    assert made_default.json()["default_payment_method"] == method, made_default.text
    default_of(ledger, owner, method)


def test_a_card_needing_3d_secure_is_saved_once_the_challenge_passes(ledger: Ledger) -> None:
    owner = new_customer(ledger, "save-3ds")
    saved = save(
        ledger, owner, {"type": "card", "payment_method": "pm_card_authenticationRequired"}, "s-3ds"
    )
    waiting = saved.json()
    assert (saved.status_code, waiting["status"]) == (202, "requires_action"), saved.text
    assert waiting["next_action_type"] == "redirect_to_url"
    assert f"/pay/{waiting['id']}?link=" in waiting["confirmation_url"]
    assert waiting["client_secret"].startswith(waiting["id"])
    method = waiting["payment_method"]
    settled(ledger.dsn, quiet_seconds=1.0)
    assert no_method_row(ledger, method)  # not attached until the customer authenticates
    challenge = httpx.post(waiting["next_action"]["redirect_to_url"]["url"])
    assert challenge.status_code == 303
    back, appended = returned_to(challenge.headers["location"])
    assert (back, appended["redirect_status"]) == (waiting["confirmation_url"], "succeeded")
    assert method_row(ledger, method)["stripe_customer_id"] == owner
    done = ledger.stand_in("GET", f"/setup_intents/{waiting['id']}")
    assert (done["status"], done["next_action"]) == ("succeeded", None)


def test_sepa_debit_is_saved_with_its_mandate(ledger: Ledger) -> None:
    owner = new_customer(ledger, "save-sepa")
    body = {"type": "sepa_debit", "payment_method": "pm_sepa_debit"}
    without = save(ledger, owner, body, "s-sepa-no-mandate")
    assert without.status_code == 422 and "mandate" in without.json()["error"]
    saved = save(ledger, owner, {**body, "mandate": MANDATE}, "s-sepa")
    answer = saved.json()
    assert (saved.status_code, answer["status"]) == (201, "succeeded"), saved.text
    assert answer["mandate"].startswith("mandate_")
    mandate = ledger.stand_in("GET", f"/mandates/{answer['mandate']}")
    assert (mandate["payment_method"], mandate["status"], mandate["type"]) == (
        answer["payment_method"],
        "active",
        "multi_use",
    )
    assert mandate["payment_method_details"]["type"] == "sepa_debit"
    assert mandate["customer_acceptance"]["online"] == MANDATE
    row = method_row(ledger, answer["payment_method"])
    assert (row["stripe_customer_id"], row["type"], row["card_last4"]) == (
        owner,
        "sepa_debit",
        None,
    )
    assert (row["bank_last4"], row["bank_name"]) == ("3000", None)  # Stripe names no SEPA bank
    assert rows(
        ledger.dsn,
        "SELECT 1 FROM billing.payment_methods WHERE stripe_payment_method_id = %s "
        "AND mandate_id = %s",
        answer["payment_method"],
        answer["mandate"],
        timeout=30,
    ), "the payment method's row does not show its mandate"


def test_ach_waits_for_microdeposits_then_is_verified(ledger: Ledger) -> None:
    owner = new_customer(ledger, "save-ach")
    saved = save(
        ledger,
        owner,
        {
            "type": "us_bank_account",
            "payment_method": "pm_usBankAccount",
            "verification_method": "microdeposits",
            "mandate": MANDATE,
        },
        "s-ach",
    )
    waiting = saved.json()
    assert (saved.status_code, waiting["status"]) == (202, "requires_action"), saved.text
    assert waiting["next_action_type"] == "verify_with_microdeposits"
    assert "confirmation_url" not in waiting
    steps = waiting["next_action"]["verify_with_microdeposits"]
    assert steps["microdeposit_type"] == "amounts" and steps["arrival_date"] > 0
    assert waiting["mandate"].startswith("mandate_")
    method = waiting["payment_method"]
    verify = f"/setup_intents/{waiting['id']}/verify_microdeposits"
    wrong = ledger.post(verify, {"amounts": [10, 11]}, "v-wrong")
    assert wrong.status_code == 422, wrong.text
    assert wrong.json()["code"] == "payment_method_microdeposit_verification_amounts_mismatch"
    assert ledger.post(verify, {"amounts": [32]}, "v-one").status_code == 422  # ours: two
    settled(ledger.dsn, quiet_seconds=1.0)
    assert no_method_row(ledger, method)
    verified = ledger.post(verify, {"amounts": [32, 45]}, "v-right")
    assert (verified.status_code, verified.json()["status"]) == (201, "succeeded"), verified.text
    row = method_row(ledger, method)
    assert (row["stripe_customer_id"], row["type"]) == (owner, "us_bank_account")
    assert rows(
        ledger.dsn,
        "SELECT 1 FROM billing.payment_methods WHERE stripe_payment_method_id = %s "
        "AND mandate_id = %s",
        method,
        waiting["mandate"],
        timeout=30,
    ), "the payment method's row does not show its mandate"
    assert ledger.stand_in("GET", f"/mandates/{waiting['mandate']}")["status"] == "active"
    again = ledger.post(verify, {"amounts": [32, 45]}, "v-right")
    assert again.headers["idempotent-replayed"] == "true"


def test_a_method_attached_as_default_then_detached_clears_the_default(ledger: Ledger) -> None:
    owner = new_customer(ledger, "attach")
    attached = ledger.post(
        f"/customers/{owner}/payment_methods",
        {"payment_method": "pm_card_mastercard", "default": True},
        "a-default",
    )
    assert attached.status_code == 200, attached.text
    method = attached.json()["id"]
    assert method_row(ledger, method)["card_brand"] == "mastercard"
    default_of(ledger, owner, method)
    detached = ledger.post(f"/payment_methods/{method}/detach", {}, "x-default")
    assert detached.status_code == 200, detached.text
    gone = method_row(ledger, method, "detached")
    assert gone["stripe_customer_id"] == owner  # whose it was, from previous_attributes
    default_of(ledger, owner, None)


def test_the_cli_saves_verifies_attaches_defaults_and_detaches(ledger: Ledger) -> None:
    owner = new_customer(ledger, "cli-methods")
    bank = ledger.cli(
        "payment-methods",
        "save",
        "--customer",
        owner,
        "--type",
        "us_bank_account",
        "--payment-method",
        "pm_usBankAccount",
        "--verification-method",
        "microdeposits",
        "--mandate-ip",
        MANDATE["ip_address"],
        "--mandate-user-agent",
        MANDATE["user_agent"],
    )
    assert bank.returncode == 0, bank.stderr
    waiting = json.loads(bank.stdout)
    assert waiting["next_action_type"] == "verify_with_microdeposits"
    verified = ledger.cli("payment-methods", "verify", waiting["id"], "--descriptor-code", "SM11AA")
    assert verified.returncode == 0, verified.stderr
    assert json.loads(verified.stdout)["status"] == "succeeded"
    assert method_row(ledger, waiting["payment_method"])["type"] == "us_bank_account"
    card = ledger.cli(
        "payment-methods", "attach", "pm_card_amex", "--customer", owner, "--idempotency-key", "k1"
    )
    assert card.returncode == 0, card.stderr
    method = json.loads(card.stdout)["id"]
    defaulted = ledger.cli("payment-methods", "default", method, "--customer", owner)
    assert defaulted.returncode == 0, defaulted.stderr
    default_of(ledger, owner, method)
    detached = ledger.cli("payment-methods", "detach", method)
    assert detached.returncode == 0, detached.stderr
    method_row(ledger, method, "detached")
    default_of(ledger, owner, None)
    refused = ledger.cli("payment-methods", "verify", waiting["id"], "--amounts", "32,x")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "Traceback" not in refused.stderr


def test_forget_also_deletes_the_customer_at_stripe(ledger: Ledger) -> None:
    owner = ledger.customer("pm_card_visa", "forget-me")
    assert rows(
        ledger.dsn,
        "SELECT 1 FROM billing.stripe_customers WHERE stripe_customer_id = %s AND email = %s",
        owner,
        "forget-me@example.com",
        timeout=30,
    )
    forgot = ledger.cli("forget", owner, "--also-stripe")
    assert forgot.returncode == 0, forgot.stderr
    assert f"deleted {owner} at Stripe" in forgot.stdout
    assert ledger.stand_in("GET", f"/customers/{owner}")["deleted"] is True
    gone = rows(
        ledger.dsn,
        "SELECT email, name, deleted_at FROM billing.stripe_customers "
        "WHERE stripe_customer_id = %s AND deleted_at IS NOT NULL",
        owner,
        timeout=30,
    )
    assert gone and (gone[0]["email"], gone[0]["name"]) == ("[erased]", "[erased]")
    again = ledger.cli("forget", owner, "--also-stripe")
    assert again.returncode == 0, again.stderr
    assert "already" in again.stdout


def test_forget_also_at_stripe_with_a_key_of_the_other_mode_erases_nothing(ledger: Ledger) -> None:
    refused = ledger.cli("forget", "cus_LiveOnly", "--also-stripe", "--mode", "live")
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "live-mode customer" in refused.stderr and "test-mode key" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and "Traceback" not in refused.stderr
    with psycopg.connect(ledger.dsn) as conn:
        kept = conn.execute(
            "SELECT count(*) FROM privacy.data_keys WHERE subject = 'cus_LiveOnly'"
        ).fetchone()
    assert kept == (0,)


def test_the_ledger_checks_and_a_replay_verifies_after_the_flows(ledger: Ledger) -> None:
    settled(ledger.dsn)
    check = ledger.cli("ledger", "check")
    assert check.returncode == 0, check.stdout + check.stderr
    replay = ledger.cli("replay", "--verify")
    assert replay.returncode == 0, replay.stdout + replay.stderr
    logged = ledger.up.log() + ledger.stripe.log()
    for secret in ("_secret_", "forget-me@example.com", MANDATE["ip_address"], ledger.token):
        assert secret not in logged, f"the logs show {secret[:12]}…"

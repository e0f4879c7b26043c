"""The CLI as a user meets it before anything connects: help, bad arguments, closed pipes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from billing_ledger import bootstrap
from billing_ledger.cli import main
from billing_ledger.cli.parser import build_parser
from billing_ledger.settings import Settings

COMMANDS = [
    ["up"],
    ["ingest"],
    ["process"],
    ["status"],
    ["send-sample"],
    ["mrr"],
    ["replay"],
    ["secrets", "check"],
    ["dead-letters"],
    ["ledger", "balances"],
    ["ledger", "entries"],
    ["ledger", "check"],
    ["tokens", "create"],
    ["tokens", "list"],
    ["tokens", "revoke"],
    ["fake-stripe"],
    ["customers", "create"],
    ["payments", "create"],
    ["payments", "refund"],
    ["payment-methods", "save"],
    ["payment-methods", "verify"],
    ["payment-methods", "attach"],
    ["payment-methods", "detach"],
    ["payment-methods", "default"],
]


@pytest.mark.parametrize(
    "argv",
    [
        ["mrr", "--from", "2026-13"],
        ["mrr", "--from", "jan"],
        ["mrr", "--to", "2026"],
        ["mrr", "--mode", "sandbox"],
        ["ledger", "balances", "--as-of", "yesterday"],
        ["ledger", "entries"],
        ["secrets", "rotate"],
        ["tokens", "create", "--name", "x"],
        ["tokens", "revoke"],
        ["fake-stripe"],
        ["fake-stripe", "--webhook-url", "http://x", "--port", "many"],
        ["payments", "create", "--customer", "cus_1", "--amount", "-5"],
        ["payments", "refund"],
        ["customers", "create"],
        ["payment-methods", "save"],
        ["payment-methods", "save", "--customer", "cus_1", "--type", "paypal"],
        ["payment-methods", "verify", "seti_1"],
        ["payment-methods", "verify", "seti_1", "--amounts", "32"],
        ["payment-methods", "verify", "seti_1", "--amounts", "1,2", "--descriptor-code", "SM"],
        ["payment-methods", "attach", "pm_1"],
        ["payment-methods", "detach"],
        ["no-such-command"],
    ],
)
def test_a_bad_argument_is_one_line_and_exit_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("billing-ledger") and "--help" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_every_command_describes_itself_and_the_settings_it_reads(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*argv, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: billing-ledger {' '.join(argv)} ")
    description = out.split("\n\n")[1]
    assert len(description) > 20, out
    reads = " ".join(out.split("Reads ", 1)[1].split())
    assert "DATABASE_URL" in reads or argv in (["ingest"], ["fake-stripe"]) and "STRIPE" in reads


def test_the_top_level_help_does_not_say_one_process() -> None:
    text = build_parser().format_help()
    assert "one process" not in text
    assert "child process" in text


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["forget", "sub_123", "--also-stripe"], "cus_"),
        (["forget", "cus_123", "--also-stripe"], "STRIPE_API_KEY"),
        (["payment-methods", "save", "--customer", "bob"], "--customer"),
        (
            ["payment-methods", "save", "--customer", "cus_1", "--type", "sepa_debit"]
            + ["--payment-method", "pm_sepa_debit"],
            "mandate",
        ),
        (["payment-methods", "save", "--customer", "cus_1", "--mandate-ip", "1.2.3.4"], "go"),
        (["payment-methods", "verify", "seti_1", "--descriptor-code", "XX11AA"], "descriptor"),
        (["payment-methods", "detach", "card_1"], "payment-method"),
    ],
)
def test_commands_through_stripe_refuse_what_they_cannot_do_before_acting(
    argv: list[str],
    reason: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("STRIPE_API_KEY", "STRIPE_API_KEY_FILE", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/nothing")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("billing-ledger") and reason in err and "Traceback" not in err


def test_portal_link_prints_a_signed_link_that_expires(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("BILLING_LEDGER_LINK_SECRET", raising=False)
    monkeypatch.setenv("BILLING_LEDGER_HOME", str(tmp_path))
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://pay.example")
    assert main(["portal-link", "cus_A1", "--expires", "30m"]) == 0
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://pay.example/portal/payment-methods?link=")
    signer = bootstrap.link_signer(Settings.from_env())
    link = signer.verify(url.partition("?link=")[2], time.time())
    assert link.customer == "cus_A1" and time.time() + 1700 < link.expires <= time.time() + 1800
    assert (tmp_path / "link.secret").stat().st_mode & 0o777 == 0o600
    assert main(["portal-link", "cus_A1", "--expires", "90d"]) == 2
    assert main(["portal-link", "not-a-customer"]) == 2

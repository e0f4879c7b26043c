from __future__ import annotations

from pathlib import Path

import pytest

from billing_ledger.errors import ConfigurationError
from billing_ledger.settings import Settings


def test_missing_webhook_secret_is_a_clear_startup_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRETS", raising=False)
    with pytest.raises(ConfigurationError, match="STRIPE_WEBHOOK_SECRETS is not set"):
        Settings.from_env().webhook_secrets()


def test_secrets_are_comma_separated_for_rotation(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_new, whsec_old")
    assert Settings.from_env().webhook_secrets() == ["whsec_new", "whsec_old"]


def test_secrets_can_come_from_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("whsec_from_file\n")
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRETS", raising=False)
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS_FILE", str(secret_file))
    assert Settings.from_env().webhook_secrets() == ["whsec_from_file"]


def test_unreadable_secret_file_names_the_setting(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS_FILE", str(tmp_path / "absent"))
    with pytest.raises(ConfigurationError, match="STRIPE_WEBHOOK_SECRETS_FILE"):
        Settings.from_env()


def test_a_value_that_is_not_a_signing_secret_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "sk_live_oops")
    with pytest.raises(ConfigurationError, match="do not start with 'whsec_'"):
        Settings.from_env().webhook_secrets()


def test_invalid_values_name_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_LOG", "redis")
    with pytest.raises(ConfigurationError, match="EVENT_LOG"):
        Settings.from_env()


def test_kafka_needs_bootstrap_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENT_LOG", "kafka")
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    with pytest.raises(ConfigurationError, match="KAFKA_BOOTSTRAP_SERVERS"):
        Settings.from_env().kafka_bootstrap_servers()


def test_defaults_follow_the_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EVENT_LOG", "KAFKA_TOPIC", "HOST", "PORT", "BILLING_LEDGER_HOME"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert (settings.EVENT_LOG, settings.KAFKA_TOPIC) == ("postgres", "stripe.events")
    assert (settings.HOST, settings.PORT) == ("127.0.0.1", 8000)
    assert settings.BILLING_LEDGER_HOME == Path(".billing-ledger")

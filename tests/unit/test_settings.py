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


@pytest.mark.parametrize(
    "servers",
    ["kafka-1:9092,kafka-2:9092", "10.0.0.7:19092", "[::1]:9092", "broker.internal"],
)
def test_bootstrap_servers_are_host_and_port(monkeypatch: pytest.MonkeyPatch, servers: str) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", servers)
    assert Settings.from_env().kafka_bootstrap_servers() == servers.split(",")


@pytest.mark.parametrize(
    "servers", ["kafka:port", "kafka:0", "kafka:65536", "PLAINTEXT://kafka:9092", "kafka 9092", ","]
)
def test_a_bootstrap_address_no_client_could_use_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch, servers: str
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", servers)
    with pytest.raises(ConfigurationError, match="KAFKA_BOOTSTRAP_SERVERS"):
        Settings.from_env().kafka_bootstrap_servers()


def test_defaults_follow_the_architecture(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("EVENT_LOG", "KAFKA_TOPIC", "HOST", "PORT", "BILLING_LEDGER_HOME"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert (settings.EVENT_LOG, settings.KAFKA_TOPIC) == ("postgres", "stripe.events")
    assert (settings.HOST, settings.PORT) == ("127.0.0.1", 8000)
    assert settings.BILLING_LEDGER_HOME == Path(".billing-ledger")


def test_stripe_mode_and_body_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_MODE", raising=False)
    monkeypatch.delenv("BODY_READ_TIMEOUT_SECONDS", raising=False)
    assert (Settings.from_env().STRIPE_MODE, Settings.from_env().BODY_READ_TIMEOUT_SECONDS) == (
        None,
        10.0,
    )
    monkeypatch.setenv("STRIPE_MODE", "live")
    assert Settings.from_env().STRIPE_MODE == "live"
    monkeypatch.setenv("STRIPE_MODE", "production")
    with pytest.raises(ConfigurationError, match="STRIPE_MODE"):
        Settings.from_env()


def test_the_log_timeout_is_two_seconds_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EVENT_LOG_TIMEOUT_SECONDS", raising=False)
    assert Settings.from_env().EVENT_LOG_TIMEOUT_SECONDS == 2.0
    monkeypatch.setenv("EVENT_LOG_TIMEOUT_SECONDS", "0.5")
    assert Settings.from_env().EVENT_LOG_TIMEOUT_SECONDS == 0.5


@pytest.mark.parametrize("value", ["0", "-1", "0.05", "61", "soon"])
def test_a_log_timeout_out_of_range_is_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("EVENT_LOG_TIMEOUT_SECONDS", value)
    with pytest.raises(ConfigurationError, match="EVENT_LOG_TIMEOUT_SECONDS"):
        Settings.from_env()


def test_stripe_api_key_from_env_or_file_never_in_repr(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_from_env")
    assert Settings.from_env().stripe_api_key() == "sk_test_from_env"
    key_file = tmp_path / "key"
    key_file.write_text("rk_live_from_file\n")
    monkeypatch.delenv("STRIPE_API_KEY")
    monkeypatch.setenv("STRIPE_API_KEY_FILE", str(key_file))
    monkeypatch.setenv("STRIPE_WEBHOOK_SECRETS", "whsec_never_shown")
    settings = Settings.from_env()
    assert settings.stripe_api_key() == "rk_live_from_file"
    assert "rk_live_from_file" not in repr(settings)
    assert "whsec_never_shown" not in repr(settings)


def test_an_api_key_that_is_not_one_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRIPE_API_KEY", "whsec_wrong_kind")
    with pytest.raises(ConfigurationError, match="STRIPE_API_KEY"):
        Settings.from_env().stripe_api_key()


def test_stripe_api_key_is_optional(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STRIPE_API_KEY", raising=False)
    monkeypatch.delenv("STRIPE_API_KEY_FILE", raising=False)
    assert Settings.from_env().stripe_api_key() is None


def test_kafka_tls_and_sasl_pass_through_to_the_client(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    password_file = tmp_path / "kafka-password"
    password_file.write_text("s3cret\n")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", "/etc/ca.pem")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "ledger")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD_FILE", str(password_file))
    assert Settings.from_env().kafka_client_options() == {
        "security_protocol": "SASL_SSL",
        "ssl_cafile": "/etc/ca.pem",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "ledger",
        "sasl_plain_password": "s3cret",
    }


def test_kafka_defaults_to_plaintext_options(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("KAFKA_SECURITY_PROTOCOL", "KAFKA_SSL_CAFILE", "KAFKA_SASL_MECHANISM"):
        monkeypatch.delenv(name, raising=False)
    assert Settings.from_env().kafka_client_options() == {}


def test_sasl_without_credentials_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "PLAIN")
    monkeypatch.delenv("KAFKA_SASL_USERNAME", raising=False)
    with pytest.raises(ConfigurationError, match="KAFKA_SASL_USERNAME"):
        Settings.from_env().kafka_client_options()


def test_tls_for_ingest_needs_both_files(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TLS_CERTFILE", "/etc/cert.pem")
    monkeypatch.delenv("TLS_KEYFILE", raising=False)
    with pytest.raises(ConfigurationError, match="TLS_KEYFILE"):
        Settings.from_env().tls_files()


def test_log_format_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        Settings.from_env()


def test_an_empty_home_is_refused_rather_than_the_current_folder(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BILLING_LEDGER_HOME", "")
    with pytest.raises(ConfigurationError, match="BILLING_LEDGER_HOME: .*is empty"):
        Settings.from_env()


def test_the_master_key_comes_from_its_setting_or_its_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert Settings.from_env().master_key_text() is None  # the embedded default keeps its own
    monkeypatch.setenv("BILLING_LEDGER_MASTER_KEY", "  ")
    assert Settings.from_env().master_key_text() is None
    monkeypatch.setenv("BILLING_LEDGER_MASTER_KEY", "a2V5")
    assert Settings.from_env().master_key_text() == ("a2V5", "BILLING_LEDGER_MASTER_KEY")
    key_file = tmp_path / "master.key"
    key_file.write_text("ZmlsZQ==\n")
    monkeypatch.setenv("BILLING_LEDGER_MASTER_KEY_FILE", str(key_file))
    assert Settings.from_env().master_key_text() == ("ZmlsZQ==", "BILLING_LEDGER_MASTER_KEY_FILE")
    assert "ZmlsZQ" not in repr(Settings.from_env())


def test_the_pages_settings_are_checked_and_the_link_secret_never_shown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("STRIPE_PUBLISHABLE_KEY", "STRIPE_JS_URL", "BILLING_LEDGER_LINK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert settings.STRIPE_JS_URL == "https://js.stripe.com/basil/stripe.js"
    assert settings.publishable_key() is None and settings.link_secret_text() is None
    monkeypatch.setenv("STRIPE_PUBLISHABLE_KEY", "sk_test_not_publishable")
    with pytest.raises(ConfigurationError, match="STRIPE_PUBLISHABLE_KEY"):
        Settings.from_env().publishable_key()
    monkeypatch.setenv("BILLING_LEDGER_LINK_SECRET", "short")
    with pytest.raises(ConfigurationError, match="BILLING_LEDGER_LINK_SECRET"):
        Settings.from_env().link_secret_text()
    secret = tmp_path / "link"
    secret.write_text("l" * 40 + "\n")
    monkeypatch.delenv("BILLING_LEDGER_LINK_SECRET")
    monkeypatch.setenv("BILLING_LEDGER_LINK_SECRET_FILE", str(secret))
    settings = Settings.from_env()
    assert settings.link_secret_text() == "l" * 40
    assert "l" * 40 not in repr(settings) and "l" * 40 in settings.secret_values()
    monkeypatch.setenv("PAGES_PRIMARY_COLOR", "red; background: url(x)")
    with pytest.raises(ConfigurationError, match="PAGES_PRIMARY_COLOR"):
        Settings.from_env()


@pytest.mark.parametrize(
    ("given", "kept"),
    [("'none'", "'none'"), ("'self'  https://app.example", "'self' https://app.example")],
)
def test_frame_ancestors_take_sources_only(
    monkeypatch: pytest.MonkeyPatch, given: str, kept: str
) -> None:
    monkeypatch.setenv("PAGES_FRAME_ANCESTORS", given)
    assert Settings.from_env().PAGES_FRAME_ANCESTORS == kept


@pytest.mark.parametrize("given", ["", "https://a.example; script-src *", "'unsafe-inline'"])
def test_frame_ancestors_cannot_smuggle_directives(
    monkeypatch: pytest.MonkeyPatch, given: str
) -> None:
    monkeypatch.setenv("PAGES_FRAME_ANCESTORS", given)
    with pytest.raises(ConfigurationError, match="PAGES_FRAME_ANCESTORS"):
        Settings.from_env()


def test_mrr_definition_defaults_to_stripe_and_names_are_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MRR_DEFINITION", raising=False)
    assert Settings.from_env().mrr_definition().name == "stripe"
    monkeypatch.setenv("MRR_DEFINITION", " all_discounts+past_due_30d ")
    assert Settings.from_env().MRR_DEFINITION == "all_discounts+past_due_30d"
    monkeypatch.setenv("MRR_DEFINITION", "baremetrics")
    with pytest.raises(ConfigurationError, match="MRR_DEFINITION: .*'baremetrics'"):
        Settings.from_env()

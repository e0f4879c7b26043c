"""One typed settings object, read once from the environment (names pinned by the architecture)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from billing_ledger.errors import ConfigurationError
from billing_ledger.projections import mrr_definitions

WEBHOOK_SECRET_PREFIX = "whsec_"
API_KEY_PREFIXES = ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
PUBLISHABLE_KEY_PREFIXES = ("pk_test_", "pk_live_")
STRIPE_JS_DEFAULT = "https://js.stripe.com/basil/stripe.js"
"""Stripe.js of the release matching our pinned API version (2025-03-31.basil)."""
_COLOUR = r"^#[0-9A-Fa-f]{6}$"
_PRICE_ID = re.compile(r"price_[A-Za-z0-9_]+")
_FRAME_SOURCE = re.compile(r"'none'|'self'|https?://(\*\.)?[A-Za-z0-9.-]+(:\d{1,5})?")
# host[:port], the host a name, an IPv4 address or a bracketed IPv6 one.
_BROKER_ADDRESS = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{1,5}))?")


def _split_secrets(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


_CONNECT_ACCOUNT = re.compile(r"acct_[A-Za-z0-9]+")


class Settings(BaseSettings):
    """Every knob of every process. Secrets come from the env var or from a `*_FILE` path."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    # repr=False: a settings object that ends up in a log line or traceback shows no secret.
    STRIPE_WEBHOOK_SECRETS: Annotated[list[str], NoDecode] = Field(default_factory=list, repr=False)
    STRIPE_WEBHOOK_SECRETS_FILE: Path | None = None
    STRIPE_MODE: Literal["test", "live"] | None = None
    STRIPE_API_KEY: SecretStr | None = None
    STRIPE_API_KEY_FILE: Path | None = None
    BILLING_LEDGER_MASTER_KEY: SecretStr | None = None
    BILLING_LEDGER_MASTER_KEY_FILE: Path | None = None
    STRIPE_API_BASE: str | None = None
    PUBLIC_BASE_URL: str | None = None
    STRIPE_PUBLISHABLE_KEY: str | None = None
    STRIPE_JS_URL: str = STRIPE_JS_DEFAULT
    BILLING_LEDGER_LINK_SECRET: SecretStr | None = None
    BILLING_LEDGER_LINK_SECRET_FILE: Path | None = None
    # Who may embed the customer pages in a frame (CSP frame-ancestors): 'none' by default.
    PAGES_FRAME_ANCESTORS: str = "'none'"
    PAGES_PRIMARY_COLOR: Annotated[str, Field(pattern=_COLOUR)] = "#7c5cff"
    PAGES_BACKGROUND_COLOR: Annotated[str, Field(pattern=_COLOUR)] = "#0f1226"
    PAGES_TEXT_COLOR: Annotated[str, Field(pattern=_COLOUR)] = "#eef0ff"
    PAGES_DANGER_COLOR: Annotated[str, Field(pattern=_COLOUR)] = "#ff6b81"
    # The plans /portal/subscriptions offers to switch to (price ids, comma-separated); empty:
    # every active recurring price of the account billed like the current plan.
    PAGES_PLAN_PRICES: Annotated[list[str], NoDecode] = Field(default_factory=list)
    DATABASE_URL: str | None = Field(default=None, repr=False)
    DATABASE_URL_FILE: Path | None = None
    BILLING_LEDGER_HOME: Path = Path(".billing-ledger")
    EVENT_LOG: Literal["postgres", "kafka"] = "postgres"
    KAFKA_BOOTSTRAP_SERVERS: str | None = None
    KAFKA_TOPIC: str = "stripe.events"
    KAFKA_TOPIC_PARTITIONS: int = Field(default=6, ge=1)
    KAFKA_REPLICATION_FACTOR: int = Field(default=1, ge=1)
    KAFKA_CONSUMER_GROUP: str = "billing-ledger-processor"
    KAFKA_SECURITY_PROTOCOL: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] | None = None
    KAFKA_SSL_CAFILE: Path | None = None
    KAFKA_SSL_CERTFILE: Path | None = None
    KAFKA_SSL_KEYFILE: Path | None = None
    KAFKA_SASL_MECHANISM: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    KAFKA_SASL_USERNAME: str | None = None
    KAFKA_SASL_PASSWORD: SecretStr | None = None
    KAFKA_SASL_PASSWORD_FILE: Path | None = None
    # How long a webhook waits for the log's durable acknowledgement, and /readyz for the log's
    # answer, before answering 503: Stripe and load balancers give up on slow endpoints.
    EVENT_LOG_TIMEOUT_SECONDS: float = Field(default=2.0, ge=0.1, le=60)
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=0, le=65535)
    # How many processes answer on HOST:PORT (`up`, `ingest`); 0: one per core this process
    # may run on, at most 8. One Python process answers on one core at a time.
    HTTP_PROCESSES: int = Field(default=0, ge=0, le=64)
    # How many processes `replay` projects in (each a group of the projections); 0: one per
    # core this process may run on, at most one per group (rebuild.GROUPS).
    REPLAY_PROCESSES: int = Field(default=0, ge=0, le=64)
    TLS_CERTFILE: Path | None = None
    TLS_KEYFILE: Path | None = None
    WEBHOOK_TOLERANCE_SECONDS: int = Field(default=300, ge=1)
    MAX_BODY_BYTES: int = Field(default=1024 * 1024, ge=1024)
    BODY_READ_TIMEOUT_SECONDS: float = Field(default=10.0, gt=0)
    # How often `up` reconciles the log with Stripe's /v1/events (when STRIPE_API_KEY is set);
    # 0 turns it off. Stripe keeps events 30 days, so anything under that loses none.
    RECONCILE_INTERVAL_SECONDS: int = Field(default=3600, ge=0)
    # Connect accounts `up` reconciles besides the platform and those the ledger has seen
    # (stripe_api/accounts.py): comma-separated `acct_…` ids.
    STRIPE_CONNECT_ACCOUNTS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    LOG_FORMAT: Literal["json", "text", "auto"] = "auto"
    LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    # The MRR definition the next `replay` builds (mrr_definitions.py); live after `--swap`.
    MRR_DEFINITION: str = mrr_definitions.DEFAULT

    _split = field_validator("STRIPE_WEBHOOK_SECRETS", mode="before")(_split_secrets)
    _split_accounts = field_validator("STRIPE_CONNECT_ACCOUNTS", mode="before")(_split_secrets)

    @field_validator("STRIPE_CONNECT_ACCOUNTS")
    @classmethod
    def _connect_account_ids(cls, value: list[str]) -> list[str]:
        wrong = [v for v in value if not _CONNECT_ACCOUNT.fullmatch(v)]
        if wrong:
            raise ValueError(f"not a Connect account id (acct_…): {wrong[0]!r}")
        return value

    @field_validator("PAGES_FRAME_ANCESTORS")
    @classmethod
    def _frame_ancestors_are_sources(cls, value: str) -> str:
        # Written into the CSP header as is: a `;` or a quote would smuggle in directives.
        if not value.split() or not all(_FRAME_SOURCE.fullmatch(v) for v in value.split()):
            raise ValueError("space-separated sources: 'none', 'self' or https://host[:port]")
        return " ".join(value.split())

    @field_validator("PAGES_PLAN_PRICES", mode="before")
    @classmethod
    def _plan_prices_are_price_ids(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        prices = [part.strip() for part in value.split(",")]
        if prices == [""]:
            return []
        for price in prices:
            if not _PRICE_ID.fullmatch(price):
                raise ValueError(
                    f"{price!r} is not a Stripe price id: give price_… ids, comma-separated "
                    "(unset: every active recurring price)"
                )
        if len(set(prices)) != len(prices):
            raise ValueError("names a price twice")
        return prices

    @field_validator("BILLING_LEDGER_HOME", mode="before")
    @classmethod
    def _home_is_named(cls, value: object) -> object:
        # An empty value would put the embedded database in whatever folder the command runs in.
        if isinstance(value, str) and not value.strip():
            raise ValueError("is empty: name a folder, or unset it for ./.billing-ledger")
        return value

    @field_validator("MRR_DEFINITION")
    @classmethod
    def _known_definition(cls, value: str) -> str:
        try:
            return mrr_definitions.parse(value).name
        except ConfigurationError as e:
            raise ValueError(str(e)) from None

    def mrr_definition(self) -> mrr_definitions.MrrDefinition:
        return mrr_definitions.parse(self.MRR_DEFINITION)

    @classmethod
    def from_env(cls) -> Settings:
        """Read the environment once; an invalid value is a ConfigurationError naming it."""
        try:
            settings = cls()
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in e.errors()
            )
            raise ConfigurationError(f"invalid settings: {problems}") from None
        return settings._with_files()

    def _with_files(self) -> Settings:
        update: dict[str, object] = {}
        if self.STRIPE_WEBHOOK_SECRETS_FILE is not None:
            update["STRIPE_WEBHOOK_SECRETS"] = _split_secrets(
                _read_secret_file("STRIPE_WEBHOOK_SECRETS_FILE", self.STRIPE_WEBHOOK_SECRETS_FILE)
            )
        if self.DATABASE_URL_FILE is not None:
            update["DATABASE_URL"] = _read_secret_file("DATABASE_URL_FILE", self.DATABASE_URL_FILE)
        if self.STRIPE_API_KEY_FILE is not None:
            update["STRIPE_API_KEY"] = SecretStr(
                _read_secret_file("STRIPE_API_KEY_FILE", self.STRIPE_API_KEY_FILE)
            )
        if self.BILLING_LEDGER_MASTER_KEY_FILE is not None:
            update["BILLING_LEDGER_MASTER_KEY"] = SecretStr(
                _read_secret_file(
                    "BILLING_LEDGER_MASTER_KEY_FILE", self.BILLING_LEDGER_MASTER_KEY_FILE
                )
            )
        if self.BILLING_LEDGER_LINK_SECRET_FILE is not None:
            update["BILLING_LEDGER_LINK_SECRET"] = SecretStr(
                _read_secret_file(
                    "BILLING_LEDGER_LINK_SECRET_FILE", self.BILLING_LEDGER_LINK_SECRET_FILE
                )
            )
        if self.KAFKA_SASL_PASSWORD_FILE is not None:
            update["KAFKA_SASL_PASSWORD"] = SecretStr(
                _read_secret_file("KAFKA_SASL_PASSWORD_FILE", self.KAFKA_SASL_PASSWORD_FILE)
            )
        return self.model_copy(update=update) if update else self

    def webhook_secrets(self) -> list[str]:
        """The configured webhook signing secrets; none configured is a startup error."""
        if not self.STRIPE_WEBHOOK_SECRETS:
            raise ConfigurationError(
                "STRIPE_WEBHOOK_SECRETS is not set: give the endpoint's signing secret(s) "
                "(whsec_..., comma-separated for rotation) or STRIPE_WEBHOOK_SECRETS_FILE"
            )
        malformed = [
            s for s in self.STRIPE_WEBHOOK_SECRETS if not s.startswith(WEBHOOK_SECRET_PREFIX)
        ]
        if malformed:
            raise ConfigurationError(
                f"STRIPE_WEBHOOK_SECRETS: {len(malformed)} value(s) do not start with "
                f"{WEBHOOK_SECRET_PREFIX!r}; copy the signing secret from the Stripe dashboard "
                "or from `stripe listen`"
            )
        return list(self.STRIPE_WEBHOOK_SECRETS)

    def secret_values(self) -> list[str]:
        """Every configured secret, for the logs to mask wherever one would appear."""
        found = [*self.STRIPE_WEBHOOK_SECRETS]
        for secret in (
            self.STRIPE_API_KEY,
            self.KAFKA_SASL_PASSWORD,
            self.BILLING_LEDGER_MASTER_KEY,
            self.BILLING_LEDGER_LINK_SECRET,
        ):
            if secret is not None:
                found.append(secret.get_secret_value())
        return found

    def master_key_text(self) -> tuple[str, str] | None:
        """The configured master key (base64) and the setting it came from; None: not set
        (the embedded default then keeps one under BILLING_LEDGER_HOME, see bootstrap)."""
        if self.BILLING_LEDGER_MASTER_KEY is None:
            return None
        if not self.BILLING_LEDGER_MASTER_KEY.get_secret_value().strip():
            return None  # set but empty: as unset, like an empty file would not be a key
        origin = (
            "BILLING_LEDGER_MASTER_KEY_FILE"
            if self.BILLING_LEDGER_MASTER_KEY_FILE is not None
            else "BILLING_LEDGER_MASTER_KEY"
        )
        return self.BILLING_LEDGER_MASTER_KEY.get_secret_value(), origin

    def stripe_api_key(self) -> str | None:
        """The Stripe API key; None when unset (the API then answers writes with 503)."""
        if self.STRIPE_API_KEY is None:
            return None
        key = self.STRIPE_API_KEY.get_secret_value()
        if not key.startswith(API_KEY_PREFIXES):
            raise ConfigurationError(
                "STRIPE_API_KEY: not a Stripe secret or restricted key (sk_... or rk_...)"
            )
        return key

    def publishable_key(self) -> str | None:
        """Stripe's publishable key for Stripe.js on the customer pages (None: no pages)."""
        key = self.STRIPE_PUBLISHABLE_KEY
        if key is None or not key.strip():
            return None
        if not key.startswith(PUBLISHABLE_KEY_PREFIXES):
            raise ConfigurationError(
                "STRIPE_PUBLISHABLE_KEY: not a Stripe publishable key (pk_test_... or pk_live_...)"
            )
        return key

    def link_secret_text(self) -> str | None:
        """BILLING_LEDGER_LINK_SECRET(_FILE), None when unset (the embedded default keeps one
        under BILLING_LEDGER_HOME, see bootstrap)."""
        if self.BILLING_LEDGER_LINK_SECRET is None:
            return None
        text = self.BILLING_LEDGER_LINK_SECRET.get_secret_value().strip()
        if text and len(text) < 32:
            raise ConfigurationError(
                "BILLING_LEDGER_LINK_SECRET: at least 32 characters (e.g. `openssl rand -hex 32`)"
            )
        return text or None

    def http_processes(self) -> int:
        """HTTP_PROCESSES, with 0 read as one per usable core (at most 8)."""
        return self.HTTP_PROCESSES or min(usable_cores(), 8)

    def replay_processes(self) -> int:
        """REPLAY_PROCESSES, with 0 read as one per usable core (the rebuild takes at most
        one per group of projections)."""
        return self.REPLAY_PROCESSES or usable_cores()

    def public_base_url(self) -> str:
        """Where customers reach this server (payment pages): PUBLIC_BASE_URL, else HOST:PORT."""
        if self.PUBLIC_BASE_URL:
            return self.PUBLIC_BASE_URL.rstrip("/")
        scheme = "https" if self.TLS_CERTFILE else "http"
        return f"{scheme}://{self.HOST}:{self.PORT}"

    def kafka_client_options(self) -> dict[str, Any]:
        """kafka-python client options for TLS and SASL (empty: plaintext, no auth)."""
        options: dict[str, Any] = {}
        if self.KAFKA_SECURITY_PROTOCOL:
            options["security_protocol"] = self.KAFKA_SECURITY_PROTOCOL
        for option, path in (
            ("ssl_cafile", self.KAFKA_SSL_CAFILE),
            ("ssl_certfile", self.KAFKA_SSL_CERTFILE),
            ("ssl_keyfile", self.KAFKA_SSL_KEYFILE),
        ):
            if path is not None:
                options[option] = str(path)
        if self.KAFKA_SASL_MECHANISM:
            if not self.KAFKA_SASL_USERNAME or self.KAFKA_SASL_PASSWORD is None:
                raise ConfigurationError(
                    "KAFKA_SASL_MECHANISM needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD "
                    "(or KAFKA_SASL_PASSWORD_FILE)"
                )
            options["sasl_mechanism"] = self.KAFKA_SASL_MECHANISM
            options["sasl_plain_username"] = self.KAFKA_SASL_USERNAME
            options["sasl_plain_password"] = self.KAFKA_SASL_PASSWORD.get_secret_value()
        return options

    def tls_files(self) -> tuple[Path, Path] | None:
        """Certificate and key for serving ingest over HTTPS, or None for plain HTTP."""
        if self.TLS_CERTFILE is None and self.TLS_KEYFILE is None:
            return None
        if self.TLS_CERTFILE is None or self.TLS_KEYFILE is None:
            raise ConfigurationError("TLS_CERTFILE and TLS_KEYFILE must be given together")
        return self.TLS_CERTFILE, self.TLS_KEYFILE

    def kafka_bootstrap_servers(self) -> list[str]:
        """The brokers to bootstrap from; an address no client could use is a startup error
        (an unreachable one is not: the log waits for it)."""
        if not self.KAFKA_BOOTSTRAP_SERVERS:
            raise ConfigurationError(
                "EVENT_LOG=kafka needs KAFKA_BOOTSTRAP_SERVERS (host:port, comma-separated)"
            )
        servers = [s.strip() for s in self.KAFKA_BOOTSTRAP_SERVERS.split(",") if s.strip()]
        if not servers:
            raise ConfigurationError("KAFKA_BOOTSTRAP_SERVERS names no broker (host:port, ...)")
        for server in servers:
            matched = _BROKER_ADDRESS.fullmatch(server)
            if matched is None or not 1 <= int(matched.group(1) or 9092) <= 65535:
                raise ConfigurationError(
                    f"KAFKA_BOOTSTRAP_SERVERS: {server!r} is not host:port (port 1-65535)"
                )
        return servers


def _read_secret_file(name: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigurationError(f"{name}: cannot read {path}: {e.strerror}") from None


def usable_cores() -> int:
    """How many cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)

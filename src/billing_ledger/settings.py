"""One typed settings object, read once from the environment (names pinned by the architecture)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from billing_ledger.errors import ConfigurationError

WEBHOOK_SECRET_PREFIX = "whsec_"


def _split_secrets(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


class Settings(BaseSettings):
    """Every knob of every process. Secrets come from the env var or from a `*_FILE` path."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=True, extra="ignore")

    STRIPE_WEBHOOK_SECRETS: Annotated[list[str], NoDecode] = Field(default_factory=list)
    STRIPE_WEBHOOK_SECRETS_FILE: Path | None = None
    DATABASE_URL: str | None = None
    DATABASE_URL_FILE: Path | None = None
    BILLING_LEDGER_HOME: Path = Path(".billing-ledger")
    EVENT_LOG: Literal["postgres", "kafka"] = "postgres"
    KAFKA_BOOTSTRAP_SERVERS: str | None = None
    KAFKA_TOPIC: str = "stripe.events"
    KAFKA_TOPIC_PARTITIONS: int = Field(default=6, ge=1)
    KAFKA_REPLICATION_FACTOR: int = Field(default=1, ge=1)
    KAFKA_CONSUMER_GROUP: str = "billing-ledger-processor"
    HOST: str = "127.0.0.1"
    PORT: int = Field(default=8000, ge=0, le=65535)
    WEBHOOK_TOLERANCE_SECONDS: int = Field(default=300, ge=1)
    MAX_BODY_BYTES: int = Field(default=1024 * 1024, ge=1024)

    _split = field_validator("STRIPE_WEBHOOK_SECRETS", mode="before")(_split_secrets)

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

    def kafka_bootstrap_servers(self) -> list[str]:
        if not self.KAFKA_BOOTSTRAP_SERVERS:
            raise ConfigurationError(
                "EVENT_LOG=kafka needs KAFKA_BOOTSTRAP_SERVERS (host:port, comma-separated)"
            )
        return [s.strip() for s in self.KAFKA_BOOTSTRAP_SERVERS.split(",") if s.strip()]


def _read_secret_file(name: str, path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError as e:
        raise ConfigurationError(f"{name}: cannot read {path}: {e.strerror}") from None

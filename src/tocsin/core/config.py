"""Settings read from the environment (prefix ``TOCSIN_``), validated once at start."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_RETRY_SCHEDULE = (60, 120, 300, 600, 72000)
PUBLISHED_KEYS = {"dev-only-change-me"}  # keys that once shipped in this repository


class MissingSecretKey(RuntimeError):
    """Serving pages needs a secret key to sign session cookies, and none is set."""

    def __init__(self) -> None:
        super().__init__(
            "TOCSIN_SECRET_KEY is not set: give 16 characters or more of random text, "
            "or TOCSIN_SECRET_KEY_FILE with the path of a file holding it "
            '(e.g. python3 -c "import secrets; print(secrets.token_urlsafe(32))")'
        )


class Settings(BaseSettings):
    """Process-wide settings. Every secret may also come from ``TOCSIN_<NAME>_FILE``."""

    model_config = SettingsConfigDict(env_prefix="TOCSIN_", extra="ignore")

    database_url: str = "sqlite:///var/tocsin.db"
    secret_key: str | None = Field(default=None, min_length=16, repr=False)
    desks: Annotated[list[str] | None, NoDecode] = None  # enabled desks; None: every desk the product has
    default_language: str | None = None  # shell pages; None: the first enabled desk's language
    timezone: str | None = None  # shell pages and core messages; None: the first enabled desk's zone
    retry_schedule: Annotated[list[int], NoDecode] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE)
    )
    lease_seconds: int = Field(default=60, ge=1)
    threads: int = Field(default=8, ge=1, le=1000)  # sync routes at once per process; see benchmarks.md
    delivery_timeout: float = Field(default=10.0, gt=0)
    token_lifetime: int = Field(default=3600, gt=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    worker_id: str = ""
    # The outbox worker looks for due messages every ``worker_poll_seconds``; with ``worker_wake`` a live
    # signal from enqueue also wakes it at once (see docs/architecture.md, "Live updates").
    worker_wake: bool = True
    worker_poll_seconds: float = Field(default=1.0, gt=0, le=3600)
    secure_cookies: bool = False
    allowed_hosts: Annotated[list[str], NoDecode] = ["localhost", "127.0.0.1", "::1"]
    session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=30 * 24)
    read_timeout: float = Field(default=60.0, gt=0, le=3600)  # a request body must arrive within this
    public_api_docs: bool = False  # /api/docs without sign-in (the demo turns it on)
    forwarded_allow_ips: str = "127.0.0.1"  # proxies whose X-Forwarded-For/-Proto are believed
    public_url: str = (
        ""  # how users reach this deployment (links in notifications), e.g. https://tocsin.example.org
    )
    # Notification channels (docs/architecture.md, "Outbox and notifications"); a channel left unset
    # fails its messages as a technical failure naming the setting.
    smtp_url: str | None = Field(default=None, repr=False)  # smtp://user:pass@host:587?starttls=true
    smtp_password: str | None = Field(default=None, repr=False)  # wins over the URL's password
    mail_from: str | None = None
    sms_url: str | None = Field(default=None, repr=False)  # smpp://id:pass@host:2775?source=X or https://…
    sms_token: str | None = Field(default=None, repr=False)  # bearer token of an HTTP SMS gateway
    sms_sender: str = "TOCSIN"
    vapid_private_key: str | None = Field(default=None, repr=False)  # PEM; usually from *_FILE
    vapid_subject: str | None = None  # mailto: or https: where push services can reach us
    push_http_endpoints: bool = False  # accept http:// push endpoints (tests on loopback only)
    phone_region: str = "FR"  # how a phone number typed without +country is read
    notification_retention_days: int = Field(default=90, ge=1, le=3660)
    minesafe_keep_positions_days: int = Field(default=90, ge=1, le=3660)  # positions older are deleted daily
    files_dir: Path = Path("var/files")  # uploaded files, by content hash (created 0700)
    files_max_bytes: int = Field(default=10_000_000, gt=0)  # largest upload of any kind; keep under clamd's
    clamd: str = "unix:///var/run/clamav/clamd.ctl"  # clamd's socket: unix:///path or tcp://host:port
    clamd_timeout: float = Field(default=60.0, gt=0, le=600)
    scan_uploads: bool = True  # only the demo turns this off (no signatures there): see security.md

    @model_validator(mode="before")
    @classmethod
    def read_secret_files(cls, data: dict) -> dict:
        """Let ``TOCSIN_SECRET_KEY_FILE`` (and friends) point at a file holding the value."""
        import os

        for name in (
            "secret_key",
            "database_url",
            "smtp_url",
            "smtp_password",
            "sms_url",
            "sms_token",
            "vapid_private_key",
        ):
            path = os.environ.get(f"TOCSIN_{name.upper()}_FILE")
            if path and name not in data:
                data[name] = Path(path).read_text().strip()
        return data

    @field_validator("timezone")
    @classmethod
    def known_zone(cls, value: str | None) -> str | None:
        if value is not None:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("clamd")
    @classmethod
    def clamd_address(cls, value: str) -> str:
        if not value.startswith(("unix:///", "tcp://")):
            raise ValueError("give clamd's socket as unix:///path/to/clamd.ctl or tcp://host:port")
        return value

    @field_validator("secret_key")
    @classmethod
    def not_a_published_key(cls, value: str | None) -> str | None:
        if value is not None and value.strip() in PUBLISHED_KEYS:
            raise ValueError("this key is published in the source code; generate your own")
        return value

    @field_validator("desks", "retry_schedule", "allowed_hosts", mode="before")
    @classmethod
    def comma_separated(cls, value: object) -> object:
        """Read comma-separated lists (``TOCSIN_RETRY_SCHEDULE=60,120``) or JSON ones."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("retry_schedule")
    @classmethod
    def schedule_is_positive(cls, value: list[int]) -> list[int]:
        if any(step <= 0 for step in value):
            raise ValueError("every retry delay must be a positive number of seconds")
        return value


def secret_key_of(settings: Settings) -> str:
    """The key that signs cookies; raises MissingSecretKey when none was configured."""
    if not settings.secret_key:
        raise MissingSecretKey()
    return settings.secret_key


@lru_cache
def get_settings() -> Settings:
    """The settings of this process (cached; tests build their own ``Settings``)."""
    return Settings()

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
    timezone: str = "Europe/Paris"
    default_language: str | None = None  # shell pages; None: the first enabled desk's language
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

    @model_validator(mode="before")
    @classmethod
    def read_secret_files(cls, data: dict) -> dict:
        """Let ``TOCSIN_SECRET_KEY_FILE`` (and friends) point at a file holding the value."""
        import os

        for name in ("secret_key", "database_url"):
            path = os.environ.get(f"TOCSIN_{name.upper()}_FILE")
            if path and name not in data:
                data[name] = Path(path).read_text().strip()
        return data

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

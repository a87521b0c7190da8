"""Partner clients and their bearer tokens (OAuth2 client credentials, RFC 6749 §4.4).

A client belongs to the desk configuration that declared it (``managed_by``). Loading a configuration
without it deactivates it and deletes its tokens; rotating its secret ends the old tokens, at once or
after an overlap window during which the old secret still works. Each process remembers a verified
token for at most ``TokenCache.ttl`` (one second), so a revocation reaches every process within a second.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.core.auth import passwords
from tocsin.core.db import Base, JSONDoc, UTCDateTime, affected


class ApiClient(Base):
    """A partner's credentials to call us; ``owner`` is the partner's operator code."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(40))
    scopes: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    managed_by: Mapped[str] = mapped_column(String(40), default="", server_default="")
    previous_secret_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    previous_valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AccessToken(Base):
    """An issued bearer token; only its SHA-256 is stored."""

    __tablename__ = "access_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("api_client.id", ondelete="CASCADE"), index=True)
    scopes: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


@dataclass(frozen=True)
class Caller:
    """An authenticated partner: its operator code and granted scopes."""

    client_id: str
    owner: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class Issued:
    token: str
    scopes: list[str]
    expires_in: int


class ScopeNotGranted(ValueError):
    """A requested scope was not granted to the client."""


def upsert_client(
    db: Session,
    *,
    client_id: str,
    secret: str,
    owner: str,
    scopes: list[str],
    managed_by: str,
    now: datetime,
    overlap: timedelta = timedelta(0),
) -> ApiClient:
    """Create or update a client. A new secret, owner or narrower scopes end the old tokens; with an
    ``overlap`` the old secret and its tokens keep working until ``now + overlap``."""
    client = db.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None:
        client = ApiClient(client_id=client_id, secret_hash=passwords.hash_secret(secret))
        db.add(client)
    elif not passwords.verify_secret(client.secret_hash, secret):
        keep_old = overlap > timedelta(0) and client.active
        client.previous_secret_hash = client.secret_hash if keep_old else None
        client.previous_valid_until = now + overlap if keep_old else None
        client.secret_hash = passwords.hash_secret(secret)
        _cut_tokens(db, client, until=now + overlap)
    if client.id is not None and (client.owner != owner or not set(client.scopes) <= set(scopes)):
        _cut_tokens(db, client, until=now)
    if client.id is not None and not client.active:
        client.previous_secret_hash, client.previous_valid_until = None, None
    client.owner, client.scopes, client.active, client.managed_by = (
        owner,
        sorted(set(scopes)),
        True,
        managed_by,
    )
    return client


def deactivate_missing(db: Session, *, managed_by: str, keep: Collection[str]) -> list[str]:
    """Deactivate this configuration's clients not in ``keep`` and delete their tokens."""
    gone = list(
        db.scalars(
            select(ApiClient).where(
                ApiClient.managed_by == managed_by,
                ApiClient.active.is_(True),
                ApiClient.client_id.not_in(list(keep)),
            )
        )
    )
    for client in gone:
        client.active, client.previous_secret_hash, client.previous_valid_until = False, None, None
        db.execute(delete(AccessToken).where(AccessToken.client_id == client.id))
    return [c.client_id for c in gone]


def _cut_tokens(db: Session, client: ApiClient, *, until: datetime) -> None:
    if client.id is None:
        return
    db.execute(
        update(AccessToken)
        .where(AccessToken.client_id == client.id, AccessToken.expires_at > until)
        .values(expires_at=until)
    )


def client_for(db: Session, client_id: str) -> ApiClient | None:
    return db.scalar(select(ApiClient).where(ApiClient.client_id == client_id))


def check_secret(client: ApiClient | None, secret: str, *, now: datetime) -> datetime | None:
    """None if the secret is wrong; else the latest time a token may live (the overlap's end for an old
    secret, far away for the current one). Costs one argon2 verification either way."""
    if client is None or not client.active:
        passwords.burn(secret)
        return None
    if passwords.verify_secret(client.secret_hash, secret):
        return datetime.max.replace(tzinfo=now.tzinfo)
    old_until = client.previous_valid_until
    if client.previous_secret_hash and old_until is not None and now < old_until:
        return old_until if passwords.verify_secret(client.previous_secret_hash, secret) else None
    return None


def granted_scopes(client: ApiClient, requested: set[str] | None) -> list[str]:
    """The scopes a token gets; raises ScopeNotGranted for a scope the client does not hold."""
    granted = set(client.scopes)
    if requested is not None and not requested <= granted:
        raise ScopeNotGranted(f"scope not granted: {' '.join(sorted(requested - granted))}")
    return sorted(requested if requested is not None else granted)


def issue_token(
    db: Session, *, client: ApiClient, scopes: list[str], now: datetime, lifetime: int, not_after: datetime
) -> Issued:
    """Store a new bearer token for a verified client; returns it with its real lifetime."""
    token = secrets.token_urlsafe(32)
    expires_at = min(now + timedelta(seconds=lifetime), not_after)
    db.add(AccessToken(token_hash=digest(token), client_id=client.id, scopes=scopes, expires_at=expires_at))
    return Issued(token, scopes, max(1, int((expires_at - now).total_seconds())))


def digest(token: str) -> str:
    """SHA-256 of a bearer token, the only form in which tokens are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCache:
    """Recently verified tokens, kept a second so a burst of requests need not query the database each
    time, and short enough that a revoked token stops working everywhere within that second."""

    def __init__(self, ttl: float = 1.0, size: int = 10_000) -> None:
        self.ttl, self.size = ttl, size
        self._items: dict[str, tuple[float, Caller, datetime]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str, now: datetime) -> Caller | None:
        with self._lock:
            item = self._items.get(digest)
        if item is None or item[0] < time.monotonic() or item[2] <= now:
            return None
        return item[1]

    def put(self, digest: str, caller: Caller, expires_at: datetime) -> None:
        with self._lock:
            if len(self._items) >= self.size:
                self._items.clear()
            self._items[digest] = (time.monotonic() + self.ttl, caller, expires_at)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


def caller_for_token(
    db: Session, *, token: str, now: datetime, cache: TokenCache | None = None
) -> Caller | None:
    """The partner behind a bearer token, or None if it is unknown, expired or its client inactive."""
    token_digest = digest(token)
    if cache is not None and (hit := cache.get(token_digest, now)) is not None:
        return hit
    row = db.execute(
        select(AccessToken.expires_at, AccessToken.scopes, ApiClient.client_id, ApiClient.owner)
        .join(ApiClient, ApiClient.id == AccessToken.client_id)
        .where(AccessToken.token_hash == token_digest, ApiClient.active.is_(True))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    caller = Caller(client_id=row.client_id, owner=row.owner, scopes=frozenset(row.scopes))
    if cache is not None:
        cache.put(token_digest, caller, row.expires_at)
    return caller


def purge_expired_tokens(db: Session, *, now: datetime) -> int:
    """Delete expired tokens; returns how many."""
    return affected(db.execute(delete(AccessToken).where(AccessToken.expires_at <= now)))

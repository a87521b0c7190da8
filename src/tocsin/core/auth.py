"""Who may do what: staff users (argon2id passwords, page sessions) and partner clients
(OAuth2 client-credentials tokens with scopes, RFC 6749 §4.4)."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.core.db import Base, JSONDoc, UTCDateTime, affected

hasher = PasswordHasher()
ROLES = ("admin", "operator", "technician", "viewer")


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    roles: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ApiClient(Base):
    """A partner's credentials to call us; ``owner`` is the partner's operator code."""

    __tablename__ = "api_client"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(80), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(200))
    owner: Mapped[str] = mapped_column(String(40))
    scopes: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


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


def hash_secret(secret: str) -> str:
    """argon2id hash of a password or client secret."""
    return hasher.hash(secret)


def verify_secret(secret_hash: str, secret: str) -> bool:
    """True when ``secret`` matches the stored argon2 hash."""
    try:
        return hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


def authenticate_staff(db: Session, *, username: str, password: str) -> StaffUser | None:
    """The active staff user with these credentials, or None."""
    user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.active:
        hasher.hash(password)  # same cost either way, so timing does not reveal usernames
        return None
    return user if verify_secret(user.password_hash, password) else None


def upsert_staff(
    db: Session, *, username: str, password: str, roles: list[str], display_name: str = ""
) -> StaffUser:
    """Create or update a staff user (used by the CLI and the demo)."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"roles: unknown role(s) {sorted(unknown)}; known: {list(ROLES)}")
    user = db.scalar(select(StaffUser).where(StaffUser.username == username)) or StaffUser(username=username)
    user.password_hash = hash_secret(password)
    user.roles = sorted(roles)
    user.display_name = display_name or username
    db.add(user)
    return user


def upsert_client(db: Session, *, client_id: str, secret: str, owner: str, scopes: list[str]) -> ApiClient:
    """Create or update partner credentials."""
    client = db.scalar(select(ApiClient).where(ApiClient.client_id == client_id)) or ApiClient(
        client_id=client_id
    )
    if not client.secret_hash or not verify_secret(client.secret_hash, secret):
        client.secret_hash = hash_secret(secret)
    client.owner = owner
    client.scopes = sorted(set(scopes))
    client.active = True
    db.add(client)
    return client


def issue_token(
    db: Session, *, client_id: str, secret: str, requested: set[str] | None, now: datetime, lifetime: int
) -> tuple[str, ApiClient, list[str]] | None:
    """Check client credentials and issue a bearer token; None if the client is unknown or wrong.

    Raises ``ValueError`` when a requested scope was not granted to the client.
    """
    client = db.scalar(select(ApiClient).where(ApiClient.client_id == client_id))
    if client is None or not client.active or not verify_secret(client.secret_hash, secret):
        return None
    granted = set(client.scopes)
    if requested is not None and not requested <= granted:
        raise ValueError(f"scope not granted: {' '.join(sorted(requested - granted))}")
    scopes = sorted(requested if requested is not None else granted)
    token = secrets.token_urlsafe(32)
    db.add(
        AccessToken(
            token_hash=digest(token),
            client_id=client.id,
            scopes=scopes,
            expires_at=now + timedelta(seconds=lifetime),
        )
    )
    return token, client, scopes


def digest(token: str) -> str:
    """SHA-256 of a bearer token, the only form in which tokens are stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class TokenCache:
    """Recently verified tokens, kept for a few seconds so each request need not query the database."""

    def __init__(self, ttl: float = 30.0, size: int = 10_000) -> None:
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


def caller_for_token(
    db: Session, *, token: str, now: datetime, cache: TokenCache | None = None
) -> Caller | None:
    """The partner behind a bearer token, or None if it is unknown or expired."""
    token_digest = digest(token)
    if cache is not None and (hit := cache.get(token_digest, now)) is not None:
        return hit
    row = db.execute(
        select(AccessToken, ApiClient)
        .join(ApiClient, ApiClient.id == AccessToken.client_id)
        .where(AccessToken.token_hash == token_digest)
    ).first()
    if row is None or row[0].expires_at <= now or not row[1].active:
        return None
    caller = Caller(client_id=row[1].client_id, owner=row[1].owner, scopes=frozenset(row[0].scopes))
    if cache is not None:
        cache.put(token_digest, caller, row[0].expires_at)
    return caller


def purge_expired_tokens(db: Session, *, now: datetime) -> int:
    """Delete expired tokens; returns how many."""
    from sqlalchemy import delete

    result = db.execute(delete(AccessToken).where(AccessToken.expires_at <= now))
    return affected(result)

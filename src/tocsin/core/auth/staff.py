"""Staff users (argon2id passwords, roles) and their sessions, kept server-side.

The browser's cookie carries only a random session token; the database keeps its SHA-256 with the
user, the time of the last request and an absolute end. Signing out, changing the password or being
idle for too long ends the session here, so a copied cookie stops working at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Boolean, ForeignKey, Integer, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.core.auth import passwords
from tocsin.core.db import Base, JSONDoc, UTCDateTime, affected

ROLES = ("admin", "operator", "technician", "viewer")
TOUCH_EVERY = timedelta(seconds=60)  # last_seen_at is written at most once a minute per session


class StaffUser(Base):
    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    roles: Mapped[list[str]] = mapped_column(JSONDoc, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class StaffSession(Base):
    """One signed-in browser; only the token's SHA-256 is stored."""

    __tablename__ = "staff_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    address: Mapped[str] = mapped_column(String(64), default="")


@dataclass(frozen=True)
class SessionRules:
    """How long a session lives: ``idle`` without a request, ``lifetime`` at most."""

    idle: timedelta
    lifetime: timedelta


def authenticate_staff(db: Session, *, username: str, password: str) -> StaffUser | None:
    """The active staff user with these credentials, or None (same cost whether the user exists or not)."""
    user = db.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None or not user.active:
        passwords.burn(password)
        return None
    return user if passwords.verify_secret(user.password_hash, password) else None


def upsert_staff(
    db: Session, *, username: str, password: str, roles: list[str], display_name: str = ""
) -> StaffUser:
    """Create or update a staff user (CLI, demo); a new password ends the user's sessions."""
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"roles: unknown role(s) {sorted(unknown)}; known: {list(ROLES)}")
    user = db.scalar(select(StaffUser).where(StaffUser.username == username)) or StaffUser(username=username)
    if not user.password_hash or not passwords.verify_secret(user.password_hash, password):
        user.password_hash = passwords.hash_secret(password)
        if user.id is not None:
            end_sessions(db, user_id=user.id)
    user.roles = sorted(roles)
    user.display_name = display_name or user.display_name or username
    db.add(user)
    return user


def change_password(db: Session, *, user_id: int, password: str, keep: str | None = None) -> None:
    """Set a new password and end every other session of the user (``keep``: this browser's token)."""
    db.execute(
        update(StaffUser).where(StaffUser.id == user_id).values(password_hash=passwords.hash_secret(password))
    )
    end_sessions(db, user_id=user_id, keep=keep)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(
    db: Session, *, user: StaffUser, now: datetime, rules: SessionRules, address: str = ""
) -> str:
    """A new session for ``user``; returns the token for the cookie (never stored as such)."""
    token = secrets.token_urlsafe(32)
    db.add(
        StaffSession(
            token_hash=token_digest(token),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + rules.lifetime,
            address=address[:64],
        )
    )
    return token


def session_user(
    db: Session, *, token: str, now: datetime, rules: SessionRules, touch: bool = True
) -> StaffUser | None:
    """The active user of a live session, or None; an expired or idle session is deleted. ``touch``
    False checks without counting as activity (an open live page re-checking its session)."""
    row = db.execute(
        select(StaffSession, StaffUser)
        .join(StaffUser, StaffUser.id == StaffSession.user_id)
        .where(StaffSession.token_hash == token_digest(token))
    ).first()
    if row is None:
        return None
    session, user = row
    if now >= session.expires_at or now - session.last_seen_at > rules.idle or not user.active:
        db.delete(session)
        return None
    if touch and now - session.last_seen_at >= TOUCH_EVERY:
        session.last_seen_at = now
    return user


def end_session(db: Session, *, token: str) -> None:
    db.execute(delete(StaffSession).where(StaffSession.token_hash == token_digest(token)))


def end_sessions(db: Session, *, user_id: int, keep: str | None = None) -> int:
    """End every session of a user but ``keep``; returns how many ended."""
    query = delete(StaffSession).where(StaffSession.user_id == user_id)
    if keep:
        query = query.where(StaffSession.token_hash != token_digest(keep))
    return affected(db.execute(query))


def purge_sessions(db: Session, *, now: datetime, rules: SessionRules) -> int:
    """Delete sessions past their end or idle for too long."""
    query = delete(StaffSession).where(
        (StaffSession.expires_at <= now) | (StaffSession.last_seen_at < now - rules.idle)
    )
    return affected(db.execute(query))

"""Organisations and the roles people hold within them: an agency and its units, a treasury office, a
provincial department, an operator and its teams. A role held within an organisation reaches its units;
a role held globally (``StaffUser.roles``) reaches everything. Desks ask ``scope_of`` and filter their
queries with it, so a supervisor of one team never sees another team's work."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from tocsin.core.auth.staff import ROLES, StaffUser
from tocsin.core.db import Base
from tocsin.core.errors import DomainError, NotFound


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40), default="unit")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organisation.id"), nullable=True, index=True)


class Membership(Base):
    """A user holds ``role`` within ``org`` (and its units)."""

    __tablename__ = "membership"
    __table_args__ = (UniqueConstraint("user_id", "org_id", "role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id", ondelete="CASCADE"), index=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisation.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(40))


@dataclass(frozen=True)
class Scope:
    """Where a user may act with some role: everywhere, or within these organisations (units included)."""

    everywhere: bool
    orgs: frozenset[int] = frozenset()

    @property
    def nowhere(self) -> bool:
        return not self.everywhere and not self.orgs


def upsert_org(
    db: Session, *, code: str, name: str, kind: str = "unit", parent: str | None = None
) -> Organisation:
    """Create or update an organisation; ``parent`` is the code of the one it belongs to."""
    parent_row = _org(db, parent, field="parent") if parent else None
    org = db.scalar(select(Organisation).where(Organisation.code == code)) or Organisation(code=code)
    if parent_row is not None and org.id is not None and parent_row.id in _with_units(db, [org.id]):
        raise DomainError(
            "an organisation cannot belong to itself or to one of its own units", field="parent"
        )
    org.name, org.kind, org.parent_id = name, kind, parent_row.id if parent_row else None
    db.add(org)
    db.flush()
    return org


def grant(db: Session, *, user: StaffUser, org: str, role: str) -> None:
    """Give ``user`` the ``role`` within the organisation coded ``org``."""
    if role not in ROLES:
        raise DomainError(f"unknown role; known: {', '.join(ROLES)}", field="role")
    target = _org(db, org, field="org")
    held = select(Membership).where(
        Membership.user_id == user.id, Membership.org_id == target.id, Membership.role == role
    )
    if db.scalar(held) is None:
        db.add(Membership(user_id=user.id, org_id=target.id, role=role))


def revoke(db: Session, *, user: StaffUser, org: str, role: str) -> None:
    target = _org(db, org, field="org")
    db.execute(
        delete(Membership).where(
            Membership.user_id == user.id, Membership.org_id == target.id, Membership.role == role
        )
    )


def roles_of(db: Session, user: StaffUser) -> set[str]:
    """Every role the user holds, globally or within some organisation."""
    scoped = db.scalars(select(Membership.role).where(Membership.user_id == user.id).distinct())
    return set(user.roles) | set(scoped)


def scope_of(db: Session, user: StaffUser, roles: Iterable[str]) -> Scope:
    """Where ``user`` holds one of ``roles``: everywhere for a global role (or admin), else the
    organisations of their memberships with all their units."""
    wanted = set(roles)
    if "admin" in user.roles or wanted & set(user.roles):
        return Scope(everywhere=True)
    held = db.scalars(
        select(Membership.org_id).where(Membership.user_id == user.id, Membership.role.in_(wanted))
    )
    return Scope(everywhere=False, orgs=frozenset(_with_units(db, list(held))))


def home_org(db: Session, user: StaffUser, role: str) -> Organisation | None:
    """The organisation a user works in with ``role`` (the first by code when several)."""
    query = (
        select(Organisation)
        .join(Membership, Membership.org_id == Organisation.id)
        .where(Membership.user_id == user.id, Membership.role == role)
        .order_by(Organisation.code)
        .limit(1)
    )
    return db.scalar(query)


def _with_units(db: Session, org_ids: list[int]) -> set[int]:
    """These organisations and every unit below them (a recursive query, on SQLite and PostgreSQL)."""
    if not org_ids:
        return set()
    tree = select(Organisation.id).where(Organisation.id.in_(org_ids)).cte("tree", recursive=True)
    units = select(Organisation.id).join(tree, Organisation.parent_id == tree.c.id)
    tree = tree.union(units)
    return set(db.scalars(select(tree.c.id)))


def _org(db: Session, code: str | None, *, field: str) -> Organisation:
    org = db.scalar(select(Organisation).where(Organisation.code == code))
    if org is None:
        raise NotFound("no organisation has this code", field=field)
    return org

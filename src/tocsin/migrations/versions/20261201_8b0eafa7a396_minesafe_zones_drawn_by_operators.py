"""minesafe zones drawn by operators

Revision ID: 8b0eafa7a396
Revises: 705a84c70f19
Create Date: 2026-12-01 03:09:46.922213
"""

from alembic import op
import sqlalchemy as sa
import tocsin.core.db
from sqlalchemy.dialects import postgresql

revision = "8b0eafa7a396"
down_revision = "705a84c70f19"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ms_zone",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column(
            "polygon",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "speed_limits",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("min_overspeed_s", sa.Float(), nullable=False),
        sa.Column("approach_m", sa.Float(), nullable=False),
        sa.Column("active_from", tocsin.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("active_until", tocsin.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("removed_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "kind IN ('blast', 'pit_edge', 'unstable_slope', 'speed')", name=op.f("ck_ms_zone_kind_known")
        ),
        sa.CheckConstraint(
            "active_from IS NULL OR active_until IS NULL OR active_until > active_from",
            name=op.f("ck_ms_zone_window_ordered"),
        ),
        sa.CheckConstraint("length(name) BETWEEN 1 AND 80", name=op.f("ck_ms_zone_name_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ms_zone")),
    )
    with op.batch_alter_table("ms_zone", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ms_zone_site"), ["site"], unique=False)
        batch_op.create_index(
            "uq_ms_zone_live_name",
            ["site", "name"],
            unique=True,
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("ms_zone", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ms_zone_live_name",
            sqlite_where=sa.text("removed_at IS NULL"),
            postgresql_where=sa.text("removed_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_ms_zone_site"))
    op.drop_table("ms_zone")

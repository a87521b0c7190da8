"""minesafe positions, trackers and alarms

Revision ID: 1eb6942dd8cf
Revises: 8a4a92d94dff
Create Date: 2026-12-01 00:43:01.966101
"""

from alembic import op
import sqlalchemy as sa
import tocsin.core.db
from sqlalchemy.dialects import postgresql

revision = "1eb6942dd8cf"
down_revision = "8a4a92d94dff"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ms_alarm",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("site", sa.String(length=60), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("level", sa.String(length=10), nullable=False),
        sa.Column(
            "trackers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("state", sa.String(length=15), nullable=False),
        sa.Column("raised_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=100), nullable=True),
        sa.Column("cleared_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("zone", sa.String(length=80), nullable=True),
        sa.Column("distance", sa.Float(), nullable=True),
        sa.Column(
            "detail",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ms_alarm")),
    )
    with op.batch_alter_table("ms_alarm", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ms_alarm_key"), ["key"], unique=False)
        batch_op.create_index(batch_op.f("ix_ms_alarm_raised_at"), ["raised_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ms_alarm_site"), ["site"], unique=False)
        batch_op.create_index(batch_op.f("ix_ms_alarm_state"), ["state"], unique=False)

    op.create_table(
        "ms_position",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("site", sa.String(length=60), nullable=False),
        sa.Column("tracker", sa.String(length=80), nullable=False),
        sa.Column("at", tocsin.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("x", sa.Float(), nullable=False),
        sa.Column("y", sa.Float(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("speed", sa.Float(), nullable=False),
        sa.Column("heading", sa.Float(), nullable=True),
        sa.Column("sos", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ms_position")),
    )
    with op.batch_alter_table("ms_position", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ms_position_at"), ["at"], unique=False)
        batch_op.create_index("ix_ms_position_tracker_at", ["tracker", "at"], unique=False)

    op.create_table(
        "ms_tracker",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("site", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("last_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("speed", sa.Float(), nullable=True),
        sa.Column("heading", sa.Float(), nullable=True),
        sa.Column("battery_percent", sa.Float(), nullable=True),
        sa.Column("sos", sa.Boolean(), nullable=False),
        sa.Column("silent", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ms_tracker")),
    )
    with op.batch_alter_table("ms_tracker", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ms_tracker_site"), ["site"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ms_tracker", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ms_tracker_site"))

    op.drop_table("ms_tracker")
    with op.batch_alter_table("ms_position", schema=None) as batch_op:
        batch_op.drop_index("ix_ms_position_tracker_at")
        batch_op.drop_index(batch_op.f("ix_ms_position_at"))

    op.drop_table("ms_position")
    with op.batch_alter_table("ms_alarm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ms_alarm_state"))
        batch_op.drop_index(batch_op.f("ix_ms_alarm_site"))
        batch_op.drop_index(batch_op.f("ix_ms_alarm_raised_at"))
        batch_op.drop_index(batch_op.f("ix_ms_alarm_key"))

    op.drop_table("ms_alarm")

"""minesafe device registry and tracker check-outs

Revision ID: 705a84c70f19
Revises: f033751101bb
Create Date: 2026-12-01 03:10:21.004538
"""

from alembic import op
import sqlalchemy as sa
import tocsin.core.db


revision = "705a84c70f19"
down_revision = "f033751101bb"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ms_checkout",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tracker", sa.String(length=80), nullable=False),
        sa.Column("person", sa.String(length=120), nullable=False),
        sa.Column("shift_day", sa.Date(), nullable=False),
        sa.Column("shift", sa.String(length=5), nullable=False),
        sa.Column("out_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("out_by", sa.String(length=100), nullable=False),
        sa.Column("in_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("in_by", sa.String(length=100), nullable=True),
        sa.Column("in_battery_state", sa.String(length=12), nullable=True),
        sa.Column("in_battery_percent", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=500), server_default="", nullable=False),
        sa.CheckConstraint("shift IN ('day', 'night')", name=op.f("ck_ms_checkout_shift_known")),
        sa.CheckConstraint(
            "(in_at IS NULL) = (in_by IS NULL)", name=op.f("ck_ms_checkout_returned_by_someone")
        ),
        sa.CheckConstraint(
            "in_at IS NULL OR in_at >= out_at", name=op.f("ck_ms_checkout_returned_after_out")
        ),
        sa.ForeignKeyConstraint(
            ["tracker"], ["ms_tracker.id"], name=op.f("fk_ms_checkout_tracker_ms_tracker"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ms_checkout")),
    )
    with op.batch_alter_table("ms_checkout", schema=None) as batch_op:
        batch_op.create_index("ix_ms_checkout_shift", ["shift_day", "shift"], unique=False)
        batch_op.create_index(batch_op.f("ix_ms_checkout_tracker"), ["tracker"], unique=False)
        batch_op.create_index(
            "uq_ms_checkout_tracker_out",
            ["tracker"],
            unique=True,
            sqlite_where=sa.text("in_at IS NULL"),
            postgresql_where=sa.text("in_at IS NULL"),
        )

    with op.batch_alter_table("ms_tracker", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("assigned_to", sa.String(length=120), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("personnel_no", sa.String(length=20), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("battery_state", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("battery_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ms_tracker", schema=None) as batch_op:
        batch_op.drop_column("battery_at")
        batch_op.drop_column("battery_state")
        batch_op.drop_column("personnel_no")
        batch_op.drop_column("assigned_to")

    with op.batch_alter_table("ms_checkout", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_ms_checkout_tracker_out",
            sqlite_where=sa.text("in_at IS NULL"),
            postgresql_where=sa.text("in_at IS NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_ms_checkout_tracker"))
        batch_op.drop_index("ix_ms_checkout_shift")

    op.drop_table("ms_checkout")

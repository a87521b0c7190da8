"""minesafe mast health

Revision ID: f033751101bb
Revises: a6316051e0ac
Create Date: 2026-12-01 02:52:35.829797
"""

from alembic import op
import sqlalchemy as sa
import tocsin.core.db


revision = "f033751101bb"
down_revision = "a6316051e0ac"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ms_mast",
        sa.Column("gateway", sa.String(length=16), nullable=False),
        sa.Column("site", sa.String(length=60), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=True),
        sa.Column("last_heard", tocsin.core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_rssi", sa.Float(), nullable=True),
        sa.Column("last_snr", sa.Float(), nullable=True),
        sa.Column("rx_received", sa.Integer(), nullable=True),
        sa.Column("rx_ok", sa.Integer(), nullable=True),
        sa.Column("updated_at", tocsin.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gateway", name=op.f("pk_ms_mast")),
    )
    with op.batch_alter_table("ms_mast", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ms_mast_site"), ["site"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ms_mast", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ms_mast_site"))

    op.drop_table("ms_mast")

"""core: live events

Revision ID: 8a4a92d94dff
Revises: d4fda015d0f4
Create Date: 2026-11-30 19:10:12.660072
"""

from alembic import op
import sqlalchemy as sa
import tocsin.core.db
from sqlalchemy.dialects import postgresql


revision = "8a4a92d94dff"
down_revision = "d4fda015d0f4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # AUTOINCREMENT on SQLite: an event number is never given twice, even after a purge emptied the table.
    op.create_table(
        "live_event",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("topic", sa.String(length=100), nullable=False),
        sa.Column(
            "data",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("at", tocsin.core.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("topic <> ''", name=op.f("ck_live_event_topic_named")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_event")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("live_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_live_event_at"), ["at"], unique=False)
        batch_op.create_index("ix_live_event_topic_id", ["topic", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("live_event", schema=None) as batch_op:
        batch_op.drop_index("ix_live_event_topic_id")
        batch_op.drop_index(batch_op.f("ix_live_event_at"))
    op.drop_table("live_event")

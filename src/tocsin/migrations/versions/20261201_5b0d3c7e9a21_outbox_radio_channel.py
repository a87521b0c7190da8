"""outbox: the radio channel (buzzer commands sent by the process holding a desk's radio link)

Revision ID: 5b0d3c7e9a21
Revises: 1eb6942dd8cf
Create Date: 2026-12-01 03:10:00
"""

from alembic import op

revision = "5b0d3c7e9a21"
down_revision = "1eb6942dd8cf"
branch_labels = None
depends_on = None

NAME = "ck_outbox_message_channel_known"


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), "channel IN ('http', 'email', 'sms', 'push', 'radio')")


def downgrade() -> None:
    radio = "SELECT id FROM outbox_message WHERE channel = 'radio'"
    op.execute(f"DELETE FROM delivery_attempt WHERE message_id IN ({radio})")
    op.execute("DELETE FROM outbox_message WHERE channel = 'radio'")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_constraint(op.f(NAME), type_="check")
        batch_op.create_check_constraint(op.f(NAME), "channel IN ('http', 'email', 'sms', 'push')")

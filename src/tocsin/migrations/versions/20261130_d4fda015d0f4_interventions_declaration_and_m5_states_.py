"""interventions: declaration and M5 states are known values

Revision ID: d4fda015d0f4
Revises: 03b7f0ef6c9c
Create Date: 2026-11-30 20:16:37.150201
"""

from alembic import op
import sqlalchemy as sa
import tocsin.core.db


revision = "d4fda015d0f4"
down_revision = "03b7f0ef6c9c"
branch_labels = None
depends_on = None


DECLARATION = "('none', 'queued', 'ok', 'ko', 'failed', 'closed', 'replaced')"
M5 = "('none', 'sent', 'ok', 'ko', 'failed')"


def upgrade() -> None:
    # Autogenerate does not see CHECK constraints: written by hand from models.DeclarationState/M5State.
    with op.batch_alter_table("iv_declaration", schema=None) as batch_op:
        batch_op.create_check_constraint("m1_state_known", f"m1_state IN {DECLARATION}")
        batch_op.create_check_constraint("m3_state_known", f"m3_state IN {DECLARATION}")
    with op.batch_alter_table("iv_received", schema=None) as batch_op:
        batch_op.create_check_constraint("m5_state_known", f"m5_state IN {M5}")


def downgrade() -> None:
    with op.batch_alter_table("iv_received", schema=None) as batch_op:
        batch_op.drop_constraint("m5_state_known", type_="check")
    with op.batch_alter_table("iv_declaration", schema=None) as batch_op:
        batch_op.drop_constraint("m3_state_known", type_="check")
        batch_op.drop_constraint("m1_state_known", type_="check")

"""queue numbers in booking order (issue 16): how a service's waiting room numbers its residents

Revision ID: 0009_queue_order
Revises: 0008_reach
Create Date: 2026-12-03 16:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_queue_order"
down_revision = "0008_reach"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.add_column(sa.Column("queue_order", sa.String(length=16), nullable=False, server_default="check_in"))
        batch.create_check_constraint("ck_services_queue_order", "queue_order IN ('check_in', 'booking')")


def downgrade() -> None:
    with op.batch_alter_table("services") as batch:
        batch.drop_constraint("ck_services_queue_order", type_="check")
        batch.drop_column("queue_order")

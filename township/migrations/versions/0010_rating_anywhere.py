"""rating at the next visit to any kiosk (issue 16): when a booking's resident was invited to rate it, and by which kiosk

Revision ID: 0010_rating_anywhere
Revises: 0009_queue_order
Create Date: 2026-12-03 17:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_rating_anywhere"
down_revision = "0009_queue_order"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("rating_invited_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("rating_invited_device", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("rating_invited_device")
        batch.drop_column("rating_invited_at")

"""reaching the resident (issue 16): the SMS-reminder agreement a booking was made with

Revision ID: 0008_reach
Revises: 0007_day_of_session
Create Date: 2026-12-03 13:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_reach"
down_revision = "0007_day_of_session"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("reminder_notice", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("reminder_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("reminder_owner", sa.String(length=8), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("reminder_owner")
        batch.drop_column("reminder_at")
        batch.drop_column("reminder_notice")

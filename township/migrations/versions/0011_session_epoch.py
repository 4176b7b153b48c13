"""console sign-outs that last (issue 18): a per-account session epoch, bound into every signed session cookie and
raised by a password reset or a disable, so that every existing session of the account ends for good

Revision ID: 0011_session_epoch
Revises: 0010_rating_anywhere
Create Date: 2026-12-03 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_session_epoch"
down_revision = "0010_rating_anywhere"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("session_epoch")

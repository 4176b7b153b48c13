"""the county's view, follow-up (issue 18): low ratings marked as followed up (when, by whom, a sealed note), and
needs a county administrator forwarded to a township's administrators

Revision ID: 0012_follow_up
Revises: 0011_session_epoch
Create Date: 2026-12-03 18:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_follow_up"
down_revision = "0011_session_epoch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("followed_up_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("followed_up_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("follow_up_note", sa.Text(), nullable=True))
    op.create_table(
        "need_referrals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("township_id", sa.String(length=36), nullable=False),
        sa.Column("county_id", sa.String(length=36), nullable=False),
        sa.Column("village", sa.String(length=100), nullable=False),
        sa.Column("service_id", sa.String(length=36), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=16), nullable=False),
        sa.Column("weeks", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("sent_by", sa.String(length=64), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=False),
        sa.Column("handled_by", sa.String(length=64), nullable=True),
        sa.Column("handled_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_need_referrals_township_id_townships")
        ),
        sa.ForeignKeyConstraint(
            ["county_id"], ["counties.id"], name=op.f("fk_need_referrals_county_id_counties")
        ),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_need_referrals_service_id_services")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_need_referrals")),
    )
    op.create_index(op.f("ix_need_referrals_township_id"), "need_referrals", ["township_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_need_referrals_township_id"), table_name="need_referrals")
    op.drop_table("need_referrals")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("follow_up_note")
        batch.drop_column("followed_up_by")
        batch.drop_column("followed_up_at")

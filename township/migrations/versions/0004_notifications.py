"""messages to residents (issue 16): the notification outbox and each township's SMS settings

Revision ID: 0004_notifications
Revises: 0003_maintenance_runs
Create Date: 2026-12-03 08:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_notifications"
down_revision = "0003_maintenance_runs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("township_id", sa.String(length=36), nullable=False),
        sa.Column("booking_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("dedupe_key", sa.String(length=120), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="queued", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("provider_message_id", sa.String(length=80), nullable=True),
        sa.Column("last_error", sa.String(length=80), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"], ["bookings.id"], name=op.f("fk_notifications_booking_id_bookings")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_notifications_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("township_id", "dedupe_key", name="uq_notifications_township_dedupe_key"),
    )
    op.create_index("ix_notifications_due", "notifications", ["status", "next_attempt_at"])
    op.create_index(op.f("ix_notifications_booking_id"), "notifications", ["booking_id"])
    op.create_index(op.f("ix_notifications_township_id"), "notifications", ["township_id"])
    op.create_table(
        "notify_settings",
        sa.Column("township_id", sa.String(length=36), nullable=False),
        sa.Column("provider", sa.String(length=16), server_default="off", nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=True),
        sa.Column("quiet_from", sa.String(length=5), server_default="21:00", nullable=False),
        sa.Column("quiet_until", sa.String(length=5), server_default="08:00", nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_notify_settings_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("township_id", name=op.f("pk_notify_settings")),
    )


def downgrade() -> None:
    op.drop_table("notify_settings")
    op.drop_index(op.f("ix_notifications_township_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_booking_id"), table_name="notifications")
    op.drop_index("ix_notifications_due", table_name="notifications")
    op.drop_table("notifications")

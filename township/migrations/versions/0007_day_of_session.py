"""the day of the session (issue 16): queue numbers on bookings, the waiting-room calls kiosks long-poll for

Revision ID: 0007_day_of_session
Revises: 0005_county_insight
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_day_of_session"
down_revision = "0006_staff_levels"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bookings") as batch:
        batch.add_column(sa.Column("queue_number", sa.Integer(), nullable=True))
    op.create_table(
        "calls",
        sa.Column("seq", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("township_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("booking_id", sa.String(length=36), nullable=False),
        sa.Column("device_id", sa.String(length=36), nullable=False),
        sa.Column("queue_number", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("room", sa.String(length=100), server_default="", nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("who", sa.String(length=64), nullable=False),
        sa.Column("staff_id", sa.String(length=36), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("client_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_calls_township_id_townships")
        ),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], name=op.f("fk_calls_session_id_sessions")),
        sa.ForeignKeyConstraint(["booking_id"], ["bookings.id"], name=op.f("fk_calls_booking_id_bookings")),
        sa.ForeignKeyConstraint(["device_id"], ["devices.id"], name=op.f("fk_calls_device_id_devices")),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_calls")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_calls_township_id"), "calls", ["township_id"])
    op.create_index("ix_calls_device_seq", "calls", ["device_id", "seq"])
    op.create_index("ix_calls_booking", "calls", ["booking_id"])


def downgrade() -> None:
    op.drop_table("calls")
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("queue_number")

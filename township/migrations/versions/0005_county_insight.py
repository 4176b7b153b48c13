"""the county's view (issue 18): counties above townships, unmet demand, the weekly rollup behind the dashboard

Revision ID: 0005_county_insight
Revises: 0004_notifications
Create Date: 2026-12-03 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_county_insight"
down_revision = "0004_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counties",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("zone", sa.String(length=64), server_default="Asia/Shanghai", nullable=False),
        sa.Column("locale", sa.String(length=16), server_default="zh_CN", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_counties")),
        sa.UniqueConstraint("slug", name=op.f("uq_counties_slug")),
    )
    with op.batch_alter_table("townships") as batch:
        batch.add_column(sa.Column("county_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(op.f("fk_townships_county_id_counties"), "counties", ["county_id"], ["id"])
        batch.create_index(op.f("ix_townships_county_id"), ["county_id"])
    op.create_table(
        "unmet_demand",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("township_id", sa.String(length=36), nullable=False),
        sa.Column("village", sa.String(length=100), server_default="", nullable=False),
        sa.Column("service_id", sa.String(length=36), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("provider_id", sa.String(length=36), nullable=True),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("band", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"], ["services.id"], name=op.f("fk_unmet_demand_service_id_services")
        ),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name=op.f("fk_unmet_demand_session_id_sessions")
        ),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_unmet_demand_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_unmet_demand")),
    )
    op.create_index(op.f("ix_unmet_demand_township_id"), "unmet_demand", ["township_id"])
    op.create_index("ix_unmet_demand_township_week", "unmet_demand", ["township_id", "week"])
    op.create_table(
        "insight_weekly",
        sa.Column("township_id", sa.String(length=36), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("village", sa.String(length=100), nullable=False),
        sa.Column("service_id", sa.String(length=36), nullable=False),
        sa.Column("provider_id", sa.String(length=36), nullable=False),
        sa.Column("bookings", sa.Integer(), nullable=False),
        sa.Column("attended", sa.Integer(), nullable=False),
        sa.Column("no_show", sa.Integer(), nullable=False),
        sa.Column("waitlisted", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.Column("ratings", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("low_ratings", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_insight_weekly_township_id_townships")
        ),
        sa.PrimaryKeyConstraint(
            "township_id", "week", "village", "service_id", "provider_id", name="pk_insight_weekly"
        ),
    )
    op.create_table(
        "insight_weeks",
        sa.Column("township_id", sa.String(length=36), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["township_id"], ["townships.id"], name=op.f("fk_insight_weeks_township_id_townships")
        ),
        sa.PrimaryKeyConstraint("township_id", "week", name="pk_insight_weeks"),
    )
    op.create_index("ix_feedback_township_created", "feedback", ["township_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_feedback_township_created", table_name="feedback")
    op.drop_table("insight_weeks")
    op.drop_table("insight_weekly")
    op.drop_index("ix_unmet_demand_township_week", table_name="unmet_demand")
    op.drop_index(op.f("ix_unmet_demand_township_id"), table_name="unmet_demand")
    op.drop_table("unmet_demand")
    with op.batch_alter_table("townships") as batch:
        batch.drop_index(op.f("ix_townships_county_id"))
        batch.drop_constraint(op.f("fk_townships_county_id_counties"), type_="foreignkey")
        batch.drop_column("county_id")
    op.drop_table("counties")

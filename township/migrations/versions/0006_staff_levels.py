"""levels of console accounts (issue 18): county accounts, provider accounts, the county's own audit entries

Revision ID: 0006_staff_levels
Revises: 0005_county_insight
Create Date: 2026-12-03 13:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_staff_levels"
down_revision = "0005_county_insight"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows are township accounts (admin | reviewer): every check below holds for them.
    with op.batch_alter_table("staff_users") as batch:
        batch.alter_column("township_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column("county_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("provider_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(op.f("fk_staff_users_county_id_counties"), "counties", ["county_id"], ["id"])
        batch.create_foreign_key(
            op.f("fk_staff_users_provider_id_providers"), "providers", ["provider_id"], ["id"]
        )
        batch.create_index(op.f("ix_staff_users_county_id"), ["county_id"])
        batch.create_unique_constraint("uq_staff_users_county_username", ["county_id", "username"])
        batch.create_check_constraint(
            "ck_staff_users_one_level", "(township_id IS NULL) <> (county_id IS NULL)"
        )
        batch.create_check_constraint(
            "ck_staff_users_county_role", "(role = 'county_admin') = (county_id IS NOT NULL)"
        )
        batch.create_check_constraint(
            "ck_staff_users_provider", "(role = 'provider') = (provider_id IS NOT NULL)"
        )
    with op.batch_alter_table("staff_audit") as batch:
        batch.alter_column("township_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column("county_id", sa.String(length=36), nullable=True))
        batch.create_foreign_key(op.f("fk_staff_audit_county_id_counties"), "counties", ["county_id"], ["id"])
        batch.create_index(op.f("ix_staff_audit_county_id"), ["county_id"])


def downgrade() -> None:
    # Only township accounts and township entries fit the old tables.
    op.execute("DELETE FROM staff_audit WHERE township_id IS NULL")
    op.execute("DELETE FROM staff_users WHERE township_id IS NULL OR role = 'provider'")
    with op.batch_alter_table("staff_audit") as batch:
        batch.drop_index(op.f("ix_staff_audit_county_id"))
        batch.drop_constraint(op.f("fk_staff_audit_county_id_counties"), type_="foreignkey")
        batch.drop_column("county_id")
        batch.alter_column("township_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_constraint("ck_staff_users_provider", type_="check")
        batch.drop_constraint("ck_staff_users_county_role", type_="check")
        batch.drop_constraint("ck_staff_users_one_level", type_="check")
        batch.drop_constraint("uq_staff_users_county_username", type_="unique")
        batch.drop_index(op.f("ix_staff_users_county_id"))
        batch.drop_constraint(op.f("fk_staff_users_provider_id_providers"), type_="foreignkey")
        batch.drop_constraint(op.f("fk_staff_users_county_id_counties"), type_="foreignkey")
        batch.drop_column("provider_id")
        batch.drop_column("county_id")
        batch.alter_column("township_id", existing_type=sa.String(length=36), nullable=False)

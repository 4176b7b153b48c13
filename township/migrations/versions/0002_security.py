"""security findings (issue 14): sign-outs and sign-in throttling in the database, the backend's receive time
for kiosk audit entries, the contact details a booking was made with

Revision ID: 0002_security
Revises: 0001
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0002_security'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('console_revoked',
    sa.Column('sid', sa.String(length=64), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('sid', name=op.f('pk_console_revoked'))
    )
    with op.batch_alter_table('console_revoked', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_console_revoked_expires_at'), ['expires_at'], unique=False)

    op.create_table('signin_throttle',
    sa.Column('key', sa.String(length=80), nullable=False),
    sa.Column('failures', sa.Integer(), server_default='0', nullable=False),
    sa.Column('window_start', sa.DateTime(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_signin_throttle'))
    )
    with op.batch_alter_table('staff_audit', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_name', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('contact_phone', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('contact_village', sa.String(length=100), nullable=True))
    # Bookings made before this keep the details their resident has now (the best there is).
    op.execute("UPDATE bookings SET contact_name = (SELECT name FROM residents WHERE residents.id = "
               "bookings.resident_id), contact_phone = (SELECT phone FROM residents WHERE residents.id = "
               "bookings.resident_id), contact_village = (SELECT village FROM residents WHERE residents.id = "
               "bookings.resident_id)")


def downgrade() -> None:
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.drop_column('contact_village')
        batch_op.drop_column('contact_phone')
        batch_op.drop_column('contact_name')
    with op.batch_alter_table('staff_audit', schema=None) as batch_op:
        batch_op.drop_column('client_at')
    op.drop_table('signin_throttle')
    with op.batch_alter_table('console_revoked', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_console_revoked_expires_at'))
    op.drop_table('console_revoked')

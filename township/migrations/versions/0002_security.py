"""security findings (issue 14): sign-outs and sign-in throttling in the database, the backend's receive time
for kiosk audit entries, the contact details a booking was made with; residents' ID numbers, names and phones
encrypted with the key outside the database (township.keys), ID numbers matched by a blind index

Revision ID: 0002_security
Revises: 0001
Create Date: 2026-12-02 18:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op


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
    with op.batch_alter_table('townships', schema=None) as batch_op:
        batch_op.add_column(sa.Column('retention_months', sa.Integer(), server_default='24', nullable=False))
    with op.batch_alter_table('bookings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('contact_name_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('contact_phone_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('contact_village', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('consent_notice', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('consent_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('id_blind', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('id_number_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('name_enc', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('phone_enc', sa.Text(), nullable=True))
    _encrypt_existing()
    with op.batch_alter_table('residents', schema=None) as batch_op:
        batch_op.drop_constraint('uq_residents_township_id_number', type_='unique')
        batch_op.drop_column('id_number')
        batch_op.drop_column('name')
        batch_op.drop_column('phone')
        batch_op.alter_column('id_blind', existing_type=sa.String(length=64), nullable=False)
        batch_op.alter_column('id_number_enc', existing_type=sa.Text(), nullable=False)
        batch_op.alter_column('name_enc', existing_type=sa.Text(), nullable=False)
        batch_op.create_unique_constraint('uq_residents_township_id_blind', ['township_id', 'id_blind'])


def _encrypt_existing() -> None:
    """Residents' clear fields → encrypted and blind-indexed; each booking gets its resident's details as the ones
    it was made with (the best there is for bookings made before)."""
    from cunzhan.fieldcrypto import field_ref
    from township import keys

    bind = op.get_bind()
    url = context.config.get_main_option("sqlalchemy.url") or bind.engine.url.render_as_string(hide_password=False)
    cipher = keys.data_cipher(url)
    residents = bind.execute(sa.text("SELECT id, id_number, name, phone, village FROM residents")).all()
    by_id = {}
    for r in residents:
        by_id[r.id] = r
        bind.execute(sa.text("UPDATE residents SET id_blind = :blind, id_number_enc = :number, name_enc = :name, "
                             "phone_enc = :phone WHERE id = :id"), {
            "id": r.id, "blind": cipher.lookup_hash(r.id_number),
            "number": cipher.encrypt(r.id_number, where=field_ref("residents", "id_number_enc", r.id)),
            "name": cipher.encrypt(r.name, where=field_ref("residents", "name_enc", r.id)),
            "phone": cipher.encrypt(r.phone, where=field_ref("residents", "phone_enc", r.id))})
    bookings = sa.table("bookings", sa.column("id", sa.String()), sa.column("for_dependent", sa.JSON()),
                        sa.column("dependent_key", sa.String()))
    for b in bind.execute(sa.select(bookings.c.id, bookings.c.for_dependent)).all():
        dep = b.for_dependent
        if isinstance(dep, dict) and dep.get("name"):
            name = str(dep["name"]).strip()[:64]
            sealed = {"name_enc": cipher.encrypt(name, where=field_ref("bookings", "for_dependent.name", b.id)),
                      "relation": dep.get("relation"), "birth_year": dep.get("birth_year")}
            bind.execute(sa.update(bookings).where(bookings.c.id == b.id).values(
                for_dependent=sealed, dependent_key=cipher.lookup_hash(name)))
    for b in bind.execute(sa.text("SELECT id, resident_id FROM bookings")).all():
        r = by_id.get(b.resident_id)
        if r is None:
            continue
        bind.execute(sa.text("UPDATE bookings SET contact_name_enc = :name, contact_phone_enc = :phone, "
                             "contact_village = :village WHERE id = :id"), {
            "id": b.id, "village": r.village,
            "name": cipher.encrypt(r.name, where=field_ref("bookings", "contact_name_enc", b.id)),
            "phone": cipher.encrypt(r.phone, where=field_ref("bookings", "contact_phone_enc", b.id))})


def downgrade() -> None:
    # Back to clear fields would need the key and would undo the protection: not supported.
    raise NotImplementedError("0002_security cannot be downgraded (it encrypts residents' data)")

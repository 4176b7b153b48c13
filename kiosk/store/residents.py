"""Residents and their dependents (personal fields sealed)."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

from cunzhan.fieldcrypto import field_ref
from kiosk.store.base import StoreBase, from_text, to_text, utc_now

if TYPE_CHECKING:
    from cunzhan.models import (
        Dependent,
        Resident,
    )


class Residents(StoreBase):
    # --- residents --------------------------------------------------------------------------------------------------

    def save_resident(self, resident: Resident, *, conn: sqlite3.Connection | None = None) -> Resident:
        """Insert or update a resident (matched by ID number); returns it with its stored id."""
        from cunzhan import identity
        from cunzhan.models import Dependent, Resident

        c = self.cipher
        id_hash = c.lookup_hash(resident.id_number)

        def write(cx: sqlite3.Connection) -> Resident:
            existing = cx.execute("SELECT id FROM residents WHERE id_hash = ?", (id_hash,)).fetchone()
            rid = existing[0] if existing else resident.id
            cx.execute(
                "INSERT INTO residents (id, id_hash, id_masked, name_enc, id_number_enc, phone_enc, phone_masked, "
                "village, suggestions_consent, remembered_profile, created_at, reminder_owner, reminder_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET name_enc = excluded.name_enc, phone_enc = excluded.phone_enc, "
                "phone_masked = excluded.phone_masked, village = excluded.village, "
                "suggestions_consent = excluded.suggestions_consent, remembered_profile = excluded.remembered_profile, "
                "reminder_owner = excluded.reminder_owner, reminder_at = excluded.reminder_at",
                (
                    rid,
                    id_hash,
                    identity.mask_id(resident.id_number),
                    c.encrypt(resident.name, where=field_ref("residents", "name_enc", rid)),
                    c.encrypt(resident.id_number, where=field_ref("residents", "id_number_enc", rid)),
                    c.encrypt(resident.phone, where=field_ref("residents", "phone_enc", rid)),
                    identity.mask_phone(resident.phone) if resident.phone else None,
                    resident.village,
                    int(resident.suggestions_consent),
                    resident.remembered_profile,
                    to_text(utc_now()),
                    resident.reminder_owner if resident.phone else None,
                    to_text(resident.reminder_at) if resident.phone and resident.reminder_at else None,
                ),
            )
            for d in resident.dependents:
                cx.execute(
                    "INSERT INTO dependents (id, resident_id, name_enc, relation, birth_year) "
                    "VALUES (?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET name_enc = excluded.name_enc, "
                    "relation = excluded.relation, birth_year = excluded.birth_year",
                    (
                        d.id,
                        rid,
                        c.encrypt(d.name, where=field_ref("dependents", "name_enc", d.id)),
                        d.relation,
                        d.birth_year,
                    ),
                )
            return Resident(
                rid,
                resident.name,
                resident.id_number,
                resident.phone,
                resident.village,
                resident.suggestions_consent,
                resident.remembered_profile,
                tuple(Dependent(d.id, rid, d.name, d.relation, d.birth_year) for d in resident.dependents),
                resident.reminder_owner if resident.phone else None,
                resident.reminder_at if resident.phone else None,
            )

        if conn is not None:
            return write(conn)
        with self.transaction() as cx:
            return write(cx)

    def find_resident(self, id_number: str) -> Resident | None:
        rows = self.query("SELECT * FROM residents WHERE id_hash = ?", (self.cipher.lookup_hash(id_number),))
        return self._resident(rows[0]) if rows else None

    def resident(self, resident_id: str) -> Resident | None:
        rows = self.query("SELECT * FROM residents WHERE id = ?", (resident_id,))
        return self._resident(rows[0]) if rows else None

    def resident_masked_id(self, resident_id: str) -> str:
        rows = self.query("SELECT id_masked FROM residents WHERE id = ?", (resident_id,))
        return str(rows[0]["id_masked"]) if rows else ""

    def _resident(self, row: dict[str, Any]) -> Resident:
        from cunzhan.models import Dependent, Resident

        c = self.cipher
        deps = tuple(
            Dependent(
                d["id"],
                d["resident_id"],
                c.decrypt(d["name_enc"], where=field_ref("dependents", "name_enc", d["id"])) or "",
                d["relation"],
                d["birth_year"],
            )
            for d in self.query("SELECT * FROM dependents WHERE resident_id = ? ORDER BY rowid", (row["id"],))
        )
        rid = row["id"]
        return Resident(
            rid,
            c.decrypt(row["name_enc"], where=field_ref("residents", "name_enc", rid)) or "",
            c.decrypt(row["id_number_enc"], where=field_ref("residents", "id_number_enc", rid)) or "",
            c.decrypt(row["phone_enc"], where=field_ref("residents", "phone_enc", rid)),
            row["village"],
            bool(row["suggestions_consent"]),
            row["remembered_profile"],
            deps,
            row["reminder_owner"],
            from_text(row["reminder_at"]) if row["reminder_at"] else None,
        )

    def dependent(self, dependent_id: str) -> Dependent | None:
        rows = self.query("SELECT * FROM dependents WHERE id = ?", (dependent_id,))
        if not rows:
            return None
        d = rows[0]
        from cunzhan.models import Dependent

        name = self.cipher.decrypt(d["name_enc"], where=field_ref("dependents", "name_enc", d["id"]))
        return Dependent(d["id"], d["resident_id"], name or "", d["relation"], d["birth_year"])

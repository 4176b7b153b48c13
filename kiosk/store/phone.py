"""Bookings the township made by phone for this kiosk (电话预约; docs/sync.md, "Phone bookings").

Such a booking arrives in a pull without the resident's details: only `match`, the resident's ID number hashed under
this kiosk's match key (sent with the page, kept sealed here). Until the resident types their ID number at this
kiosk, it belongs to a stand-in resident whose `id_hash` is `match:` + that hash (no name, number or phone). When
they identify (`find_resident`, which every way of identifying goes through), the stand-in becomes their record, or
its bookings move to the record this kiosk already had: the booking then shows among theirs and checks in as any.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from cunzhan.fieldcrypto import field_ref, match_hash
from kiosk.store.base import to_text, utc_now
from kiosk.store.bookings import Bookings
from kiosk.store.residents import Residents
from kiosk.store.sync_state import SyncKey

if TYPE_CHECKING:
    from cunzhan.models import Resident

MATCH = "match:"  # + the resident's match: the id_hash of a stand-in resident (a keyed hash is plain hex)


class PhoneBookings(Residents, Bookings):
    def set_match_key(self, conn: sqlite3.Connection, key_hex: str) -> None:
        """Keep the match key a pull page carried, sealed like personal fields (with the matches it would let one
        test guessed ID numbers)."""
        if len(key_hex) != 64 or any(ch not in "0123456789abcdef" for ch in key_hex):
            raise ValueError("not a match key")
        sealed = self.cipher.encrypt(key_hex, where=field_ref("sync_state", "value", SyncKey.MATCH_KEY))
        assert sealed is not None
        self.set_state(SyncKey.MATCH_KEY, sealed, conn)

    def match_key(self) -> str | None:
        sealed = self.state(SyncKey.MATCH_KEY)
        if not sealed:
            return None
        return self.cipher.decrypt(sealed, where=field_ref("sync_state", "value", SyncKey.MATCH_KEY))

    def receive_phone_booking(
        self,
        conn: sqlite3.Connection,
        *,
        booking_id: str,
        code: str,
        session_id: str,
        status: str,
        version: int,
        message: str,
        match: str,
    ) -> None:
        """A phone booking this kiosk does not hold yet, for the resident with this `match` (inside the pull's
        transaction). Several bookings of one resident share their stand-in; a code already used here (it cannot
        be: phone codes start with 00) leaves the booking out rather than fail the page."""
        if conn.execute("SELECT 1 FROM bookings WHERE code = ?", (code,)).fetchone():
            return
        found = conn.execute("SELECT id FROM residents WHERE id_hash = ?", (MATCH + match,)).fetchone()
        if found is not None:
            resident_id = str(found[0])
        else:
            resident_id = (
                booking_id  # a fresh id: the stand-in is made with the resident's first phone booking
            )
            c = self.cipher
            conn.execute(
                "INSERT INTO residents (id, id_hash, id_masked, name_enc, id_number_enc, created_at) "
                "VALUES (?,?,?,?,?,?)",
                (
                    resident_id,
                    MATCH + match,
                    "",
                    c.encrypt("", where=field_ref("residents", "name_enc", resident_id)),
                    c.encrypt("", where=field_ref("residents", "id_number_enc", resident_id)),
                    to_text(utc_now()),
                ),
            )
        now = to_text(utc_now())
        conn.execute(
            "INSERT INTO bookings (id, code, session_id, resident_id, status, channel, version, message, "
            "created_at, updated_at) VALUES (?,?,?,?,?,'assisted',?,?,?,?)",
            (booking_id, code, session_id, resident_id, status, version, message, now, now),
        )
        self.keep_number(conn, booking_id, session_id)  # its place in booking order: when it arrives here

    def find_resident(self, id_number: str) -> Resident | None:
        self.claim_phone_bookings(id_number)
        return super().find_resident(id_number)

    def claim_phone_bookings(self, id_number: str) -> None:
        """The resident typed their ID number: the phone bookings made for it become theirs (see the module)."""
        # A range, not LIKE, so the unique index on id_hash answers it.
        if not self.query("SELECT 1 FROM residents WHERE id_hash >= 'match:' AND id_hash < 'match;' LIMIT 1"):
            return  # nothing waits (the usual case: one indexed look-up)
        key = self.match_key()
        if key is None:
            return
        stand_in = MATCH + match_hash(key, id_number)
        if self.conn.in_transaction:  # called inside a caller's transaction: claim in it
            self._claim(self.conn, stand_in, id_number)
            return
        with self.transaction() as conn:
            self._claim(conn, stand_in, id_number)

    def _claim(self, conn: sqlite3.Connection, stand_in: str, id_number: str) -> None:
        from cunzhan import identity

        own = self.cipher.lookup_hash(id_number)
        found = conn.execute("SELECT id FROM residents WHERE id_hash = ?", (stand_in,)).fetchone()
        if found is None:
            return
        known = conn.execute("SELECT id FROM residents WHERE id_hash = ?", (own,)).fetchone()
        if known is not None:
            conn.execute("UPDATE bookings SET resident_id = ? WHERE resident_id = ?", (known[0], found[0]))
            conn.execute("DELETE FROM residents WHERE id = ?", (found[0],))
            return
        rid = str(found[0])
        number = id_number.strip().upper()
        conn.execute(
            "UPDATE residents SET id_hash = ?, id_masked = ?, id_number_enc = ? WHERE id = ?",
            (
                own,
                identity.mask_id(number),
                self.cipher.encrypt(number, where=field_ref("residents", "id_number_enc", rid)),
                rid,
            ),
        )

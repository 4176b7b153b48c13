"""Bookings, the outbox, erasure and the kiosk's session leases."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from cunzhan.fieldcrypto import field_ref
from kiosk.store.base import ERASED, from_text, new_id, to_text, utc_now
from kiosk.store.sync_state import SyncState, lease_counted_key

if TYPE_CHECKING:
    from cunzhan.models import (
        Booking,
        BookingStatus,
        Feedback,
    )


# An outbox row about an erased booking (the booking's own ops, or its feedback's).
_ERASED_OP = (
    "(entity_id IN (SELECT id FROM bookings WHERE erased = 1) OR entity_id IN "
    "(SELECT f.id FROM feedback f JOIN bookings b ON b.id = f.booking_id WHERE b.erased = 1))"
)


class Bookings(SyncState):
    # --- bookings and the outbox ------------------------------------------------------------------------------------

    def enqueue(
        self,
        conn: sqlite3.Connection,
        *,
        entity: str,
        entity_id: str,
        kind: str,
        payload: Mapping[str, Any],
        base_version: int | None = None,
    ) -> str:
        """Append one op to the outbox inside the caller's transaction; returns its op_id."""
        op_id = new_id()
        conn.execute(
            "INSERT INTO outbox (op_id, entity, entity_id, kind, base_version, payload_enc, created_at) "
            "VALUES (?,?,?,?,?,?,?)",
            (
                op_id,
                entity,
                entity_id,
                kind,
                base_version,
                self.cipher.encrypt(
                    json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
                    where=field_ref("outbox", "payload_enc", op_id),
                ),
                to_text(utc_now()),
            ),
        )
        return op_id

    def insert_booking(self, conn: sqlite3.Connection, booking: Booking) -> None:
        now = to_text(utc_now())
        conn.execute(
            "INSERT INTO bookings (id, code, session_id, resident_id, dependent_id, status, channel, staff_id, "
            "lease, waitlist, version, message, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                booking.id,
                booking.code,
                booking.session_id,
                booking.resident_id,
                booking.dependent_id,
                booking.status.value,
                booking.channel.value,
                booking.staff_id,
                int(booking.lease),
                int(booking.waitlist),
                booking.version,
                booking.message,
                to_text(booking.created_at),
                now,
            ),
        )
        self.keep_number(conn, booking.id, booking.session_id)

    def keep_number(self, conn: sqlite3.Connection, booking_id: str, session_id: str) -> None:
        """Booking order (#16): a booking stored here, or moved to another session, keeps the next number of its
        session's waiting room when the session's service numbers residents in booking order; it is given the number
        at check-in (`give_queue_number`). The same counter as check-in numbers, so the two never meet, whatever the
        service's setting was when."""
        from cunzhan.models import QueueOrder

        row = conn.execute(
            "SELECT v.queue_order FROM sessions s JOIN services v ON v.id = s.service_id WHERE s.id = ?",
            (session_id,),
        ).fetchone()
        in_order = row is not None and row[0] == QueueOrder.BOOKING.value
        kept = self.next_counter(conn, "queue:" + session_id) if in_order else None
        conn.execute("UPDATE bookings SET kept_number = ? WHERE id = ?", (kept, booking_id))

    def keep_numbers(self, conn: sqlite3.Connection, service_id: str) -> None:
        """A service changed to booking order: the bookings here of its coming sessions that have no number yet keep
        theirs, in the order they were made."""
        from cunzhan.models import CHANGEABLE

        waiting = sorted(status.value for status in CHANGEABLE)  # not checked in yet
        rows = conn.execute(
            "SELECT b.id, b.session_id FROM bookings b JOIN sessions s ON s.id = b.session_id "
            "WHERE s.service_id = ? AND b.kept_number IS NULL AND b.queue_number IS NULL "
            f"AND b.status IN ({','.join('?' * len(waiting))}) ORDER BY b.created_at, b.code",
            (service_id, *waiting),
        ).fetchall()
        for booking_id, session_id in rows:
            self.keep_number(conn, booking_id, session_id)

    def set_booking_status(
        self,
        conn: sqlite3.Connection,
        booking_id: str,
        status: BookingStatus,
        *,
        message: str | None = None,
        session_id: str | None = None,
        version: int | None = None,
    ) -> None:
        sets = ["status = ?", "updated_at = ?"]
        params: list[Any] = [status.value, to_text(utc_now())]
        if message is not None:
            sets.append("message = ?")
            params.append(message)
        moved = False
        if session_id is not None:
            sets.append("session_id = ?")
            params.append(session_id)
            was = conn.execute("SELECT session_id FROM bookings WHERE id = ?", (booking_id,)).fetchone()
            moved = was is not None and was[0] != session_id
        if version is not None:
            sets.append("version = ?")
            params.append(version)
        conn.execute(f"UPDATE bookings SET {', '.join(sets)} WHERE id = ?", (*params, booking_id))
        if moved and session_id is not None:
            self.keep_number(conn, booking_id, session_id)  # its place in the new session's booking order

    def booking(self, booking_id: str) -> Booking | None:
        rows = self.query("SELECT * FROM bookings WHERE id = ?", (booking_id,))
        return _bookings(rows)[0] if rows else None

    def booking_to_rate(self, resident_id: str) -> Booking | None:
        """The resident's latest attended booking here that was neither rated nor asked about (#16: the invitation
        to rate at the next visit)."""
        rows = self.query(
            "SELECT * FROM bookings b WHERE resident_id = ? AND status = 'attended' AND rating_asked = 0 "
            "AND erased = 0 AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.booking_id = b.id) "
            "ORDER BY updated_at DESC LIMIT 1",
            (resident_id,),
        )
        return _bookings(rows)[0] if rows else None

    def mark_rating_asked(self, booking_id: str) -> None:
        """The resident was invited to rate `booking_id`: not again."""
        with self.transaction() as conn:
            conn.execute("UPDATE bookings SET rating_asked = 1 WHERE id = ?", (booking_id,))

    def booking_by_code(self, code: str) -> Booking | None:
        rows = self.query("SELECT * FROM bookings WHERE code = ?", (code,))
        return _bookings(rows)[0] if rows else None

    def bookings_for_resident(self, resident_id: str) -> list[Booking]:
        rows = self.query(
            "SELECT b.* FROM bookings b LEFT JOIN sessions s ON s.id = b.session_id "
            "WHERE b.resident_id = ? ORDER BY s.starts_at DESC",
            (resident_id,),
        )
        return _bookings(rows)

    def bookings_for_session(self, session_id: str) -> list[Booking]:
        return _bookings(self.query("SELECT * FROM bookings WHERE session_id = ?", (session_id,)))

    def has_booking(
        self,
        *,
        session_id: str,
        resident_id: str,
        dependent_id: str | None,
        statuses: Iterable[BookingStatus],
    ) -> bool:
        """Whether this resident (or this dependent of theirs) already has a booking for the session in one of
        `statuses`."""
        values = tuple(s.value for s in statuses)
        return bool(
            self.query(
                "SELECT 1 FROM bookings WHERE session_id = ? AND resident_id = ? AND coalesce(dependent_id, '') = ? "
                f"AND status IN ({','.join('?' * len(values))}) LIMIT 1",
                (session_id, resident_id, dependent_id or "", *values),
            )
        )

    def clear_waitlist(self, conn: sqlite3.Connection, booking_id: str) -> None:
        conn.execute("UPDATE bookings SET waitlist = 0 WHERE id = ?", (booking_id,))

    def seats_held_unsent(self, session_id: str) -> int:
        """Pool seats taken by this kiosk's bookings that have not reached the backend yet (lease-backed ones use
        the lease's seats, which the backend already keeps out of the shared pool)."""
        rows = self.query(
            "SELECT count(*) AS n FROM bookings b WHERE b.session_id = ? AND b.status IN ('requested', 'confirmed') "
            "AND b.waitlist = 0 AND b.lease = 0 AND EXISTS (SELECT 1 FROM outbox o WHERE o.entity_id = b.id "
            "AND o.state = 'pending' AND o.kind IN ('create', 'reschedule'))",
            (session_id,),
        )
        return int(rows[0]["n"])

    # --- the waiting room (#16) ------------------------------------------------------------------------------------

    def give_queue_number(self, conn: sqlite3.Connection, booking_id: str, session_id: str) -> int:
        """`booking_id`'s number in `session_id`'s waiting room on this kiosk (inside the caller's check-in
        transaction): the number kept for it when it was booked if its service numbers in booking order, else the
        next one. A counter, not max()+1: a number once given or kept is never given again, even after its booking is
        erased or the kiosk restarts."""
        row = conn.execute(
            "SELECT b.kept_number, v.queue_order FROM bookings b JOIN sessions s ON s.id = b.session_id "
            "JOIN services v ON v.id = s.service_id WHERE b.id = ?",
            (booking_id,),
        ).fetchone()
        from cunzhan.models import QueueOrder

        if row is not None and row[0] is not None and row[1] == QueueOrder.BOOKING.value:
            number = int(row[0])  # booking order: the number kept for it when it was booked
        else:
            number = self.next_counter(conn, "queue:" + session_id)
        conn.execute("UPDATE bookings SET queue_number = ? WHERE id = ?", (number, booking_id))
        return number

    def queue_number(self, booking_id: str) -> int | None:
        rows = self.query("SELECT queue_number FROM bookings WHERE id = ?", (booking_id,))
        return int(rows[0]["queue_number"]) if rows and rows[0]["queue_number"] is not None else None

    def waiting_room(self, session_id: str) -> list[tuple[Booking, int, str | None]]:
        """The session's checked-in bookings with their numbers and last call (`call`/`recall`/`skip`, None when
        not called yet), by number."""
        rows = self.query(
            "SELECT * FROM bookings WHERE session_id = ? AND queue_number IS NOT NULL ORDER BY queue_number",
            (session_id,),
        )
        return [(b, int(r["queue_number"]), r["called"]) for b, r in zip(_bookings(rows), rows, strict=True)]

    def last_called(self, session_id: str) -> tuple[Booking, int, str] | None:
        """The booking of the session called most recently (here or from the console), its number and that call."""
        rows = self.query(
            "SELECT * FROM bookings WHERE session_id = ? AND queue_number IS NOT NULL AND called IS NOT NULL "
            "ORDER BY called_at DESC, queue_number DESC LIMIT 1",
            (session_id,),
        )
        return (_bookings(rows)[0], int(rows[0]["queue_number"]), str(rows[0]["called"])) if rows else None

    def mark_called(
        self, conn: sqlite3.Connection | None, booking_id: str, action: str, at: dt.datetime
    ) -> bool:
        """Remember the last call of a booking (made here or in the console), so 叫下一位 passes over it. False when
        this kiosk does not hold the booking."""
        sql = "UPDATE bookings SET called = ?, called_at = ? WHERE id = ?"
        if conn is not None:
            return conn.execute(sql, (action, to_text(at), booking_id)).rowcount > 0
        with self.transaction() as own:
            return own.execute(sql, (action, to_text(at), booking_id)).rowcount > 0

    # --- feedback ---------------------------------------------------------------------------------------------------

    def insert_feedback(self, conn: sqlite3.Connection, feedback: Feedback) -> None:
        """A resident's rating of an attended booking (the comment sealed)."""
        conn.execute(
            "INSERT INTO feedback (id, booking_id, rating, reasons, comment_enc, created_at) VALUES (?,?,?,?,?,?)",
            (
                feedback.id,
                feedback.booking_id,
                feedback.rating,
                json.dumps(list(feedback.reasons), ensure_ascii=False),
                self.cipher.encrypt(
                    feedback.comment, where=field_ref("feedback", "comment_enc", feedback.id)
                ),
                to_text(utc_now()),
            ),
        )

    def pending_ops(self, limit: int = 200) -> list[dict[str, Any]]:
        """Unfinished outbox ops in device_seq order, payloads decrypted, ready for the wire."""
        rows = self.query(
            "SELECT * FROM outbox WHERE state = 'pending' ORDER BY device_seq LIMIT ?", (limit,)
        )
        return [
            {
                "op_id": r["op_id"],
                "device_seq": r["device_seq"],
                "entity": r["entity"],
                "entity_id": r["entity_id"],
                "kind": r["kind"],
                "base_version": r["base_version"],
                "payload": json.loads(
                    self.cipher.decrypt(
                        r["payload_enc"], where=field_ref("outbox", "payload_enc", r["op_id"])
                    )
                    or "{}"
                ),
                "created_at": r["created_at"],
            }
            for r in rows
        ]

    def pending_count(self) -> int:
        return int(self.query("SELECT count(*) AS n FROM outbox WHERE state = 'pending'")[0]["n"])

    def has_pending_ops(self, entity_id: str, conn: sqlite3.Connection | None = None) -> bool:
        """Whether a change to this entity is still unsent. A waiting-room call about a booking (`call` ops carry the
        booking's id) changes nothing of the booking: it never holds back the township's word on it."""
        sql = "SELECT 1 FROM outbox WHERE entity_id = ? AND state = 'pending' AND entity != 'call' LIMIT 1"
        if conn is not None:
            return conn.execute(sql, (entity_id,)).fetchone() is not None
        return bool(self.query(sql, (entity_id,)))

    def finish_op(
        self, conn: sqlite3.Connection, op_id: str, *, state: str, result: Mapping[str, Any]
    ) -> None:
        """Record an op's final result (state `done` or `rejected`). An op about a booking the township has erased
        meanwhile (sent again after its answer was lost) loses its payload now that it will not be sent again."""
        conn.execute(
            "UPDATE outbox SET state = ?, result = ?, attempts = attempts + 1 WHERE op_id = ?",
            (state, json.dumps(result, ensure_ascii=False), op_id),
        )
        if conn.execute(f"SELECT 1 FROM outbox WHERE op_id = ? AND {_ERASED_OP}", (op_id,)).fetchone():
            self._scrub_op(conn, op_id)

    def finished_ops(self, entity_id: str) -> list[tuple[str, str, dict[str, Any]]]:
        """The answered ops about an entity, newest first: (kind, state, the township's result)."""
        rows = self.query(
            "SELECT kind, state, result FROM outbox WHERE entity_id = ? AND state != 'pending' ORDER BY device_seq DESC",
            (entity_id,),
        )
        return [(r["kind"], r["state"], json.loads(r["result"]) if r["result"] else {}) for r in rows]

    def last_result(self, entity_id: str) -> str | None:
        """The township's latest answer to an op about this entity (JSON, as received), or None when none was."""
        rows = self.query(
            "SELECT result FROM outbox WHERE entity_id = ? AND result IS NOT NULL ORDER BY device_seq DESC LIMIT 1",
            (entity_id,),
        )
        return str(rows[0]["result"]) if rows else None

    def _scrub_op(self, conn: sqlite3.Connection, op_id: str) -> None:
        conn.execute(
            "UPDATE outbox SET payload_enc = ? WHERE op_id = ?",
            (self.cipher.encrypt("{}", where=field_ref("outbox", "payload_enc", op_id)), op_id),
        )

    # --- erasure ----------------------------------------------------------------------------------------------------

    def erase_booking(self, conn: sqlite3.Connection, booking_id: str) -> None:
        """The township erased the personal data of this booking's resident (on request or by retention): erase
        this kiosk's copy, inside the caller's transaction (docs/sync.md, "Erasure").

        The booking row stays as the township keeps it (session, code, status: no personal data) and is marked
        `erased`; its feedback comment goes, and so does the payload of every op about it or its feedback already
        answered (ops still to send keep theirs until answered, so a resend is still the same op: `finish_op`
        scrubs them then). The resident's name, ID number (and its hash: the store can no longer find them by
        it), phone, village, remembered profile and dependents' names go when none of their bookings here is left
        un-erased. A booking the township has not erased — made after the erasure, still to send or sent since —
        keeps its resident's record: they came back, agreed to the notice again, and the township holds those
        details again under a new record; only the erased booking's dependent goes, unless a live booking names
        them. Idempotent."""
        row = conn.execute(
            "SELECT resident_id, dependent_id FROM bookings WHERE id = ?", (booking_id,)
        ).fetchone()
        if row is None:
            return
        resident_id, dependent_id = row
        # Left un-erased: a booking the township holds with its details, or one still to send. (A booking whose
        # create the township refused exists only here: it goes with its resident.)
        live = (
            "SELECT 1 FROM bookings b WHERE {} AND b.erased = 0 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE "
            "o.entity_id = b.id AND o.kind = 'create' AND o.state = 'rejected') LIMIT 1"
        )
        c = self.cipher
        dependents: list[str] = []
        if conn.execute(live.format("b.resident_id = ? AND b.id != ?"), (resident_id, booking_id)).fetchone():
            conn.execute("UPDATE bookings SET erased = 1 WHERE id = ?", (booking_id,))
            if (
                dependent_id is not None
                and not conn.execute(live.format("b.dependent_id = ?"), (dependent_id,)).fetchone()
            ):
                dependents = [dependent_id]
        else:
            conn.execute("UPDATE bookings SET erased = 1 WHERE resident_id = ?", (resident_id,))
            dependents = [
                r[0] for r in conn.execute("SELECT id FROM dependents WHERE resident_id = ?", (resident_id,))
            ]
            conn.execute(
                "UPDATE residents SET id_hash = ?, id_masked = '', name_enc = ?, id_number_enc = ?, phone_enc = NULL, "
                "phone_masked = NULL, village = NULL, suggestions_consent = 0, remembered_profile = NULL, "
                "reminder_owner = NULL, reminder_at = NULL WHERE id = ?",
                (
                    ERASED + resident_id,
                    c.encrypt("", where=field_ref("residents", "name_enc", resident_id)),
                    c.encrypt("", where=field_ref("residents", "id_number_enc", resident_id)),
                    resident_id,
                ),
            )
        conn.execute(
            "UPDATE feedback SET comment_enc = NULL WHERE booking_id IN "
            "(SELECT id FROM bookings WHERE resident_id = ? AND erased = 1)",
            (resident_id,),
        )
        for (op_id,) in conn.execute(
            "SELECT op_id FROM outbox WHERE state != 'pending' AND (entity_id IN (SELECT id FROM bookings WHERE "
            "resident_id = ?1 AND erased = 1) OR entity_id IN (SELECT f.id FROM feedback f JOIN bookings b ON "
            "b.id = f.booking_id WHERE b.resident_id = ?1 AND b.erased = 1))",
            (resident_id,),
        ).fetchall():
            self._scrub_op(conn, op_id)
        for dep in dependents:
            conn.execute(
                "UPDATE dependents SET name_enc = ? WHERE id = ?",
                (self.cipher.encrypt("", where=field_ref("dependents", "name_enc", dep)), dep),
            )

    # --- leases -----------------------------------------------------------------------------------------------------

    def lease_seats_free(
        self, session_id: str, *, now: dt.datetime | None = None, conn: sqlite3.Connection | None = None
    ) -> int:
        """Seats this kiosk may still confirm offline for `session_id`: unexpired leased seats minus those used."""
        at = to_text(now or utc_now())
        sql_leased = "SELECT coalesce(sum(seats), 0) FROM leases WHERE session_id = ? AND expires_at > ?"
        # Used = lease bookings the township had not yet counted when it sent the lease's `seats`: those still to
        # push, and (when it lists what it counted, `lease_counted:<session>`) those pushed since — a kiosk that
        # pushed but has not pulled the lease again must not count their seats twice (docs/sync.md, "Seat leases").
        sql_used = (
            "SELECT count(*) FROM bookings WHERE session_id = ?2 AND lease = 1 "
            "AND status IN ('confirmed', 'checked_in', 'attended') AND (id IN "
            "(SELECT entity_id FROM outbox WHERE kind = 'create' AND state = 'pending') OR "
            "(EXISTS (SELECT 1 FROM sync_state WHERE key = ?1) AND id NOT IN (SELECT j.value FROM "
            "json_each((SELECT value FROM sync_state WHERE key = ?1)) AS j)))"
        )
        args = (lease_counted_key(session_id), session_id)
        if conn is None:
            with self._lock:
                leased = self.conn.execute(sql_leased, (session_id, at)).fetchone()[0]
                used = self.conn.execute(sql_used, args).fetchone()[0]
        else:
            leased = conn.execute(sql_leased, (session_id, at)).fetchone()[0]
            used = conn.execute(sql_used, args).fetchone()[0]
        return max(0, int(leased) - int(used))

    def upsert_lease(
        self,
        conn: sqlite3.Connection,
        lease_id: str,
        *,
        session_id: str,
        seats: int,
        expires_at: dt.datetime,
        version: int,
    ) -> None:
        conn.execute(
            "INSERT INTO leases (id, session_id, seats, expires_at, version) VALUES (?,?,?,?,?) "
            "ON CONFLICT(id) DO UPDATE SET session_id = excluded.session_id, seats = excluded.seats, "
            "expires_at = excluded.expires_at, version = excluded.version",
            (lease_id, session_id, seats, to_text(expires_at), version),
        )

    def delete_lease(self, conn: sqlite3.Connection, lease_id: str) -> None:
        conn.execute("DELETE FROM leases WHERE id = ?", (lease_id,))

    def note_lease_counted(self, conn: sqlite3.Connection, session_id: str, booking_ids: list[str]) -> None:
        """Remember which of this kiosk's lease bookings for a session the township has counted (a lease change's
        `bookings`). Kept as a growing set, so an older change applied late never forgets one."""
        key = lease_counted_key(session_id)
        row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        known = set(json.loads(row[0])) if row else set()
        merged = known | set(booking_ids)
        if row is None or merged != known:
            self.set_state(key, json.dumps(sorted(merged)), conn)


def _bookings(rows: Sequence[Mapping[str, Any]]) -> list[Booking]:
    from cunzhan.models import Booking, BookingStatus, Channel

    return [
        Booking(
            r["id"],
            r["code"],
            r["session_id"],
            r["resident_id"],
            BookingStatus(r["status"]),
            r["dependent_id"],
            Channel(r["channel"]),
            r["staff_id"],
            bool(r["lease"]),
            bool(r["waitlist"]),
            r["version"],
            r["message"],
            from_text(r["created_at"]),
        )
        for r in rows
    ]

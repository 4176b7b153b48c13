"""Staff accounts, the PIN lock-out, the staff desk's counts and the audit queue's table work.

Only SQL lives here: the rules (which PIN is acceptable, how long a lock-out lasts, what an audit entry on the wire
looks like) are in `kiosk/staff/` and `kiosk/sync/audit.py`, which call these methods."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from cunzhan.fieldcrypto import field_ref
from kiosk.store.base import from_text, new_id, to_text
from kiosk.store.sync_state import SyncState

if TYPE_CHECKING:
    from kiosk.store.bookings import Bookings


@dataclass(frozen=True, slots=True)
class StaffRow:
    """One staff account as stored, the name decrypted (the PIN hash is read apart: `staff_pins`)."""

    staff_id: str
    name: str
    active: bool


@dataclass(frozen=True, slots=True)
class Lockout:
    """The staff keypad's wrong-PIN state for one lock scope."""

    failures: int = 0
    locked_until: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One local audit_log row, as the audit queue reads it."""

    id: int
    at: str
    actor: str
    action: str
    detail: str


class StaffTables(SyncState):
    """Staff accounts, PIN lock-out and desk queries (kiosk/staff/ holds the rules)."""

    # --- accounts ---------------------------------------------------------------------------------------------------

    def has_active_staff(self) -> bool:
        return bool(self.query("SELECT 1 FROM staff WHERE active = 1 LIMIT 1"))

    def staff_exists(self, staff_id: str) -> bool:
        """Whether `staff_id` was ever set up (active or not)."""
        return bool(self.query("SELECT 1 FROM staff WHERE staff_id = ?", (staff_id,)))

    def staff_rows(self) -> list[StaffRow]:
        """Every staff account, by staff id."""
        rows = self.query("SELECT staff_id, name_enc, active FROM staff ORDER BY staff_id")
        return [
            StaffRow(
                r["staff_id"],
                self.cipher.decrypt(r["name_enc"], where=field_ref("staff", "name_enc", r["staff_id"])) or "",
                bool(r["active"]),
            )
            for r in rows
        ]

    def staff_pins(self) -> list[tuple[str, str]]:
        """`(staff_id, pin_hash)` of every active staff member, by staff id."""
        rows = self.query("SELECT staff_id, pin_hash FROM staff WHERE active = 1 ORDER BY staff_id")
        return [(r["staff_id"], r["pin_hash"]) for r in rows]

    def add_staff(
        self,
        staff_id: str,
        name: str,
        pin_hash: str,
        *,
        actor: str,
        now: dt.datetime,
        skip_existing: bool = False,
    ) -> bool:
        """Insert an active staff member (audited `staff_added`). With `skip_existing`, a staff id already set up is
        left as it is, audited `staff_provision_skipped`, checked in the same transaction. Returns whether added."""
        with self.transaction() as conn:
            if (
                skip_existing
                and conn.execute("SELECT 1 FROM staff WHERE staff_id = ?", (staff_id,)).fetchone()
            ):
                self._audit(conn, actor, "staff_provision_skipped", staff_id)
                return False
            conn.execute(
                "INSERT INTO staff (staff_id, name_enc, pin_hash, active, created_at, updated_at) "
                "VALUES (?, ?, ?, 1, ?, ?)",
                (
                    staff_id,
                    self.cipher.encrypt(name, where=field_ref("staff", "name_enc", staff_id)),
                    pin_hash,
                    to_text(now),
                    to_text(now),
                ),
            )
            self._audit(conn, actor, "staff_added", staff_id)
        return True

    def set_staff_pin(
        self, staff_id: str, pin_hash: str, *, actor: str, now: dt.datetime, action: str = "staff_pin_changed"
    ) -> None:
        """Replace a staff member's PIN hash, audited as `action` (`staff_pin_revoked` when a PIN became known)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE staff SET pin_hash = ?, updated_at = ? WHERE staff_id = ?",
                (pin_hash, to_text(now), staff_id),
            )
            self._audit(conn, actor, action, staff_id)

    def deactivate_staff(self, staff_id: str, *, actor: str, now: dt.datetime) -> None:
        """Stop a staff member's PIN from working (audited `staff_deactivated`; their audit history stays)."""
        with self.transaction() as conn:
            conn.execute(
                "UPDATE staff SET active = 0, updated_at = ? WHERE staff_id = ?", (to_text(now), staff_id)
            )
            self._audit(conn, actor, "staff_deactivated", staff_id)

    def reactivate_staff_quietly(self, staff_id: str) -> None:
        """Make a staff member active again, unaudited (the demo member, whose new PIN is audited next)."""
        with self.transaction() as conn:
            conn.execute("UPDATE staff SET active = 1 WHERE staff_id = ?", (staff_id,))

    # --- PIN lock-out -----------------------------------------------------------------------------------------------

    def lockout(self, scope: str) -> Lockout:
        rows = self.query("SELECT failures, locked_until FROM staff_lockout WHERE scope = ?", (scope,))
        if not rows:
            return Lockout()
        until = rows[0]["locked_until"]
        return Lockout(int(rows[0]["failures"]), from_text(until) if until else None)

    def staff_signed_in(self, scope: str, staff_id: str, *, new_pin_hash: str | None = None) -> None:
        """A right PIN: the wrong-try count is reset, the PIN hash replaced when it needed a rehash, audited."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM staff_lockout WHERE scope = ?", (scope,))
            if new_pin_hash is not None:
                conn.execute("UPDATE staff SET pin_hash = ? WHERE staff_id = ?", (new_pin_hash, staff_id))
            self._audit(conn, staff_id, "staff_signed_in")

    def count_wrong_pin(
        self, scope: str, *, actor: str, now: dt.datetime, delay_after: Callable[[int], dt.timedelta]
    ) -> tuple[int, dt.timedelta]:
        """One more wrong PIN in one transaction: the failure counted, the keypad locked for `delay_after(failures)`
        when that is not zero (audited `staff_pin_locked`, else `staff_pin_wrong`). Returns (failures, delay)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO staff_lockout (scope, failures) VALUES (?, 0) ON CONFLICT(scope) DO NOTHING",
                (scope,),
            )
            conn.execute("UPDATE staff_lockout SET failures = failures + 1 WHERE scope = ?", (scope,))
            failures = int(
                conn.execute("SELECT failures FROM staff_lockout WHERE scope = ?", (scope,)).fetchone()[0]
            )
            delay = delay_after(failures)
            if delay:
                conn.execute(
                    "UPDATE staff_lockout SET locked_until = ? WHERE scope = ?", (to_text(now + delay), scope)
                )
                self._audit(conn, actor, "staff_pin_locked", f"{int(delay.total_seconds())}s")
            else:
                self._audit(conn, actor, "staff_pin_wrong")
        return failures, delay

    def clear_lockout(self, scope: str, *, actor: str) -> bool:
        """Unlock the keypad (audited `staff_lockout_cleared` when it was locked or counting). Returns whether."""
        with self.transaction() as conn:
            if conn.execute("DELETE FROM staff_lockout WHERE scope = ?", (scope,)).rowcount:
                self._audit(conn, actor, "staff_lockout_cleared")
                return True
        return False

    # --- the staff desk ---------------------------------------------------------------------------------------------

    def day_counts(self, start: dt.datetime, end: dt.datetime) -> dict[str, tuple[int, int]]:
        """Session id → (booked, checked in) for the sessions starting in [start, end)."""
        rows = self.query(
            "SELECT session_id, sum(status IN ('requested','pending_review','confirmed','checked_in','attended')) "
            "AS booked, sum(status IN ('checked_in','attended')) AS checked_in FROM bookings "
            "WHERE session_id IN (SELECT id FROM sessions WHERE starts_at >= ? AND starts_at < ?) "
            "GROUP BY session_id",
            (to_text(start), to_text(end)),
        )
        return {r["session_id"]: (int(r["booked"] or 0), int(r["checked_in"] or 0)) for r in rows}

    def help_calls_since(self, start: dt.datetime) -> tuple[int, dt.datetime | None]:
        """How often residents called the staff (audited `staff_called`) since `start`, and when last."""
        rows = self.query(
            "SELECT count(*) AS n, max(at) AS last FROM audit_log WHERE action = 'staff_called' AND at >= ?",
            (to_text(start),),
        )
        last = rows[0]["last"]
        return int(rows[0]["n"] or 0), from_text(last) if last else None

    # --- the audit queue (kiosk/sync/audit.py) ----------------------------------------------------------------------

    def queue_audit_rows(
        self,
        pack: Callable[[Sequence[AuditRow]], list[dict[str, Any]]],
        *,
        cursor_key: str,
        exclude_actors: tuple[str, ...],
        entity: str,
        kind: str,
    ) -> int:
        """In one transaction: read the audit rows after the cursor in sync_state `cursor_key` (less the excluded
        actors), enqueue each payload `pack` makes of them as one outbox op, and move the cursor past the last audit
        row. Returns how many rows were read."""
        outbox = cast("Bookings", self)  # Store composes Bookings, which owns the outbox
        with self.transaction() as conn:
            cursor = int(self.state(cursor_key) or 0)
            marks = ",".join("?" * len(exclude_actors)) or "''"
            rows = [
                AuditRow(int(r[0]), r[1], str(r[2]), str(r[3]), str(r[4] or ""))
                for r in conn.execute(
                    f"SELECT id, at, actor, action, detail FROM audit_log WHERE id > ? AND actor NOT IN ({marks}) "
                    "ORDER BY id",
                    (cursor, *exclude_actors),
                ).fetchall()
            ]
            last = conn.execute("SELECT coalesce(max(id), 0) FROM audit_log").fetchone()[0]
            for payload in pack(rows) if rows else []:
                outbox.enqueue(conn, entity=entity, entity_id=new_id(), kind=kind, payload=payload)
            if last > cursor:
                self.set_state(cursor_key, str(last), conn)
        return len(rows)

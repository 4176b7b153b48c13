"""Read-only figures for the technician: the diagnostics export (kiosk/diagnostics.py) and `kiosk doctor`."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cunzhan.fieldcrypto import field_ref
from kiosk.store.base import StoreBase, to_text


class Reports(StoreBase):
    def integrity_check(self) -> str:
        """SQLite's own verdict on the file: `ok`, or what is damaged."""
        row = self.conn.execute("PRAGMA integrity_check").fetchone()
        return str(row[0])

    def personal_texts(self) -> tuple[list[str], list[str]]:
        """Every name (residents, dependents, staff) and every ID number and phone the store holds, decrypted in
        memory only: what a diagnostics export must scrub. (names, numbers)"""
        c = self.cipher
        names: list[str] = []
        numbers: list[str] = []
        for row in self.query("SELECT id, name_enc, id_number_enc, phone_enc FROM residents"):
            names.append(
                c.decrypt(row["name_enc"], where=field_ref("residents", "name_enc", row["id"])) or ""
            )
            for column in ("id_number_enc", "phone_enc"):
                numbers.append(c.decrypt(row[column], where=field_ref("residents", column, row["id"])) or "")
        names += [
            c.decrypt(r["name_enc"], where=field_ref("dependents", "name_enc", r["id"])) or ""
            for r in self.query("SELECT id, name_enc FROM dependents")
        ]
        names += [
            c.decrypt(r["name_enc"], where=field_ref("staff", "name_enc", r["staff_id"])) or ""
            for r in self.query("SELECT staff_id, name_enc FROM staff")
        ]
        return names, numbers

    def row_counts(self) -> dict[str, int]:
        """Rows per table, every table of the file."""
        tables = [
            r["name"]
            for r in self.query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
            )
        ]
        return {t: int(self.query(f'SELECT count(*) AS n FROM "{t}"')[0]["n"]) for t in tables}

    def usage_counts(self, now: dt.datetime) -> dict[str, Any]:
        """Counts without personal data: bookings by status and channel, the outbox by state, refusal reasons,
        upcoming sessions, staff accounts and the PIN lock-out."""
        lock = self.query("SELECT failures, locked_until FROM staff_lockout")
        return {
            "bookings": self.query(
                "SELECT status, channel, count(*) AS n FROM bookings GROUP BY status, channel"
            ),
            "outbox": self.query(
                "SELECT entity, kind, state, count(*) AS n, min(created_at) AS oldest FROM outbox "
                "GROUP BY entity, kind, state"
            ),
            "rejected_reasons": self.query(
                "SELECT json_extract(result, '$.reason') AS reason, count(*) AS n FROM outbox "
                "WHERE state = 'rejected' GROUP BY reason"
            ),
            "sessions_upcoming": int(
                self.query(
                    "SELECT count(*) AS n FROM sessions WHERE deleted = 0 AND starts_at >= ?", (to_text(now),)
                )[0]["n"]
            ),
            "staff": self.query("SELECT active, count(*) AS n FROM staff GROUP BY active"),
            "pin_lockout": lock[0] if lock else {"failures": 0, "locked_until": None},
        }

    def audit_tail(self, limit: int) -> list[dict[str, Any]]:
        """The newest `limit` audit entries, oldest first."""
        rows = self.query(
            "SELECT id, at, actor, action, detail FROM audit_log ORDER BY id DESC LIMIT ?", (limit,)
        )
        return list(reversed(rows))

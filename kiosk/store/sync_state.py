"""The `sync_state` table: what the kiosk knows about its link to the township, under keys declared once here.

Values are text. The sync engine (kiosk/sync/engine.py) writes most of them; enrolment (kiosk/sync/enroll.py) the
identity; the UI reads them through `kiosk.sync.status.read_status`.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from enum import StrEnum

from kiosk.store.base import StoreBase


class SyncKey(StrEnum):
    """Every fixed `sync_state` key (per-session keys are made by `lease_counted_key`)."""

    LINK = "link"  # a `Link` value
    LAST_SUCCESS_AT = "last_success_at"  # UTC ISO-8601
    LAST_ATTEMPT_AT = "last_attempt_at"  # UTC ISO-8601
    LAST_ERROR = "last_error"  # a short code + message, never personal data; empty after a success
    CLOCK_SKEW_S = "clock_skew_s"  # server minus kiosk clock, seconds
    KIOSK_NUMBER = "kiosk_number"
    DEVICE_ID = "device_id"
    TOWNSHIP_ID = "township_id"
    TOWNSHIP_URL = "township_url"
    CATALOGUE_CURSOR = "catalogue_cursor"  # the pull cursor; empty = the next pull is a full snapshot
    LAST_SEQ = "last_seq"  # the highest change seq pulled
    SNAPSHOT_SEEN = "snapshot_seen"  # ids seen so far by an unfinished full pull (JSON), else empty
    AUDIT_QUEUED_UPTO = (
        "audit_queued_upto"  # the last audit_log id already put in the outbox (kiosk/staff.py)
    )
    CALLS_AFTER = "calls_after"  # the `last_seq` of the last /v1/calls answer (kiosk/sync/calls.py)
    PRACTICE = "practice"  # "1" in a practice store (kiosk/practice.py)
    MATCH_KEY = (
        "match_key"  # sealed: this kiosk's key for the `match` of phone bookings (kiosk/store/phone.py)
    )


class Link(StrEnum):
    """The `link` value: whether the last sync attempt reached the township."""

    ONLINE = "online"
    OFFLINE = "offline"


LEASE_COUNTED_PREFIX = (
    "lease_counted:"  # + session id: JSON list of the lease booking ids the township counted
)


def lease_counted_key(session_id: str) -> str:
    return LEASE_COUNTED_PREFIX + session_id


class SyncState(StoreBase):
    """Reads and writes of `sync_state` (keys: `SyncKey`, `lease_counted_key`)."""

    def state(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM sync_state WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def states(self, keys: Iterable[str] | None = None) -> dict[str, str]:
        """The stored values of `keys` (all keys when None); a key never written is absent."""
        rows = self.query("SELECT key, value FROM sync_state")
        wanted = None if keys is None else set(keys)
        return {r["key"]: r["value"] for r in rows if wanted is None or r["key"] in wanted}

    def set_state(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        sql = "INSERT INTO sync_state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        if conn is not None:
            conn.execute(sql, (key, value))
        else:
            with self.transaction() as c:
                c.execute(sql, (key, value))

    def record_enrolment(
        self,
        *,
        device_id: str,
        township_id: str,
        kiosk_number: int,
        url: str,
        url_setting: str,
        reenrolled: bool,
        zone: tuple[str, str] | None = None,
    ) -> None:
        """A new identity from the township, in one transaction. A cursor is bound to its device, and leases were
        granted to the old device: a new identity starts with a clean pull (the catalogue is swept by it) and no
        leases. The outbox is kept and pushed as this device. `url_setting`: the settings key of the address;
        `zone`: (settings key, the township's time zone) to keep, when the township said one."""
        with self.transaction() as conn:
            if zone is not None:
                self.write_setting(conn, *zone)
            self.set_state(SyncKey.CATALOGUE_CURSOR, "", conn)
            conn.execute("DELETE FROM leases")
            self.set_state(SyncKey.DEVICE_ID, device_id, conn)
            self.set_state(SyncKey.TOWNSHIP_ID, township_id, conn)
            self.set_state(SyncKey.KIOSK_NUMBER, str(kiosk_number), conn)
            self.set_state(SyncKey.TOWNSHIP_URL, url, conn)
            self.set_state(SyncKey.LAST_ERROR, "", conn)
            self.write_setting(conn, url_setting, url)
            self.audit(
                "system",
                "kiosk_reenrolled" if reenrolled else "kiosk_enrolled",
                f"kiosk {kiosk_number}",
                conn=conn,
            )

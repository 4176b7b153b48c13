"""Services, providers, sessions and the township's notices, as synced from the backend."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kiosk.store.base import StoreBase, from_text, to_text, utc_now

if TYPE_CHECKING:
    from cunzhan.models import (
        Provider,
        Service,
        ServiceKind,
        Session,
    )


_SOFT_DELETED = frozenset({"services", "providers", "sessions"})  # kept with deleted = 1: bookings name them
_SWEPT_AWAY = frozenset({"leases", "notices"})
_COPIED = _SOFT_DELETED | _SWEPT_AWAY | {"settings"}


class Catalogue(StoreBase):
    # --- township notices -------------------------------------------------------------------------------------------

    def current_notices(self, now: dt.datetime, *, limit: int = 2) -> list[dict[str, str]]:
        """The township's notices in force at `now` (synced from its console), newest first: title and body."""
        live = []
        for row in self.query("SELECT data FROM notices"):
            data = json.loads(row["data"])
            starts, ends = data.get("starts_at"), data.get("ends_at")
            if (starts and from_text(str(starts)) > now) or (ends and from_text(str(ends)) <= now):
                continue
            live.append(data)
        live.sort(key=lambda data: str(data.get("starts_at") or ""), reverse=True)
        return [{"title": str(d.get("title") or ""), "body": str(d.get("body") or "")} for d in live[:limit]]

    def upsert_notice(
        self, conn: sqlite3.Connection, notice_id: str, data: Mapping[str, Any], version: int
    ) -> None:
        conn.execute(
            "INSERT INTO notices (id, data, version) VALUES (?,?,?) ON CONFLICT(id) DO UPDATE SET "
            "data = excluded.data, version = excluded.version",
            (notice_id, json.dumps(data, ensure_ascii=False), version),
        )

    def delete_notice(self, conn: sqlite3.Connection, notice_id: str) -> None:
        conn.execute("DELETE FROM notices WHERE id = ?", (notice_id,))

    # --- catalogue --------------------------------------------------------------------------------------------------

    def upsert_service(self, s: Service, *, version: int = 0, conn: sqlite3.Connection | None = None) -> None:
        self._upsert(
            conn,
            "services",
            {
                "id": s.id,
                "kind": s.kind.value,
                "name": s.name,
                "description": s.description,
                "review": int(s.review),
                "what_to_bring": s.what_to_bring,
                "queue_order": s.queue_order.value,
                "version": version,
                "deleted": 0,
            },
        )

    def upsert_provider(
        self, p: Provider, *, version: int = 0, conn: sqlite3.Connection | None = None
    ) -> None:
        self._upsert(
            conn,
            "providers",
            {
                "id": p.id,
                "name": p.name,
                "title": p.title,
                "organisation": p.organisation,
                "version": version,
                "deleted": 0,
            },
        )

    def upsert_session(self, s: Session, *, conn: sqlite3.Connection | None = None) -> None:
        self._upsert(
            conn,
            "sessions",
            {
                "id": s.id,
                "service_id": s.service_id,
                "provider_id": s.provider_id,
                "starts_at": to_text(s.starts_at),
                "ends_at": to_text(s.ends_at),
                "capacity": s.capacity,
                "seats_left": s.seats_left,
                "room": s.room,
                "video_url": s.video_url,
                "status": s.status.value,
                "version": s.version,
                "deleted": 0,
            },
        )

    def upsert_sessions(self, sessions: Sequence[Session]) -> None:
        with self.transaction() as conn:
            for s in sessions:
                self.upsert_session(s, conn=conn)

    def _upsert(self, conn: sqlite3.Connection | None, table: str, row: dict[str, Any]) -> None:
        cols = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != "id")
        sql = f"INSERT INTO {table} ({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {updates}"
        if conn is not None:
            conn.execute(sql, tuple(row.values()))
        else:
            with self.transaction() as c:
                c.execute(sql, tuple(row.values()))

    def mark_deleted(self, table: str, entity_id: str, conn: sqlite3.Connection) -> None:
        if table not in _SOFT_DELETED:
            raise ValueError(table)
        conn.execute(f"UPDATE {table} SET deleted = 1 WHERE id = ?", (entity_id,))

    def forget_unseen(self, conn: sqlite3.Connection, table: str, seen: set[str]) -> None:
        """After a full snapshot: rows of `table` it did not mention no longer exist at the township (catalogue
        rows are marked deleted, leases and notices removed)."""
        if table not in _SOFT_DELETED | _SWEPT_AWAY:
            raise ValueError(table)
        present = {r[0] for r in conn.execute(f"SELECT id FROM {table}")}  # a fixed name, checked above
        for gone in present - seen:
            if table in _SOFT_DELETED:
                self.mark_deleted(table, gone, conn)
            else:
                conn.execute(f"DELETE FROM {table} WHERE id = ?", (gone,))

    def has_catalogue(self) -> bool:
        """Whether any service was ever loaded (synced or seeded)."""
        return bool(self.query("SELECT 1 FROM services LIMIT 1"))

    def take_seat(self, conn: sqlite3.Connection, session_id: str) -> None:
        conn.execute("UPDATE sessions SET seats_left = seats_left - 1 WHERE id = ?", (session_id,))

    def give_back_seat(self, conn: sqlite3.Connection, session_id: str) -> None:
        conn.execute(
            "UPDATE sessions SET seats_left = min(capacity, seats_left + 1) WHERE id = ?", (session_id,)
        )

    def set_seats_left(self, session_id: str, seats: int) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE sessions SET seats_left = ? WHERE id = ?", (seats, session_id))

    def catalogue_copy(self, *, sessions_ending_after: dt.datetime) -> dict[str, list[dict[str, Any]]]:
        """The rows a practice store copies, by table (reads only): the live catalogue, sessions not yet over,
        leases, notices and settings."""
        return {
            "services": self.query("SELECT * FROM services WHERE deleted = 0"),
            "providers": self.query("SELECT * FROM providers WHERE deleted = 0"),
            "sessions": self.query(
                "SELECT * FROM sessions WHERE deleted = 0 AND ends_at >= ?", (to_text(sessions_ending_after),)
            ),
            "leases": self.query("SELECT * FROM leases"),
            "notices": self.query("SELECT * FROM notices"),
            "settings": self.query("SELECT * FROM settings"),
        }

    def load_catalogue_copy(self, conn: sqlite3.Connection, copy: Mapping[str, list[dict[str, Any]]]) -> None:
        """Insert what `catalogue_copy` read from another store, row for row."""
        for table, rows in copy.items():
            if table not in _COPIED:
                raise ValueError(table)
            for row in rows:
                conn.execute(
                    f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
                    tuple(row.values()),
                )

    def services(self, kind: ServiceKind | None = None) -> list[Service]:
        sql = "SELECT * FROM services WHERE deleted = 0"
        params: list[Any] = []
        if kind is not None:
            sql += " AND kind = ?"
            params.append(kind.value)
        return _services(self.query(sql + " ORDER BY name", params))

    def service(self, service_id: str) -> Service | None:
        rows = self.query("SELECT * FROM services WHERE id = ?", (service_id,))
        return _services(rows)[0] if rows else None

    def provider(self, provider_id: str) -> Provider | None:
        rows = self.query("SELECT * FROM providers WHERE id = ?", (provider_id,))
        return _providers(rows)[0] if rows else None

    def providers_for_service(self, service_id: str, *, after: dt.datetime | None = None) -> list[Provider]:
        rows = self.query(
            "SELECT DISTINCT p.* FROM providers p JOIN sessions s ON s.provider_id = p.id "
            "WHERE s.service_id = ? AND s.deleted = 0 AND p.deleted = 0 AND s.starts_at >= ? ORDER BY p.name",
            (service_id, to_text(after or utc_now())),
        )
        return _providers(rows)

    def session(self, session_id: str) -> Session | None:
        rows = self.query("SELECT * FROM sessions WHERE id = ?", (session_id,))
        return _sessions(rows)[0] if rows else None

    def live_session(self, session_id: str) -> Session | None:
        """The session unless the township deleted it."""
        rows = self.query("SELECT * FROM sessions WHERE id = ? AND deleted = 0", (session_id,))
        return _sessions(rows)[0] if rows else None

    def sessions_between(
        self,
        start: dt.datetime,
        end: dt.datetime,
        *,
        service_id: str | None = None,
        provider_id: str | None = None,
        open_only: bool = False,
    ) -> list[Session]:
        """Sessions starting in [start, end), by start time. Uses the start-time index."""
        sql = "SELECT * FROM sessions WHERE starts_at >= ? AND starts_at < ? AND deleted = 0"
        params: list[Any] = [to_text(start), to_text(end)]
        if service_id is not None:
            sql += " AND service_id = ?"
            params.append(service_id)
        if provider_id is not None:
            sql += " AND provider_id = ?"
            params.append(provider_id)
        if open_only:
            sql += " AND status = 'open' AND seats_left > 0"
        return _sessions(self.query(sql + " ORDER BY starts_at", params))

    def nearest_open_sessions(self, session: Session, *, limit: int = 3) -> list[Session]:
        """Open sessions of the same service with seats, nearest in time to `session` (the alternatives shown)."""
        rows = self.query(
            "SELECT * FROM sessions WHERE service_id = ? AND id != ? AND deleted = 0 AND status = 'open' "
            "AND seats_left > 0 AND starts_at >= ? "
            "ORDER BY abs(julianday(starts_at) - julianday(?)) LIMIT ?",
            (session.service_id, session.id, to_text(utc_now()), to_text(session.starts_at), limit),
        )
        return _sessions(rows)


# Rows become records in batches: cunzhan.models is imported once per query (with PySide6 loaded, every import
# statement costs ~6 µs, too much to pay per row of a day's listing).


def _services(rows: Sequence[Mapping[str, Any]]) -> list[Service]:
    from cunzhan.models import QueueOrder, Service, ServiceKind

    return [
        Service(
            r["id"],
            ServiceKind(r["kind"]),
            r["name"],
            r["description"],
            bool(r["review"]),
            r["what_to_bring"],
            QueueOrder(r["queue_order"]),
        )
        for r in rows
    ]


def _providers(rows: Sequence[Mapping[str, Any]]) -> list[Provider]:
    from cunzhan.models import Provider

    return [Provider(r["id"], r["name"], r["title"], r["organisation"]) for r in rows]


def _sessions(rows: Sequence[Mapping[str, Any]]) -> list[Session]:
    from cunzhan.models import Session, SessionStatus

    return [
        Session(
            r["id"],
            r["service_id"],
            r["provider_id"],
            from_text(r["starts_at"]),
            from_text(r["ends_at"]),
            r["capacity"],
            r["seats_left"],
            r["room"],
            r["video_url"],
            SessionStatus(r["status"]),
            r["version"],
        )
        for r in rows
    ]

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
        if table not in {"services", "providers", "sessions"}:
            raise ValueError(table)
        conn.execute(f"UPDATE {table} SET deleted = 1 WHERE id = ?", (entity_id,))

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


# statement costs ~6 µs, too much to pay per row of a day's listing).


def _services(rows: Sequence[Mapping[str, Any]]) -> list[Service]:
    from cunzhan.models import Service, ServiceKind

    return [
        Service(
            r["id"],
            ServiceKind(r["kind"]),
            r["name"],
            r["description"],
            bool(r["review"]),
            r["what_to_bring"],
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

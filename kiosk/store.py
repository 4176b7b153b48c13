"""The kiosk's local store: SQLite through sqlite-utils, the truth for the kiosk's screen.

- WAL mode, `synchronous=FULL`: a booking and its outbox op are committed together, durably, before the resident is
  told anything.
- Schema changes only through the sqlite-utils migration set below (`migrations()`), applied at start-up. A file
  written by a newer version, or a file that is not a Cunzhan database, is refused with a clear message and never
  rewritten. A file already at the current schema opens through `sqlite3` alone: sqlite-utils (~0.1 s to import) is
  loaded only when a migration is pending or a caller asks for `Store.db`.
- Personal fields (names, ID numbers, phones, outbox payloads) are encrypted with `FieldCipher`; the ID number is
  also kept as a keyed hash for look-up and a masked form for display.
- Times are UTC ISO-8601 text.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cunzhan.fieldcrypto import Cipher, field_ref
from cunzhan.i18n import N_, gettext
from kiosk.crypto import store_cipher

if TYPE_CHECKING:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

    from cunzhan.models import (
        Booking,
        BookingStatus,
        Dependent,
        Provider,
        Resident,
        Service,
        ServiceKind,
        Session,
    )

# cunzhan.models is imported where rows become records (`_services`, `_sessions`, `_bookings`, `_resident`, …), not above:
# the kiosk's home screen reads no records, and creating cunzhan.models' dataclasses takes ~10 ms on Python 3.11.

MIGRATION_SET = "cunzhan-kiosk"


class StoreError(RuntimeError):
    """The database cannot be used; `message()` says why in the UI language."""

    def __init__(self, kind: str, detail: str = "") -> None:
        self.kind = kind
        self.detail = detail
        super().__init__(f"{kind}: {detail}")

    def message(self) -> str:
        texts = {
            "newer_schema": N_(
                "This kiosk database was written by a newer version of Cunzhan. "
                "Install that version again; the file has not been changed."
            ),
            "not_a_database": N_(
                "The kiosk database file is damaged or is not a Cunzhan database. "
                "It has not been changed. Ask the township technician for help."
            ),
            "busy": N_("The kiosk database is busy. Please try again in a moment."),
        }
        return gettext(texts.get(self.kind, N_("The kiosk database cannot be used.")))


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def to_text(moment: dt.datetime) -> str:
    """UTC ISO-8601 with seconds; naive datetimes are refused."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime")
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds")


def from_text(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).astimezone(dt.UTC)


def new_id() -> str:
    """A new UUID, version 7 (RFC 9562): 48 bits of Unix milliseconds, the version, then 74 random bits.

    Ids made close together share their leading digits, so a batch of ops and its results compress better on the
    wire (gzip, SYNC.md) and the backend's indexes grow at one end. A kiosk clock that is off changes only those
    leading digits; uniqueness rests on the random bits."""
    import os
    import time

    millis = time.time_ns() // 1_000_000 & (1 << 48) - 1
    random = int.from_bytes(os.urandom(10), "big")  # 80 bits, 74 used
    value = millis << 80 | 0x7 << 76 | (random >> 68 & 0xFFF) << 64 | 0b10 << 62 | random & (1 << 62) - 1
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


# ---------------------------------------------------------------------------------------------------------------------
# Schema


def _m001_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE services (
            id TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
            review INTEGER NOT NULL DEFAULT 0, what_to_bring TEXT NOT NULL DEFAULT '', version INTEGER NOT NULL DEFAULT 0,
            deleted INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE providers (
            id TEXT PRIMARY KEY, name TEXT NOT NULL, title TEXT NOT NULL DEFAULT '',
            organisation TEXT NOT NULL DEFAULT '', version INTEGER NOT NULL DEFAULT 0,
            deleted INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE sessions (
            id TEXT PRIMARY KEY, service_id TEXT NOT NULL, provider_id TEXT NOT NULL,
            starts_at TEXT NOT NULL, ends_at TEXT NOT NULL, capacity INTEGER NOT NULL, seats_left INTEGER NOT NULL,
            room TEXT NOT NULL DEFAULT '', video_url TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'open',
            version INTEGER NOT NULL DEFAULT 0, deleted INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX sessions_by_start ON sessions (starts_at);
        CREATE INDEX sessions_by_service ON sessions (service_id, starts_at);
        CREATE TABLE residents (
            id TEXT PRIMARY KEY, id_hash TEXT NOT NULL UNIQUE, id_masked TEXT NOT NULL,
            name_enc TEXT NOT NULL, id_number_enc TEXT NOT NULL, phone_enc TEXT, phone_masked TEXT,
            village TEXT, suggestions_consent INTEGER NOT NULL DEFAULT 0, remembered_profile TEXT,
            created_at TEXT NOT NULL);
        CREATE TABLE dependents (
            id TEXT PRIMARY KEY, resident_id TEXT NOT NULL REFERENCES residents(id), name_enc TEXT NOT NULL,
            relation TEXT NOT NULL, birth_year INTEGER);
        CREATE INDEX dependents_by_resident ON dependents (resident_id);
        CREATE TABLE bookings (
            id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE, session_id TEXT NOT NULL,
            resident_id TEXT NOT NULL REFERENCES residents(id), dependent_id TEXT, status TEXT NOT NULL,
            channel TEXT NOT NULL DEFAULT 'self', staff_id TEXT, lease INTEGER NOT NULL DEFAULT 0,
            waitlist INTEGER NOT NULL DEFAULT 0, version INTEGER NOT NULL DEFAULT 0,
            message TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE INDEX bookings_by_resident ON bookings (resident_id);
        CREATE INDEX bookings_by_session ON bookings (session_id);
        CREATE TABLE outbox (
            device_seq INTEGER PRIMARY KEY AUTOINCREMENT, op_id TEXT NOT NULL UNIQUE, entity TEXT NOT NULL,
            entity_id TEXT NOT NULL, kind TEXT NOT NULL, base_version INTEGER, payload_enc TEXT NOT NULL,
            created_at TEXT NOT NULL, state TEXT NOT NULL DEFAULT 'pending', result TEXT,
            attempts INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX outbox_by_state ON outbox (state, device_seq);
        CREATE INDEX outbox_by_entity ON outbox (entity_id, state);
        CREATE TABLE sync_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE feedback (
            id TEXT PRIMARY KEY, booking_id TEXT NOT NULL, rating INTEGER NOT NULL, reasons TEXT NOT NULL,
            comment_enc TEXT, created_at TEXT NOT NULL);
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '');
        CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE leases (
            id TEXT PRIMARY KEY, session_id TEXT NOT NULL, seats INTEGER NOT NULL, expires_at TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX leases_by_session ON leases (session_id);
        CREATE TABLE notices (id TEXT PRIMARY KEY, data TEXT NOT NULL, version INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
        """
    )


def _m002_staff_accounts(db: sqlite_utils.Database) -> None:
    """Village staff accounts (kiosk.staff): names encrypted, PINs as argon2 hashes; the PIN lock-out state."""
    db.executescript(
        """
        CREATE TABLE staff (
            staff_id TEXT PRIMARY KEY, name_enc TEXT NOT NULL, pin_hash TEXT NOT NULL,
            active INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
        CREATE TABLE staff_lockout (
            scope TEXT PRIMARY KEY, failures INTEGER NOT NULL DEFAULT 0, locked_until TEXT);
        """
    )


def _m003_erased_bookings(db: sqlite_utils.Database) -> None:
    """Bookings whose resident's personal data the township erased (`Store.erase_booking`)."""
    db.executescript("ALTER TABLE bookings ADD COLUMN erased INTEGER NOT NULL DEFAULT 0;")


KNOWN_MIGRATIONS = ("m001_initial", "m002_staff_accounts", "m003_erased_bookings")


@cache
def migrations() -> Migrations:
    """The kiosk's sqlite-utils migration set, in order; names as in `KNOWN_MIGRATIONS`."""
    from sqlite_utils.migrations import Migrations

    found = Migrations(MIGRATION_SET)
    found(name="m001_initial")(_m001_initial)
    found(name="m002_staff_accounts")(_m002_staff_accounts)
    found(name="m003_erased_bookings")(_m003_erased_bookings)
    return found


# ---------------------------------------------------------------------------------------------------------------------


# Every encrypted column, with the column that identifies its row (the row id in the associated data).
SEALED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("residents", "id", "name_enc"),
    ("residents", "id", "id_number_enc"),
    ("residents", "id", "phone_enc"),
    ("dependents", "id", "name_enc"),
    ("outbox", "op_id", "payload_enc"),
    ("feedback", "id", "comment_enc"),
    ("staff", "staff_id", "name_enc"),
)


class _UpgradingCipher:
    """The store's cipher: before its first use in this process it re-encrypts any field still sealed without
    associated data (`v1:`, from an older version) with its table, column and row id, once."""

    def __init__(self, store: Store, inner: Cipher) -> None:
        self._store = store
        self.inner = inner
        self._done = False
        # (where, old value) → its bound replacement, for values a caller read just before the upgrade ran.
        self._rebound: dict[tuple[str, str], str] = {}

    def _ready(self) -> None:
        if not self._done:
            self._rebound = self._store._bind_unbound_fields(self.inner)
            self._done = True

    def encrypt(self, plain: str | None, *, where: str) -> str | None:
        self._ready()
        return self.inner.encrypt(plain, where=where)

    def decrypt(self, sealed: str | None, *, where: str) -> str | None:
        self._ready()
        if sealed is not None and (where, sealed) in self._rebound:
            sealed = self._rebound[(where, sealed)]  # this very row's old value, bound by the upgrade
        return self.inner.decrypt(sealed, where=where)

    def decrypt_unbound(self, sealed: str) -> str:
        return self.inner.decrypt_unbound(sealed)

    def lookup_hash(self, value: str) -> str:
        return self.inner.lookup_hash(value)


class Store:
    """One connection to the kiosk database. The UI and the sync worker each open their own."""

    def __init__(self, path: Path, cipher: Cipher) -> None:
        self.path = Path(path)
        self.cipher: Cipher = _UpgradingCipher(self, getattr(cipher, "inner", cipher))
        self._lock = threading.RLock()
        self._db: sqlite_utils.Database | None = None
        try:
            from cunzhan.paths import secure_sqlite_file

            secure_sqlite_file(
                self.path, folder=False
            )  # 0600: the folder is the caller's (paths.app_dir: 0700)
            self.conn = conn = sqlite3.connect(
                str(self.path), timeout=10.0, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA busy_timeout = 10000")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError("not_a_database", f"journal mode {mode}")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            if not self._is_current():
                migrations().apply(self.db)
                conn.execute(f"PRAGMA user_version = {len(KNOWN_MIGRATIONS)}")
        except sqlite3.DatabaseError as exc:
            raise StoreError("not_a_database", str(exc)) from exc

    @property
    def db(self) -> sqlite_utils.Database:
        """The same connection as a sqlite-utils `Database` (imported on first use)."""
        if self._db is None:
            import sqlite_utils

            self._db = sqlite_utils.Database(self.conn)
        return self._db

    @classmethod
    def open(cls, path: Path | None = None, *, cipher: Cipher | None = None) -> Store:
        """Open (creating if needed) the kiosk database, with the key from the OS keyring unless one is given."""
        from cunzhan import paths

        db_path = path or paths.database_path()
        return cls(db_path, cipher or store_cipher(str(Path(db_path).parent)))

    def _bind_unbound_fields(self, cipher: Cipher) -> dict[tuple[str, str], str]:
        """Re-encrypt every `v1:` field (no associated data) bound to its table, column and row, in one
        transaction; cheap when there are none (one scan per column, once per process). Returns what it replaced:
        (place, old value) → new value."""
        done: dict[tuple[str, str], str] = {}
        with self._lock:
            found = [
                (table, key, column, row[0], row[1])
                for table, key, column in SEALED_COLUMNS
                for row in self.conn.execute(
                    f"SELECT {key}, {column} FROM {table} WHERE {column} LIKE 'v1:%'"
                ).fetchall()
            ]
            if not found:
                return done
            with self.transaction() as conn:
                for table, key, column, row_id, sealed in found:
                    where = field_ref(table, column, str(row_id))
                    bound = cipher.encrypt(cipher.decrypt_unbound(sealed), where=where)
                    assert bound is not None
                    conn.execute(f"UPDATE {table} SET {column} = ? WHERE {key} = ?", (bound, row_id))
                    done[(where, sealed)] = bound
        return done

    def _is_current(self) -> bool:
        """Whether the file holds exactly the migrations this version knows (nothing to apply). Raises StoreError
        for a file from a newer version or one that is not a Cunzhan database; neither is ever written to."""
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(KNOWN_MIGRATIONS):
            raise StoreError("newer_schema", f"user_version {version}")
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if "_sqlite_migrations" not in names:
            if names - {"sqlite_sequence"}:
                raise StoreError("not_a_database", "unknown tables")
            return False
        applied = {
            r[0]
            for r in conn.execute(
                "SELECT name FROM _sqlite_migrations WHERE migration_set = ?", (MIGRATION_SET,)
            )
        }
        unknown = applied - set(KNOWN_MIGRATIONS)
        if unknown:
            raise StoreError("newer_schema", ", ".join(sorted(unknown)))
        return applied == set(KNOWN_MIGRATIONS) and version == len(KNOWN_MIGRATIONS)

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT), serialised within this process."""
        with self._lock:
            conn = self.conn
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self.conn.execute(sql, params)
            keys = [d[0] for d in cursor.description or ()]
            return [dict(zip(keys, row, strict=True)) for row in cursor]

    # --- settings and sync state ------------------------------------------------------------------------------------

    def stored_settings(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.query("SELECT key, value FROM settings")}

    def set_setting(self, key: str, value: str, *, actor: str = "system") -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO settings(key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )
            self._audit(conn, actor, "setting_changed", key)

    def state(self, key: str, default: str | None = None) -> str | None:
        rows = self.query("SELECT value FROM sync_state WHERE key = ?", (key,))
        return rows[0]["value"] if rows else default

    def set_state(self, key: str, value: str, conn: sqlite3.Connection | None = None) -> None:
        sql = "INSERT INTO sync_state(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value"
        if conn is not None:
            conn.execute(sql, (key, value))
        else:
            with self.transaction() as c:
                c.execute(sql, (key, value))

    def next_counter(self, conn: sqlite3.Connection, name: str) -> int:
        conn.execute("INSERT INTO counters(name, value) VALUES (?, 0) ON CONFLICT(name) DO NOTHING", (name,))
        conn.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (name,))
        return int(conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])

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

    # --- audit ------------------------------------------------------------------------------------------------------

    def _audit(self, conn: sqlite3.Connection, actor: str, action: str, detail: str = "") -> None:
        conn.execute(
            "INSERT INTO audit_log(at, actor, action, detail) VALUES (?, ?, ?, ?)",
            (to_text(utc_now()), actor, action, detail),
        )

    def audit(self, actor: str, action: str, detail: str = "") -> None:
        """Record an action (never with personal data in `detail`)."""
        with self.transaction() as conn:
            self._audit(conn, actor, action, detail)

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
                "village, suggestions_consent, remembered_profile, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET name_enc = excluded.name_enc, phone_enc = excluded.phone_enc, "
                "phone_masked = excluded.phone_masked, village = excluded.village, "
                "suggestions_consent = excluded.suggestions_consent, remembered_profile = excluded.remembered_profile",
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
        )

    def dependent(self, dependent_id: str) -> Dependent | None:
        rows = self.query("SELECT * FROM dependents WHERE id = ?", (dependent_id,))
        if not rows:
            return None
        d = rows[0]
        from cunzhan.models import Dependent

        name = self.cipher.decrypt(d["name_enc"], where=field_ref("dependents", "name_enc", d["id"]))
        return Dependent(d["id"], d["resident_id"], name or "", d["relation"], d["birth_year"])

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
        if session_id is not None:
            sets.append("session_id = ?")
            params.append(session_id)
        if version is not None:
            sets.append("version = ?")
            params.append(version)
        conn.execute(f"UPDATE bookings SET {', '.join(sets)} WHERE id = ?", (*params, booking_id))

    def booking(self, booking_id: str) -> Booking | None:
        rows = self.query("SELECT * FROM bookings WHERE id = ?", (booking_id,))
        return _bookings(rows)[0] if rows else None

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
        sql = "SELECT 1 FROM outbox WHERE entity_id = ? AND state = 'pending' LIMIT 1"
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
                "phone_masked = NULL, village = NULL, suggestions_consent = 0, remembered_profile = NULL WHERE id = ?",
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
        args = (LEASE_COUNTED_KEY + session_id, session_id)
        if conn is None:
            with self._lock:
                leased = self.conn.execute(sql_leased, (session_id, at)).fetchone()[0]
                used = self.conn.execute(sql_used, args).fetchone()[0]
        else:
            leased = conn.execute(sql_leased, (session_id, at)).fetchone()[0]
            used = conn.execute(sql_used, args).fetchone()[0]
        return max(0, int(leased) - int(used))

    def note_lease_counted(self, conn: sqlite3.Connection, session_id: str, booking_ids: list[str]) -> None:
        """Remember which of this kiosk's lease bookings for a session the township has counted (a lease change's
        `bookings`). Kept as a growing set, so an older change applied late never forgets one."""
        key = LEASE_COUNTED_KEY + session_id
        row = conn.execute("SELECT value FROM sync_state WHERE key = ?", (key,)).fetchone()
        known = set(json.loads(row[0])) if row else set()
        merged = known | set(booking_ids)
        if row is None or merged != known:
            self.set_state(key, json.dumps(sorted(merged)), conn)


LEASE_COUNTED_KEY = "lease_counted:"  # + session id: sync_state row, JSON list of booking ids
ERASED = "erased:"  # + resident id: the id_hash of an erased resident (never a keyed hash: those are hex)
# An outbox row about an erased booking (the booking's own ops, or its feedback's).
_ERASED_OP = (
    "(entity_id IN (SELECT id FROM bookings WHERE erased = 1) OR entity_id IN "
    "(SELECT f.id FROM feedback f JOIN bookings b ON b.id = f.booking_id WHERE b.erased = 1))"
)


# Rows become records in batches: cunzhan.models is imported once per query (with PySide6 loaded, every import
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

"""The connection: opening, schema check and migration, transactions, the cipher, settings, audit and sync state."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from cunzhan.fieldcrypto import Cipher, field_ref
from cunzhan.i18n import N_, gettext
from kiosk.crypto import store_cipher
from kiosk.store.schema import KNOWN_MIGRATIONS, TABLES, migrations

if TYPE_CHECKING:
    import sqlite_utils


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
    """A new UUID, version 7 (RFC 9562): Unix milliseconds first, then random bits (uuid-utils; Python 3.11 has no
    `uuid.uuid7`).

    Ids made close together share their leading digits, so a batch of ops and its results compress better on the
    wire (gzip, SYNC.md) and the backend's indexes grow at one end. A kiosk clock that is off changes only those
    leading digits; uniqueness rests on the random bits."""
    import uuid_utils  # ~4 ms, loaded with the first id (never before home is shown)

    return str(uuid_utils.uuid7())


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

    def __init__(self, store: StoreBase, inner: Cipher) -> None:
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


class StoreBase:
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
    def open(cls, path: Path | None = None, *, cipher: Cipher | None = None) -> Self:
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
        """Whether the file is at this version's schema (nothing to apply), from `PRAGMA user_version` (set after
        each migration run) and the tables it must hold: no sqlite-utils import. Raises StoreError for a file from
        a newer version or one that is not a Cunzhan database; neither is ever written to."""
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(KNOWN_MIGRATIONS):
            raise StoreError("newer_schema", f"user_version {version}")
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if version == len(KNOWN_MIGRATIONS):
            if not TABLES <= names:
                raise StoreError("not_a_database", "tables missing")
            return True
        if not names - {"sqlite_sequence"}:
            return False  # a new, empty file
        # An older Cunzhan file, or a foreign one: sqlite-utils' record of what was applied tells them apart.
        applied = {m.name for m in migrations().applied(self.db)}
        if not applied:
            raise StoreError("not_a_database", "unknown tables")
        unknown = applied - set(KNOWN_MIGRATIONS)
        if unknown:
            raise StoreError("newer_schema", ", ".join(sorted(unknown)))
        return False

    def applied_migrations(self) -> tuple[str, ...]:
        """The names of the migrations this file holds (an open store is always current)."""
        return KNOWN_MIGRATIONS

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (BEGIN IMMEDIATE … COMMIT), serialised within this process. Store methods that
        take its `conn` write inside it; the reading methods, called meanwhile on the same thread, see its writes
        (one connection)."""
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

    # --- settings ---------------------------------------------------------------------------------------------------

    def stored_settings(self) -> dict[str, str]:
        return {r["key"]: r["value"] for r in self.query("SELECT key, value FROM settings")}

    def set_setting(self, key: str, value: str, *, actor: str = "system") -> None:
        with self.transaction() as conn:
            self.write_setting(conn, key, value)
            self.audit(actor, "setting_changed", key, conn=conn)

    def write_setting(self, conn: sqlite3.Connection, key: str, value: str) -> None:
        """Store one setting inside the caller's transaction (no audit entry: `set_setting` writes one)."""
        conn.execute(
            "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def next_counter(self, conn: sqlite3.Connection, name: str) -> int:
        conn.execute("INSERT INTO counters(name, value) VALUES (?, 0) ON CONFLICT(name) DO NOTHING", (name,))
        conn.execute("UPDATE counters SET value = value + 1 WHERE name = ?", (name,))
        return int(conn.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()[0])

    # --- audit ------------------------------------------------------------------------------------------------------

    def audit(
        self, actor: str, action: str, detail: str = "", *, conn: sqlite3.Connection | None = None
    ) -> None:
        """Record an action (never with personal data in `detail`), inside the caller's transaction when `conn` is
        given, else in its own."""
        if conn is None:
            with self.transaction() as own:
                self.audit(actor, action, detail, conn=own)
            return
        conn.execute(
            "INSERT INTO audit_log(at, actor, action, detail) VALUES (?, ?, ?, ?)",
            (to_text(utc_now()), actor, action, detail),
        )

    def _audit(self, conn: sqlite3.Connection, actor: str, action: str, detail: str = "") -> None:
        """Kept for kiosk/staff.py until its split lands: use `audit(..., conn=conn)`."""
        self.audit(actor, action, detail, conn=conn)


ERASED = "erased:"  # + resident id: the id_hash of an erased resident (never a keyed hash: those are hex)

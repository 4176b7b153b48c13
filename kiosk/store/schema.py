"""The kiosk's schema: the sqlite-utils migration set, in order."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite_utils
    from sqlite_utils.migrations import Migrations

MIGRATION_SET = "cunzhan-kiosk"


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


def _m004_queue_numbers(db: sqlite_utils.Database) -> None:
    """The day of the session (#16): a checked-in booking's number in the waiting room, given here per session, and
    the last call of it (`call`, `recall`, `skip`, and when: who 叫下一位 calls next, whom 重叫 calls again)."""
    db.executescript(
        """
        ALTER TABLE bookings ADD COLUMN queue_number INTEGER;
        ALTER TABLE bookings ADD COLUMN called TEXT;
        ALTER TABLE bookings ADD COLUMN called_at TEXT;
        CREATE UNIQUE INDEX bookings_queue_number ON bookings (session_id, queue_number)
            WHERE queue_number IS NOT NULL;
        """
    )


def _m005_reminder_consent(db: sqlite_utils.Database) -> None:
    """A resident's agreement to SMS reminders at the kiosk: whose number the phone is, and when; whether a resident
    was invited to rate an attended booking at their next visit (asked once) (#16)."""
    db.executescript(
        """
        ALTER TABLE residents ADD COLUMN reminder_owner TEXT;
        ALTER TABLE residents ADD COLUMN reminder_at TEXT;
        ALTER TABLE bookings ADD COLUMN rating_asked INTEGER NOT NULL DEFAULT 0;
        """
    )


def _m006_queue_order(db: sqlite_utils.Database) -> None:
    """Queue numbers in booking order, a service setting (#16): how the service's waiting room numbers residents, and
    the number kept for a booking when it is stored here (given to it at check-in when its service says so)."""
    db.executescript(
        """
        ALTER TABLE services ADD COLUMN queue_order TEXT NOT NULL DEFAULT 'check_in';
        ALTER TABLE bookings ADD COLUMN kept_number INTEGER;
        """
    )


KNOWN_MIGRATIONS = (
    "m001_initial",
    "m002_staff_accounts",
    "m003_erased_bookings",
    "m004_queue_numbers",
    "m005_reminder_consent",
    "m006_queue_order",
)
# The tables a file at the current schema holds (`PRAGMA user_version` = len(KNOWN_MIGRATIONS)): the check that
# lets a current file open without sqlite-utils. A migration that adds a table adds it here too (a test compares).
TABLES = frozenset(
    {
        "services",
        "providers",
        "sessions",
        "residents",
        "dependents",
        "bookings",
        "outbox",
        "sync_state",
        "feedback",
        "audit_log",
        "settings",
        "leases",
        "notices",
        "counters",
        "staff",
        "staff_lockout",
    }
)


@cache
def migrations() -> Migrations:
    """The kiosk's sqlite-utils migration set, in order; names as in `KNOWN_MIGRATIONS`."""
    from sqlite_utils.migrations import Migrations

    found = Migrations(MIGRATION_SET)
    found(name="m001_initial")(_m001_initial)
    found(name="m002_staff_accounts")(_m002_staff_accounts)
    found(name="m003_erased_bookings")(_m003_erased_bookings)
    found(name="m004_queue_numbers")(_m004_queue_numbers)
    found(name="m005_reminder_consent")(_m005_reminder_consent)
    found(name="m006_queue_order")(_m006_queue_order)
    return found

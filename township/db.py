"""The township backend's database: SQLAlchemy Core tables, the engine, migrations and write transactions.

SQLite (the default, one township on one small PC) and PostgreSQL (a county backend) use the same tables. Times are
stored as naive UTC `DateTime` values (SQLite keeps no zone); `utc()` turns them back into aware datetimes.

Writes go through `Database.write()`, which serialises writers the way each engine needs (docs/sync.md, "Capacity"):
- SQLite: one process-wide lock per database file plus `BEGIN IMMEDIATE`, so a capacity check and the insert it
  guards run with no other writer in between (other processes, like the CLI, wait on SQLite's busy timeout);
- PostgreSQL: an ordinary transaction; callers lock the township row (`lock_township`) and the session row
  (`SELECT … FOR UPDATE`) before they read what they will decide on.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from cunzhan.paths import secure_sqlite_file

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

_ID = 36  # a UUID in text form


def _id(name: str = "id", **kw: Any) -> sa.Column[str]:
    return sa.Column(name, sa.String(_ID), **kw)


def _township_fk() -> sa.Column[str]:
    return sa.Column("township_id", sa.String(_ID), sa.ForeignKey("townships.id"), nullable=False, index=True)


def _now_col(name: str) -> sa.Column[dt.datetime]:
    return sa.Column(name, sa.DateTime(), nullable=False)


townships = sa.Table(
    "townships",
    metadata,
    _id(primary_key=True),
    sa.Column("slug", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("locale", sa.String(16), nullable=False, server_default="zh_CN"),  # language of per-op messages
    sa.Column("zone", sa.String(64), nullable=False, server_default="Asia/Shanghai"),
    sa.Column("last_seq", sa.BigInteger(), nullable=False, server_default="0"),  # last server_seq handed out
    sa.Column("log_floor", sa.BigInteger(), nullable=False, server_default="0"),  # cursors below it → 410
    sa.Column("cursor_secret", sa.String(64), nullable=False),  # signs this township's pull cursors
    sa.Column("next_kiosk_number", sa.Integer(), nullable=False, server_default="1"),
    _now_col("created_at"),
    # Residents with no session for this many months lose their personal data (township.retention).
    sa.Column("retention_months", sa.Integer(), nullable=False, server_default="24"),
    # The county above it (township.insight.scope); NULL: a township on its own.
    sa.Column("county_id", sa.String(_ID), sa.ForeignKey("counties.id"), nullable=True, index=True),
)

villages = sa.Table(
    "villages",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.UniqueConstraint("township_id", "name", name="uq_villages_township_name"),
)

services = sa.Table(
    "services",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("kind", sa.String(16), nullable=False),  # clinic | school
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False, server_default=""),
    sa.Column(
        "review", sa.Boolean(), nullable=False, server_default=sa.false()
    ),  # staff review before confirming
    sa.Column("what_to_bring", sa.Text(), nullable=False, server_default=""),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    _now_col("updated_at"),
    # How the waiting room numbers residents: check_in | booking (cunzhan.models.QueueOrder).
    sa.Column("queue_order", sa.String(16), nullable=False, server_default="check_in"),
    sa.CheckConstraint("queue_order IN ('check_in', 'booking')", name="ck_services_queue_order"),
)

providers = sa.Table(
    "providers",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("title", sa.String(100), nullable=False, server_default=""),
    sa.Column("organisation", sa.String(200), nullable=False, server_default=""),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    _now_col("updated_at"),
)

sessions = sa.Table(
    "sessions",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("service_id", sa.String(_ID), sa.ForeignKey("services.id"), nullable=False),
    sa.Column("provider_id", sa.String(_ID), sa.ForeignKey("providers.id"), nullable=False),
    sa.Column("starts_at", sa.DateTime(), nullable=False),
    sa.Column("ends_at", sa.DateTime(), nullable=False),
    sa.Column("capacity", sa.Integer(), nullable=False),
    sa.Column("room", sa.String(100), nullable=False, server_default=""),
    sa.Column("video_url", sa.String(500), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False, server_default="open"),  # open | cancelled | closed
    sa.Column("cancel_reason", sa.Text(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    _now_col("updated_at"),
    sa.Index("ix_sessions_service_start", "service_id", "starts_at"),
    sa.Index("ix_sessions_township_start", "township_id", "starts_at"),
)

residents = sa.Table(
    "residents",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    # Personal fields are encrypted with the key outside the database (township.keys.data_cipher), each bound to
    # this table, its column and the row id; the ID number is matched through its keyed hash (a blind index).
    sa.Column("id_blind", sa.String(64), nullable=False),  # HMAC of the ID number (validated, upper-case X)
    sa.Column("id_number_enc", sa.Text(), nullable=False),
    sa.Column("id_mask", sa.String(18), nullable=False),  # 3301**********123X, for display
    sa.Column("name_enc", sa.Text(), nullable=False),
    sa.Column("phone_enc", sa.Text(), nullable=True),
    sa.Column("village", sa.String(100), nullable=True),
    _now_col("created_at"),
    _now_col("updated_at"),
    sa.UniqueConstraint("township_id", "id_blind", name="uq_residents_township_id_blind"),
)

bookings = sa.Table(
    "bookings",
    metadata,
    _id(primary_key=True),  # made on the kiosk (the op's entity_id)
    _township_fk(),
    sa.Column("session_id", sa.String(_ID), sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("resident_id", sa.String(_ID), sa.ForeignKey("residents.id"), nullable=False),
    sa.Column("code", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    sa.Column("device_id", sa.String(_ID), sa.ForeignKey("devices.id"), nullable=True),  # NULL: made by staff
    sa.Column("kiosk_number", sa.Integer(), nullable=True),
    sa.Column("channel", sa.String(16), nullable=False, server_default="self"),  # self | assisted
    sa.Column("staff_id", sa.String(64), nullable=True),  # the kiosk staff member who helped (assisted)
    sa.Column("for_dependent", sa.JSON(), nullable=True),  # {"name", "relation", "birth_year"}
    sa.Column("dependent_key", sa.String(64), nullable=False, server_default=""),  # for duplicate detection
    sa.Column(
        "lease", sa.Boolean(), nullable=False, server_default=sa.false()
    ),  # confirmed offline on a lease
    sa.Column("waitlist_position", sa.BigInteger(), nullable=True),  # promotion order while waitlisted
    sa.Column("message", sa.Text(), nullable=False, server_default=""),  # for the resident, latest decision
    sa.Column("decided_by", sa.String(_ID), nullable=True),  # staff user who confirmed/rejected/reassigned
    # The contact details this booking was made with (a kiosk never rewrites the resident's record).
    sa.Column("contact_name_enc", sa.Text(), nullable=True),  # encrypted like the residents' fields
    sa.Column("contact_phone_enc", sa.Text(), nullable=True),
    sa.Column("contact_village", sa.String(100), nullable=True),
    # The personal-data notice the resident agreed to at the kiosk (its version, and when); NULL: not recorded.
    sa.Column("consent_notice", sa.String(16), nullable=True),
    sa.Column("consent_at", sa.DateTime(), nullable=True),
    # The resident's number in the waiting room, given by the kiosk at check-in (per session and kiosk, #16); the
    # kiosk that checked in is `device_id` (a check-in is accepted only from the booking's own kiosk).
    sa.Column("queue_number", sa.Integer(), nullable=True),
    # SMS reminders to contact_phone agreed to at the kiosk (#16): the question's version, when, whose number (self |
    # family). NULL: not agreed there; the outbox then texts only numbers entered by staff (township.notify.outbox).
    sa.Column("reminder_notice", sa.String(16), nullable=True),
    sa.Column("reminder_at", sa.DateTime(), nullable=True),
    sa.Column("reminder_owner", sa.String(8), nullable=True),
    # Invited to rate it at another kiosk of the township (#16, township.ratings): when, and which kiosk may send
    # the rating. Asked once, township-wide.
    sa.Column("rating_invited_at", sa.DateTime(), nullable=True),
    sa.Column("rating_invited_device", sa.String(_ID), nullable=True),
    _now_col("created_at"),
    _now_col("updated_at"),
    sa.UniqueConstraint("township_id", "code", name="uq_bookings_township_code"),
    sa.Index("ix_bookings_session_status", "session_id", "status"),
    sa.Index("ix_bookings_resident", "resident_id"),
)

feedback = sa.Table(
    "feedback",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("booking_id", sa.String(_ID), sa.ForeignKey("bookings.id"), nullable=False, index=True),
    sa.Column("device_id", sa.String(_ID), nullable=True),
    sa.Column("rating", sa.Integer(), nullable=False),
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Column("comment", sa.Text(), nullable=True),
    _now_col("created_at"),
    # A low rating followed up by the township's staff (#18): when, by whom (user name), and a short note sealed
    # like the comment (`keys.seal_note`: it may name a person or an illness).
    sa.Column("followed_up_at", sa.DateTime(), nullable=True),
    sa.Column("followed_up_by", sa.String(64), nullable=True),
    sa.Column("follow_up_note", sa.Text(), nullable=True),
)

devices = sa.Table(
    "devices",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("kiosk_number", sa.Integer(), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 of the bearer token
    _now_col("created_at"),
    sa.Column("revoked_at", sa.DateTime(), nullable=True),
    sa.Column("last_sync_at", sa.DateTime(), nullable=True),
    sa.Column("pending_ops", sa.Integer(), nullable=True),
    sa.Column("app_version", sa.String(64), nullable=True),
    sa.Column("clock_skew_s", sa.Float(), nullable=True),  # server minus kiosk clock, seconds
    sa.Column("leases_checked_at", sa.DateTime(), nullable=True),  # last lease grant/renewal pass
    sa.UniqueConstraint("township_id", "kiosk_number", name="uq_devices_township_kiosk_number"),
)

enrollment_codes = sa.Table(
    "enrollment_codes",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
    _now_col("created_at"),
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    sa.Column("used_at", sa.DateTime(), nullable=True),
    sa.Column("device_id", sa.String(_ID), nullable=True),
    sa.Column("created_by", sa.String(_ID), nullable=True),  # staff user, NULL from the command line
)

op_results = sa.Table(
    "op_results",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.String(_ID), nullable=False),
    sa.Column("op_id", sa.String(100), nullable=False),
    sa.Column("device_seq", sa.BigInteger(), nullable=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("result", sa.JSON(), nullable=False),
    _now_col("created_at"),
    sa.UniqueConstraint("device_id", "op_id", name="uq_op_results_device_op"),
)

changes = sa.Table(
    "changes",
    metadata,
    _township_fk(),
    sa.Column("seq", sa.BigInteger(), nullable=False),
    sa.Column("entity", sa.String(16), nullable=False),
    sa.Column("entity_id", sa.String(_ID), nullable=False),
    sa.Column("op", sa.String(8), nullable=False),  # upsert | delete
    sa.Column("version", sa.Integer(), nullable=False),
    sa.Column("data", sa.JSON(), nullable=False),
    sa.Column(
        "scope", sa.String(_ID), nullable=True
    ),  # NULL: the whole township; else only this device sees it
    _now_col("created_at"),
    sa.PrimaryKeyConstraint("township_id", "seq", name="pk_changes"),
)

leases = sa.Table(
    "leases",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("device_id", sa.String(_ID), sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("session_id", sa.String(_ID), sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("seats", sa.Integer(), nullable=False),  # granted
    sa.Column("used", sa.Integer(), nullable=False, server_default="0"),  # consumed by lease-backed creates
    sa.Column("expires_at", sa.DateTime(), nullable=False),
    # active → returning (expired; its delete change sent) → returned (the kiosk's cursor passed that change).
    sa.Column("state", sa.String(16), nullable=False, server_default="active"),
    sa.Column("return_seq", sa.BigInteger(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    _now_col("created_at"),
    _now_col("updated_at"),
    sa.Index("ix_leases_session_state", "session_id", "state"),
    sa.Index("ix_leases_device_state", "device_id", "state"),
)

notices = sa.Table(
    "notices",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text(), nullable=False, server_default=""),
    sa.Column("starts_at", sa.DateTime(), nullable=True),
    sa.Column("ends_at", sa.DateTime(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
    sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
    _now_col("created_at"),
)

# A console account is at one level (#18): a county's (county_id set, role county_admin) or a township's
# (township_id set; role admin | reviewer | provider, a provider account naming its `providers` row). User names
# are unique within their county or township; the checks keep every row at exactly one level.
staff_users = sa.Table(
    "staff_users",
    metadata,
    _id(primary_key=True),
    sa.Column("township_id", sa.String(_ID), sa.ForeignKey("townships.id"), nullable=True, index=True),
    sa.Column("county_id", sa.String(_ID), sa.ForeignKey("counties.id"), nullable=True, index=True),
    sa.Column("provider_id", sa.String(_ID), sa.ForeignKey("providers.id"), nullable=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),  # county_admin | admin | reviewer | provider
    sa.Column("password_hash", sa.String(200), nullable=False),  # argon2id
    sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime(), nullable=True),
    sa.Column("disabled_at", sa.DateTime(), nullable=True),
    # Raised by a password reset and a disable: a session cookie signed with an older epoch no longer works (#18).
    sa.Column("session_epoch", sa.Integer(), nullable=False, server_default="0"),
    _now_col("created_at"),
    sa.UniqueConstraint("township_id", "username", name="uq_staff_users_township_username"),
    sa.UniqueConstraint("county_id", "username", name="uq_staff_users_county_username"),
    sa.CheckConstraint("(township_id IS NULL) <> (county_id IS NULL)", name="ck_staff_users_one_level"),
    sa.CheckConstraint(
        "(role = 'county_admin') = (county_id IS NOT NULL)", name="ck_staff_users_county_role"
    ),
    sa.CheckConstraint("(role = 'provider') = (provider_id IS NOT NULL)", name="ck_staff_users_provider"),
)

staff_audit = sa.Table(
    "staff_audit",
    metadata,
    sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
    # A township's action; a county account's own (its sign-in, sign-out) names the county instead (#18).
    sa.Column("township_id", sa.String(_ID), sa.ForeignKey("townships.id"), nullable=True, index=True),
    sa.Column("county_id", sa.String(_ID), sa.ForeignKey("counties.id"), nullable=True, index=True),
    sa.Column("staff_id", sa.String(_ID), nullable=True),  # NULL: the command line / system
    sa.Column("who", sa.String(64), nullable=False),  # username at the time (or "cli", "system")
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(100), nullable=False, server_default=""),
    sa.Column("at", sa.DateTime(), nullable=False),  # when the backend recorded it (sorts the trail)
    sa.Column("detail", sa.JSON(), nullable=False),
    sa.Column(
        "client_at", sa.DateTime(), nullable=True
    ),  # a kiosk's own clock for its entries (shown, never sorted)
)

# Console sessions ended by signing out, until they would have expired anyway: in the database, so that every
# backend process refuses a signed-out cookie, also after a restart.
console_revoked = sa.Table(
    "console_revoked",
    metadata,
    sa.Column("sid", sa.String(64), primary_key=True),
    sa.Column("expires_at", sa.DateTime(), nullable=False, index=True),
)

# Sign-in throttling and lock-out (township.signin): one row per key, a keyed hash of a client address, an account,
# or the pair; never the address or user name in clear.
signin_throttle = sa.Table(
    "signin_throttle",
    metadata,
    sa.Column("key", sa.String(80), primary_key=True),
    sa.Column("failures", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("window_start", sa.DateTime(), nullable=False),
    sa.Column("locked_until", sa.DateTime(), nullable=True),
)

# Jobs a server runs daily while it serves (township.daily): when each last ran, so that several processes or hosts
# on one database run it once a day between them (the claim is one conditional UPDATE: a database-level guard).
maintenance_runs = sa.Table(
    "maintenance_runs",
    metadata,
    sa.Column("job", sa.String(32), primary_key=True),
    sa.Column("last_run_at", sa.DateTime(), nullable=False),
)

holidays = sa.Table(
    "holidays",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.UniqueConstraint("township_id", "day", name="uq_holidays_township_day"),
)

# Messages to residents (township.notify): queued in the transaction that caused them, sent at most once. `params`
# holds only what the text shows (service kind, time, booking code, reason), never a name or a phone: the number is
# read from the booking when the message is sent, so an erased resident's queued messages go nowhere.
notifications = sa.Table(
    "notifications",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("booking_id", sa.String(_ID), sa.ForeignKey("bookings.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("dedupe_key", sa.String(120), nullable=False),  # one message per booking, kind and occasion
    sa.Column("params", sa.JSON(), nullable=False),
    # queued | sending | sent | failed | unknown (crashed while sending: never resent) | skipped (see last_error)
    sa.Column("status", sa.String(16), nullable=False, server_default="queued"),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
    sa.Column("provider", sa.String(16), nullable=True),
    sa.Column("provider_message_id", sa.String(80), nullable=True),
    sa.Column(
        "last_error", sa.String(80), nullable=False, server_default=""
    ),  # a provider's error code, no data
    _now_col("created_at"),
    _now_col("updated_at"),
    sa.Column("sent_at", sa.DateTime(), nullable=True),
    sa.UniqueConstraint("township_id", "dedupe_key", name="uq_notifications_township_dedupe_key"),
    sa.Index("ix_notifications_due", "status", "next_attempt_at"),
)

# How a township sends SMS: the provider, its public settings, its credentials (encrypted with the data key, which
# lives outside the database, and never shown again once saved), quiet hours and the township's own texts.
notify_settings = sa.Table(
    "notify_settings",
    metadata,
    sa.Column("township_id", sa.String(_ID), sa.ForeignKey("townships.id"), primary_key=True),
    sa.Column("provider", sa.String(16), nullable=False, server_default="off"),  # off | tencent | http
    sa.Column("config", sa.JSON(), nullable=False),  # app id, sign name, template ids, region, endpoint / url
    sa.Column("secret_enc", sa.Text(), nullable=True),
    sa.Column("quiet_from", sa.String(5), nullable=False, server_default="21:00"),  # township's local time
    sa.Column("quiet_until", sa.String(5), nullable=False, server_default="08:00"),
    sa.Column("texts", sa.JSON(), nullable=False),  # kind → the township's text (else the default)
    _now_col("updated_at"),
)


# --- the county's view (issue 18, township.insight) -------------------------------------------------------------------

# A county above its townships: a county account sees its townships' figures, a township account only its own.
counties = sa.Table(
    "counties",
    metadata,
    _id(primary_key=True),
    sa.Column("slug", sa.String(64), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("zone", sa.String(64), nullable=False, server_default="Asia/Shanghai"),
    sa.Column("locale", sa.String(16), nullable=False, server_default="zh_CN"),
    _now_col("created_at"),
)

# What residents wanted and could not have (a create refused for lack of seats, or waitlisted; a search that found
# no session), for the needs profile. No personal data: no resident, booking, device or exact time of the wanted
# session, only its local week, weekday and time band; `at` is kept to the hour.
unmet_demand = sa.Table(
    "unmet_demand",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("village", sa.String(100), nullable=False, server_default=""),  # '' when the kiosk gave none
    sa.Column("service_id", sa.String(_ID), sa.ForeignKey("services.id"), nullable=False),
    sa.Column("session_id", sa.String(_ID), sa.ForeignKey("sessions.id"), nullable=True),
    sa.Column("provider_id", sa.String(_ID), nullable=True),  # the wanted session's
    sa.Column("week", sa.Date(), nullable=False),  # Monday of the wanted local week
    sa.Column("weekday", sa.Integer(), nullable=False),  # 0 Monday … 6 Sunday, local
    sa.Column("band", sa.String(16), nullable=False),  # morning | afternoon | evening, local
    sa.Column("reason", sa.String(16), nullable=False),  # slot_full | waitlisted | no_session
    sa.Column("at", sa.DateTime(), nullable=False),
    sa.Index("ix_unmet_demand_township_week", "township_id", "week"),
)

# Weekly figures per township × village × service × provider for weeks already rolled up (township.insight.rollup):
# the dashboard reads these for past weeks and counts the weeks not rolled up live. '' stands for "none" in keys.
insight_weekly = sa.Table(
    "insight_weekly",
    metadata,
    sa.Column("township_id", sa.String(_ID), sa.ForeignKey("townships.id"), nullable=False),
    sa.Column("week", sa.Date(), nullable=False),
    sa.Column("village", sa.String(100), nullable=False),
    sa.Column("service_id", sa.String(_ID), nullable=False),
    sa.Column("provider_id", sa.String(_ID), nullable=False),
    sa.Column("bookings", sa.Integer(), nullable=False),
    sa.Column("attended", sa.Integer(), nullable=False),
    sa.Column("no_show", sa.Integer(), nullable=False),
    sa.Column("waitlisted", sa.Integer(), nullable=False),
    sa.Column("refused", sa.Integer(), nullable=False),
    sa.Column("ratings", sa.Integer(), nullable=False),
    sa.Column("rating_sum", sa.Integer(), nullable=False),
    sa.Column("low_ratings", sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint(
        "township_id", "week", "village", "service_id", "provider_id", name="pk_insight_weekly"
    ),
)

# A need of the needs profile that a county administrator forwarded to its township's administrators (#18): the
# county does not schedule a township's sessions; the township's administrators see it on their needs page, with
# "Create sessions", until one marks it handled. The need is named by its keys (no personal data).
need_referrals = sa.Table(
    "need_referrals",
    metadata,
    _id(primary_key=True),
    _township_fk(),
    sa.Column("county_id", sa.String(_ID), sa.ForeignKey("counties.id"), nullable=False),
    sa.Column("village", sa.String(100), nullable=False),
    sa.Column("service_id", sa.String(_ID), sa.ForeignKey("services.id"), nullable=False),
    sa.Column("weekday", sa.Integer(), nullable=False),
    sa.Column("band", sa.String(16), nullable=False),
    sa.Column("weeks", sa.Integer(), nullable=False),  # the period the need was seen over
    sa.Column("total", sa.Integer(), nullable=False),  # its unmet demand then
    sa.Column("sent_by", sa.String(64), nullable=False),  # the county administrator's user name
    sa.Column("sent_at", sa.DateTime(), nullable=False),
    sa.Column("handled_by", sa.String(64), nullable=True),
    sa.Column("handled_at", sa.DateTime(), nullable=True),
)

# Which township weeks `insight_weekly` holds (a week with no bookings has a mark and no rows).
insight_weeks = sa.Table(
    "insight_weeks",
    metadata,
    sa.Column("township_id", sa.String(_ID), sa.ForeignKey("townships.id"), nullable=False),
    sa.Column("week", sa.Date(), nullable=False),
    _now_col("refreshed_at"),
    sa.PrimaryKeyConstraint("township_id", "week", name="pk_insight_weeks"),
)

# --- the day of the session (issue 16, township.calls) ----------------------------------------------------------------

# The waiting-room calls ("请 3 号 到 远程诊室"), each addressed to the kiosk that checked the resident in, which
# long-polls for them (GET /v1/calls). `seq` is what the kiosk asks after: every insert runs with the township row
# locked, so a township's seqs commit in the order they are handed out and a kiosk never skips one.
calls = sa.Table(
    "calls",
    metadata,
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=True),
    _township_fk(),
    sa.Column("session_id", sa.String(_ID), sa.ForeignKey("sessions.id"), nullable=False),
    sa.Column("booking_id", sa.String(_ID), sa.ForeignKey("bookings.id"), nullable=False),
    sa.Column(
        "device_id", sa.String(_ID), sa.ForeignKey("devices.id"), nullable=False
    ),  # the kiosk addressed
    sa.Column("queue_number", sa.Integer(), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),  # call | recall | skip (protocol.CallAction)
    sa.Column("room", sa.String(100), nullable=False, server_default=""),
    sa.Column("source", sa.String(16), nullable=False),  # console | kiosk (made at the kiosk: not sent back)
    sa.Column("who", sa.String(64), nullable=False),  # staff user name, or "kiosk N: staff"
    sa.Column("staff_id", sa.String(_ID), nullable=True),  # console staff user; NULL for a kiosk's call
    sa.Column("at", sa.DateTime(), nullable=False),  # when the backend recorded it
    sa.Column("client_at", sa.DateTime(), nullable=True),  # a kiosk's own clock for its calls (shown only)
    sa.Index("ix_calls_device_seq", "device_id", "seq"),
    sa.Index("ix_calls_booking", "booking_id"),
    sqlite_autoincrement=True,  # never reuse a seq, even after the newest rows are deleted
)

# Low ratings for follow-up, newest first, per township.
sa.Index("ix_feedback_township_created", feedback.c.township_id, feedback.c.created_at)


# --- time ------------------------------------------------------------------------------------------------------------


def now_utc() -> dt.datetime:
    """The current time, aware UTC, to the second's fraction."""
    return dt.datetime.now(dt.UTC)


def naive(value: dt.datetime) -> dt.datetime:
    """An aware datetime as the naive UTC value the tables store."""
    if value.tzinfo is None:
        return value
    return value.astimezone(dt.UTC).replace(tzinfo=None)


def utc(value: dt.datetime) -> dt.datetime:
    """A stored naive UTC datetime as an aware one."""
    if value.tzinfo is None:
        return value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC)


def iso(value: dt.datetime | None) -> str | None:
    """UTC ISO-8601 text (seconds) for the wire, or None."""
    if value is None:
        return None
    return utc(value).isoformat(timespec="seconds")


# --- locations -------------------------------------------------------------------------------------------------------


def data_dir() -> Path:
    """`$CUNZHAN_HOME/township/`, else the platform's user data directory + `/township` (created)."""
    from cunzhan.paths import app_dir

    return app_dir("township")


def default_url() -> str:
    """The default database: SQLite in `data_dir()`."""
    return f"sqlite:///{data_dir() / 'township.db'}"


# --- engine and transactions -----------------------------------------------------------------------------------------

_sqlite_locks: dict[str, threading.Lock] = {}
_sqlite_locks_guard = threading.Lock()


class Busy(Exception):
    """The database could not take another writer in time (→ 503 with Retry-After: `retry_after_s` when the
    caller knows how long the wait is, else the default)."""

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Database:
    """One engine plus the write discipline for its dialect. Create one per process and share it."""

    def __init__(self, url: str, *, pool_size: int = 20, write_timeout_s: float = 30.0) -> None:
        self.url = url
        self.write_timeout_s = write_timeout_s
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            path = url.split("///", 1)[1] if "///" in url else ""
            if path and path != ":memory:":
                secure_sqlite_file(Path(path))
            # hide_parameters: a failing statement's error (and so any log) never carries residents' data.
            self.engine: Engine = sa.create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30},
                pool_size=pool_size,
                max_overflow=pool_size,
                hide_parameters=True,
            )
            _configure_sqlite(self.engine)
            key = str(Path(path).resolve()) if path and path != ":memory:" else url
            with _sqlite_locks_guard:
                self._lock = _sqlite_locks.setdefault(key, threading.Lock())
        else:
            self.engine = sa.create_engine(
                url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True, hide_parameters=True
            )
            self._lock = threading.Lock()  # unused on PostgreSQL: row locks do the work

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction, committed when the block ends (rolled back on error).

        On SQLite the process-wide writer lock is held for the whole transaction, which starts with BEGIN IMMEDIATE.
        Raises `Busy` when the lock cannot be had within `write_timeout_s`; on PostgreSQL the same limit is the
        transaction's `lock_timeout` (an OperationalError, answered 503 by the app).
        """
        if self.is_sqlite:
            if not self._lock.acquire(timeout=self.write_timeout_s):
                raise Busy("writer lock timeout")
            try:
                with self.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
                    try:
                        with conn.begin():
                            yield conn
                            run_before_commit(conn)
                            _write_back_seqs(conn)
                    finally:
                        _forget_transaction_state(conn)
            finally:
                self._lock.release()
        else:
            with self.engine.connect() as conn:
                try:
                    with conn.begin():
                        # Waiting longer than this for a row lock fails the request with 503 + Retry-After.
                        conn.exec_driver_sql(
                            f"SET LOCAL lock_timeout = '{int(self.write_timeout_s * 1000)}ms'"
                        )
                        yield conn
                        run_before_commit(conn)
                        _write_back_seqs(conn)
                finally:
                    _forget_transaction_state(conn)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (a consistent snapshot on SQLite's WAL)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()


_HOOKS = "cunzhan_before_commit"
_SEQ = "cunzhan_seq"


def before_commit(conn: Connection, key: str, hook: Callable[[Connection], None]) -> None:
    """Run `hook(conn)` once, just before this write transaction commits (not if it fails)."""
    conn.info.setdefault(_HOOKS, {}).setdefault(key, hook)


def _forget_transaction_state(conn: Connection) -> None:
    """Drop per-transaction notes (hooks, caches) so a pooled connection starts clean, even after a rollback."""
    for key in [k for k in conn.info if isinstance(k, str) and k.startswith("cunzhan_")]:
        del conn.info[key]


def run_before_commit(conn: Connection) -> None:
    """Run (and forget) the hooks registered with `before_commit`; a hook may register others."""
    hooks: dict[str, Callable[[Connection], None]] = conn.info.get(_HOOKS, {})
    while hooks:
        _key, hook = hooks.popitem()
        hook(conn)


def _configure_sqlite(engine: Engine) -> None:
    """WAL, foreign keys, a busy timeout, and our own BEGIN so that writers can ask for BEGIN IMMEDIATE."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when transactions begin (the pysqlite recipe).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(
            "PRAGMA busy_timeout=30000"
        )  # first: switching to WAL must wait for a process doing the same
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")


def lock_township(conn: Connection, township_id: str) -> sa.Row[Any]:
    """Lock the township row for this transaction (PostgreSQL; SQLite's writer lock already covers it).

    Every write takes it first: it orders writers so that `server_seq` values commit in the order they are handed
    out (a puller never sees seq n+1 before seq n), and it makes the per-device op check-and-apply atomic.
    """
    query = sa.select(townships).where(townships.c.id == township_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise LookupError("no such township")
    # While the lock is held nobody else can hand out this township's seqs: count them here and write the last
    # one back once, before commit (saves a round trip per change). A second call keeps the running count.
    counters: dict[str, list[int]] = conn.info.setdefault(_SEQ, {})
    counters.setdefault(township_id, [int(row.last_seq), int(row.last_seq)])
    return row


def next_seq(conn: Connection, township_id: str) -> int | None:
    """The next `server_seq` for a township locked in this transaction, or None when it was not locked here."""
    counter = conn.info.get(_SEQ, {}).get(township_id)
    if counter is None:
        return None
    counter[1] += 1
    return int(counter[1])


def _write_back_seqs(conn: Connection) -> None:
    for township_id, (first, last) in conn.info.pop(_SEQ, {}).items():
        if last != first:
            conn.execute(sa.update(townships).where(townships.c.id == township_id).values(last_seq=last))


def insert_rows(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows that all name the same columns, as one statement where the database allows.

    PostgreSQL: one `COPY … FROM STDIN` (issue 15: psycopg's executemany sends one INSERT per row, and a push's four
    batched inserts were a quarter of a worker's CPU and much of PostgreSQL's; a multi-row VALUES is one long
    statement text per row count, parsed again each time). Values go through the columns' own bind processing, so
    what is stored is what an INSERT would store (a JSON None is JSON null). A failure is raised as SQLAlchemy's
    exception of the same kind (an IntegrityError stays one), without the values. Elsewhere: one executemany.
    """
    if not rows:
        return
    keys = rows[0].keys()
    if conn.dialect.name != "postgresql" or any(row.keys() != keys for row in rows):
        conn.execute(sa.insert(table), rows)
        return
    names = list(keys)
    columns = [table.c[name] for name in names]
    processors = [c.type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for c in columns]
    pairs = list(zip(names, processors, strict=True))
    statement = f"COPY {table.name} ({', '.join(names)}) FROM STDIN"
    driver = conn.connection.driver_connection
    assert driver is not None
    error: type[Exception] = driver.Error
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([row[n] if p is None else p(row[n]) for n, p in pairs])
    except error as exc:
        # Same class, not the server's text: a COPY error quotes the whole row it refused.
        bare = type(exc)(f"{type(exc).__name__} in {statement}")
        raise sa.exc.DBAPIError.instance(
            statement, None, bare, error, hide_parameters=True, dialect=conn.dialect
        ) from None


def one_of(conn: Connection, column: sa.ColumnElement[Any], values: list[Any]) -> sa.ColumnElement[bool]:
    """`column IN (values)`; on PostgreSQL `column = ANY(:array)` instead: one statement text whatever the number
    of values, so psycopg parses it once and prepares it, and PostgreSQL plans it once (issue 15: the IN lists of
    a push's look-ups, one bind parameter per value, cost more to render and parse than to run)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == sa.any_(sa.bindparam(None, list(values), type_=ARRAY(column.type)))
    return column.in_(values)


def find_unique(
    conn: Connection,
    key: sa.Column[Any],
    values: list[Any],
    *,
    township_id: str,
    columns: list[sa.Column[Any]],
) -> list[sa.Row[Any]]:
    """`columns` of the rows in a township whose `key` is one of `values`, where (township_id, key) is unique in
    `key`'s table. PostgreSQL: one probe of that unique index per value (`unnest` × `LATERAL … LIMIT 1`). Why: on
    a table whose statistics are stale (a township's first hours, or any table growing faster than autovacuum
    analyses it) the planner took the township's own index for `township_id = … AND key IN (…)` and filtered every
    row of the township: 8–30 ms a push in the bench, against 0.4 ms whatever the statistics (issue 15)."""
    query = _find_unique_statement(conn.dialect.name, key, tuple(columns))
    found: list[sa.Row[Any]] = []
    for start in range(0, len(values), 400):
        found += conn.execute(
            query, {"township_id": township_id, "values": values[start : start + 400]}
        ).all()
    return found


_FIND_UNIQUE: dict[tuple[str, ...], sa.Select[Any]] = {}  # by dialect, table, key and column names


def _find_unique_statement(
    dialect: str, key: sa.Column[Any], columns: tuple[sa.Column[Any], ...]
) -> sa.Select[Any]:
    """`find_unique`'s statement, built once per dialect, key and columns (building it cost more than running it)."""
    table = key.table
    assert isinstance(table, sa.Table)
    name = (dialect, table.name, key.name, *(c.name for c in columns))
    query = _FIND_UNIQUE.get(name)
    if query is not None:
        return query
    township = table.c.township_id == sa.bindparam("township_id")
    if dialect != "postgresql":
        query = sa.select(*columns).where(township, key.in_(sa.bindparam("values", expanding=True)))
    else:
        from sqlalchemy.dialects.postgresql import ARRAY

        wanted = sa.func.unnest(sa.bindparam("values", type_=ARRAY(key.type)))
        k = wanted.table_valued("value").render_derived(name="k")
        probe = (
            sa.select(*columns)
            .where(township, key == k.c.value)
            .limit(sa.literal_column("1"))
            .lateral("found")
        )
        query = sa.select(*probe.c).select_from(k).join(probe, sa.true())
    _FIND_UNIQUE[name] = query
    return query


_SELECT_SESSION = sa.select(sessions).where(sessions.c.id == sa.bindparam("session_id"))
_LOCK_SESSION = _SELECT_SESSION.with_for_update()


def lock_session(conn: Connection, session_id: str) -> sa.Row[Any] | None:
    """The session row, locked FOR UPDATE on PostgreSQL, before its capacity is checked."""
    query = _LOCK_SESSION if conn.dialect.name == "postgresql" else _SELECT_SESSION  # built once (hot path)
    return conn.execute(query, {"session_id": session_id}).first()


# --- migrations ------------------------------------------------------------------------------------------------------

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str) -> Any:
    """An Alembic `Config` for `url`, without an ini file."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema (Alembic `upgrade head`)."""
    from alembic import command

    db = Database(url, pool_size=1)
    try:
        cfg = alembic_config(url)
        # Several processes may start at once on one database (`serve --workers`, a load balancer's pool): the
        # first to take the lock migrates, the others wait, then find the schema at head. SQLite: BEGIN IMMEDIATE
        # before Alembic reads its version (a deferred transaction upgraded to a writer fails at once with
        # "database is locked" instead of waiting). PostgreSQL: a transaction-level advisory lock.
        with db.engine.connect().execution_options(sqlite_begin="IMMEDIATE") as conn:
            if db.is_sqlite:
                # SQLite migrations rebuild tables (batch mode): foreign keys off while they do, checked after.
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY})
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
            if db.is_sqlite:
                raw = conn.connection.driver_connection
                broken = raw.execute("PRAGMA foreign_key_check").fetchall()  # type: ignore[union-attr]
                raw.execute("PRAGMA foreign_keys=ON")  # type: ignore[union-attr]
                if broken:
                    raise RuntimeError(f"migration left {len(broken)} broken foreign keys")
    finally:
        db.dispose()


_MIGRATION_LOCK_KEY = 0x43_5A_4D_49  # "CZMI": any constant all our processes agree on

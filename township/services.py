"""What township staff (the web console and the command line) can do, as plain functions.

Each function opens its own write transaction on a `township.db.Database`, checks the acting staff member's township
and role, changes the tables through `township.booking` (so capacity rules and the waitlist apply), appends to the
change log (kiosks learn on their next pull) and writes `staff_audit`. Refusals raise `ServiceError`, whose
`message()` is translated at display time in the caller's locale (the console sets it per request); messages for
residents are written in the township's language.

`staff_id=None` means the command line (allowed for set-up: counties, townships, enrolment codes, staff accounts).
Accounts have a level (#18). A township account is `admin` (may do everything in its township, including its staff
accounts), `reviewer` (confirms, rejects, reassigns and records attendance) or `provider` (a doctor or teacher: only
their own sessions' roster). A county account is `county_admin`: the county's pages, creating and changing its
townships, managing their accounts and the county's own administrators; it has no township, so every township page
and township action refuses it. The role checks are the functions below `ROLES` (`is_admin`, `reads_township`,
`manages_accounts`), used by the console's dependencies and by `_actor`. Every staff action is recorded by `audit_row`, the one writer of `staff_audit` rows.
Times a township's staff type or read are in that township's zone (`townships.zone`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
import zoneinfo
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cunzhan.i18n import LOCALES, N_, use_locale
from cunzhan.i18n import gettext as _
from cunzhan.models import ACTIVE, CHANGEABLE, HOLDS_SEAT, QueueOrder
from cunzhan.models import BookingStatus as S
from cunzhan.zones import is_zone
from township import booking as B
from township import db
from township import messages as M
from township.insight.scope import Scope
from township.insight.scope import create_county as create_county_row
from township.notify import outbox as notify
from township.notify.messages import Kind

ADMIN = "admin"  # a township's administrator
REVIEWER = "reviewer"
PROVIDER = "provider"  # a doctor or teacher: sees only their own sessions (#16)
COUNTY_ADMIN = "county_admin"  # above the townships of one county (#18)
TOWNSHIP_ROLES = (ADMIN, REVIEWER, PROVIDER)  # the roles of a township account
ROLES = (COUNTY_ADMIN, *TOWNSHIP_ROLES)
MIN_PASSWORD = 8
MAX_PASSWORD = (
    128  # argon2 would take any length; a cap keeps a pasted megabyte out of the hasher and the form
)
ENROLLMENT_TTL = dt.timedelta(hours=24)
MAX_CAPACITY = 500

# Refusals worded for the console form that caused them (ServiceError.field names the field).
ERR_SEATS_TAKEN = N_(
    "{count} seats are already taken (booked, or held by kiosks for offline bookings), so the session cannot have "
    "fewer than {count} seats. Move or cancel bookings first."
)
ERR_OVERLAP_AT = N_(
    "This provider already has a session from {start} to {end} on {day} ({service}). "
    "One provider cannot be in two sessions at once. Choose another time or provider."
)
ERR_ON_HOLIDAY = N_("{day} is a holiday. Choose another day, or remove the holiday first.")
ERR_PARTLY_CREATED = N_("{done} sessions were created, then one could not be: {problem}")
ERR_ALREADY_HOLIDAY = N_("{day} is already a holiday.")
ERR_NO_NOTICE = N_("This notice no longer exists.")


ERR_NOT_IN_COUNTY = N_("This township is not one of your county's.")
ERR_SLUG = N_(
    "The short name may have 2 to 40 lower-case letters, digits and dashes, starting with a letter."
)
ERR_SLUG_TAKEN = N_("This short name is already used by a township or county.")
ERR_NAME = N_("Please enter a name (at most 100 characters).")
ERR_ZONE = N_("This is not a time zone. Use a name such as Asia/Shanghai.")
ERR_PASSWORD_LONG = N_("The password may have at most {count} characters.")
ERR_LOCALE = N_("This language is not available.")
ERR_USERNAME = N_("The user name may have 2 to 64 letters, digits, dots, dashes or underscores.")
ERR_PASSWORDS_DIFFER = N_("The two passwords are not the same.")
ERR_PROVIDER_NEEDED = N_("A provider account needs the provider whose sessions it runs.")
ERR_SELF = N_("You cannot disable your own account or change your own role.")
ERR_LAST_ADMIN = N_("This is the township's last administrator. Make another administrator first.")
ERR_LAST_COUNTY_ADMIN = N_(
    "This is the county's last administrator. Make another county administrator first."
)
ERR_COUNTY_ROLE = N_("A county administrator's role cannot be changed.")


def is_admin(role: str) -> bool:
    """A township's administrator: everything in the township, including its staff accounts."""
    return role == ADMIN


def reads_township(role: str) -> bool:
    """May see and work the township's pages (review, schedule, residents, kiosks, reports): an administrator or a
    reviewer. A provider sees only their own sessions' roster; a county account has no township."""
    return role in (ADMIN, REVIEWER)


def is_county_admin(role: str) -> bool:
    """A county's administrator: the county's pages, its townships and their administrators."""
    return role == COUNTY_ADMIN


class ServiceError(Exception):
    """A staff action was refused. `code`: not_found | forbidden | status | full | capacity | overlap | invalid."""

    def __init__(self, code: str, msgid: str, *, field: str = "", **params: Any) -> None:
        super().__init__(code)
        self.code = code
        self.msgid = msgid
        self.field = field  # the form field the refusal is about ("" for the whole form)
        self.params = params

    def message(self) -> str:
        """The refusal in the current locale."""
        return _(self.msgid).format(**self.params)


@dataclass(frozen=True, slots=True)
class StaffUser:
    """A signed-in staff member. A county account has no township: its `township_id` is "" (matches no row, so a
    township query that forgot to refuse it finds nothing) and `township_slug` is its county's slug."""

    id: str
    township_id: str
    township_slug: str
    username: str
    role: str
    provider_id: str | None = None  # set for the PROVIDER role: the provider whose sessions they run
    county_id: str | None = None  # set for a county account
    session_epoch: int = 0  # raised by a password reset or a disable: older console sessions are void

    @property
    def is_admin(self) -> bool:
        return is_admin(self.role)

    @property
    def reads_township(self) -> bool:
        return reads_township(self.role)

    @property
    def is_county_admin(self) -> bool:
        return is_county_admin(self.role)

    @property
    def scope(self) -> Scope:
        """What this account may see in the county's figures (#18): its county, or its township."""
        if self.county_id is not None:
            return Scope.county(self.county_id)
        return Scope.township(self.township_id)


def staff_query() -> sa.Select[Any]:
    """Staff accounts with their level's slug, zone and locale (a township's, or for a county account its
    county's): the one query `staff_user` reads."""
    t, town, county = db.staff_users, db.townships, db.counties
    return sa.select(
        t,
        sa.func.coalesce(town.c.slug, county.c.slug).label("slug"),
        sa.func.coalesce(town.c.zone, county.c.zone).label("zone"),
        sa.func.coalesce(town.c.locale, county.c.locale).label("locale"),
    ).select_from(
        t.outerjoin(town, town.c.id == t.c.township_id).outerjoin(county, county.c.id == t.c.county_id)
    )


def staff_user(row: sa.Row[Any]) -> StaffUser:
    """A `staff_query()` row as the signed-in staff member."""
    return StaffUser(
        str(row.id),
        str(row.township_id or ""),
        str(row.slug),
        str(row.username),
        str(row.role),
        provider_id=row.provider_id,
        county_id=row.county_id,
        session_epoch=int(row.session_epoch),
    )


@dataclass(frozen=True, slots=True)
class _Actor:
    staff_id: str | None
    who: str
    township_id: str
    locale: str
    zone: str
    county_id: str | None = (
        None  # a county administrator acting on one of its townships: on the county's trail
    )


# --- helpers ---------------------------------------------------------------------------------------------------------


def hash_secret(text: str) -> str:
    """sha256 hex of a high-entropy secret (device tokens, enrolment codes): no slow KDF needed for those."""
    return hashlib.sha256(text.encode()).hexdigest()


def normalise_enrollment_code(raw: str) -> str:
    """Digits only: staff may type the groups with dashes or spaces."""
    return "".join(ch for ch in raw if ch.isdigit())


def _township_by_slug(conn: Connection, slug: str) -> sa.Row[Any]:
    row = conn.execute(sa.select(db.townships).where(db.townships.c.slug == slug)).first()
    if row is None:
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    return row


def _actor(
    conn: Connection,
    staff_id: str | None,
    *,
    township_id: str | None = None,
    need_admin: bool = False,
    roles: tuple[str, ...] = (ADMIN, REVIEWER),
) -> _Actor:
    """Who acts, in which township; checks the role (`roles`, or only ADMIN with `need_admin`). `staff_id=None` is
    the command line. A county account is never a township's actor."""
    if staff_id is None:
        if township_id is None:
            raise ServiceError("forbidden", M.ERR_NOT_FOUND)
        town = db.lock_township(conn, township_id)
        return _Actor(None, "cli", town.id, town.locale, town.zone)
    staff = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.id == staff_id)).first()
    if staff is None or staff.disabled_at is not None or staff.township_id is None:
        raise ServiceError("forbidden", M.ERR_NOT_FOUND)
    if township_id is not None and township_id != staff.township_id:
        raise ServiceError("not_found", M.ERR_NOT_FOUND)  # other townships' rows do not exist for this user
    if staff.role not in ((ADMIN,) if need_admin else roles):
        raise ServiceError("forbidden", M.ERR_NOT_FOUND)
    town = db.lock_township(conn, staff.township_id)
    return _Actor(staff.id, staff.username, town.id, town.locale, town.zone)


def audit_row(
    conn: Connection,
    township_id: str | None,
    who: str,
    action: str,
    target: str,
    *,
    staff_id: str | None = None,
    at: dt.datetime | None = None,
    county_id: str | None = None,
    **detail: Any,
) -> None:
    """The one writer of the staff-actions trail (console, command line, and the system's own entries: an
    enrolment, a retention pass, a duplicate reported by a kiosk), in the caller's transaction. No personal data.
    A county account's own entries (signing in or out) name its county and no township."""
    conn.execute(
        sa.insert(db.staff_audit).values(
            township_id=township_id,
            county_id=county_id,
            staff_id=staff_id,
            who=who,
            action=action,
            target=target,
            at=db.naive(at or db.now_utc()),
            detail=detail,
        )
    )


def _audit(conn: Connection, actor: _Actor, action: str, target: str, **detail: Any) -> None:
    audit_row(
        conn,
        actor.township_id or None,  # "" when a county's administrator acts on one of its county's accounts
        actor.who,
        action,
        target,
        staff_id=actor.staff_id,
        county_id=actor.county_id,
        **detail,
    )


def record(conn: Connection, staff_id: str, action: str, target: str = "", **detail: Any) -> None:
    """Record a staff action that changes no table of its own (a sign-out, viewing a resident's numbers) in the
    transaction `conn`, for an account of any level and role."""
    staff = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.id == staff_id)).first()
    if staff is None or staff.disabled_at is not None:
        raise ServiceError("forbidden", M.ERR_NOT_FOUND)
    audit_row(
        conn,
        staff.township_id,
        staff.username,
        action,
        target,
        staff_id=staff.id,
        county_id=staff.county_id,
        **detail,
    )


def _booking_for(
    conn: Connection,
    booking_id: str,
    staff_id: str | None,
    *,
    need_admin: bool = False,
    roles: tuple[str, ...] = (ADMIN, REVIEWER),
) -> tuple[_Actor, sa.Row[Any]]:
    row = B.get_booking(conn, booking_id)
    if row is None:
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    actor = _actor(conn, staff_id, township_id=row.township_id, need_admin=need_admin, roles=roles)
    # Read it again now that the township is locked: a kiosk may have changed it in between (PostgreSQL).
    row = B.get_booking(conn, booking_id)
    assert row is not None
    return actor, row


def _session_for(
    conn: Connection,
    session_id: str,
    staff_id: str | None,
    *,
    need_admin: bool = False,
    roles: tuple[str, ...] = (ADMIN, REVIEWER),
) -> tuple[_Actor, sa.Row[Any]]:
    row = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == session_id)).first()
    if row is None:
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    actor = _actor(conn, staff_id, township_id=row.township_id, need_admin=need_admin, roles=roles)
    locked = db.lock_session(conn, session_id)
    assert locked is not None
    return actor, locked


def local_time_text(value: dt.datetime, zone: str) -> str:
    """`2026-11-30 09:00` in the township's zone, for messages."""
    return db.utc(value).astimezone(zoneinfo.ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


# --- township set-up -------------------------------------------------------------------------------------------------


def create_township(
    database: db.Database,
    slug: str,
    name: str,
    *,
    locale: str = "zh_CN",
    zone: str = "Asia/Shanghai",
    county: str | None = None,
) -> str:
    """Create a township (idempotent on `slug`) and return its id. `zone` is the IANA time zone the console shows
    and reads its times in (ServiceError ERR_ZONE for anything else, `checked_zone`); `county`: the id of the
    county above it. The command line (a county administrator uses `add_township`)."""
    checked_zone(zone)
    with database.write() as conn:
        row = conn.execute(sa.select(db.townships.c.id).where(db.townships.c.slug == slug)).first()
        if row is not None:
            return str(row.id)
        if conn.execute(sa.select(db.counties.c.id).where(db.counties.c.slug == slug)).first() is not None:
            raise ServiceError("invalid", ERR_SLUG_TAKEN, field="slug")
        return _insert_township(conn, slug, name, locale=locale, zone=zone, county=county)


def _insert_township(
    conn: Connection, slug: str, name: str, *, locale: str, zone: str, county: str | None
) -> str:
    ident = B.new_id()
    conn.execute(
        sa.insert(db.townships).values(
            id=ident,
            slug=slug,
            name=name,
            locale=locale,
            zone=zone,
            cursor_secret=secrets.token_hex(32),
            created_at=db.naive(db.now_utc()),
            county_id=county,
        )
    )
    return ident


def signin_slugs(database: db.Database) -> tuple[list[str], list[str]]:
    """Every township's slug and every county's, each in order: the sign-in form asks for one when there are
    several."""
    with database.read() as conn:
        towns = conn.execute(sa.select(db.townships.c.slug).order_by(db.townships.c.slug)).scalars()
        counties = conn.execute(sa.select(db.counties.c.slug).order_by(db.counties.c.slug)).scalars()
        return [str(x) for x in towns], [str(x) for x in counties]


def township_id(database: db.Database, slug: str) -> str:
    """The id of the township with this slug (ServiceError not_found otherwise)."""
    with database.read() as conn:
        return str(_township_by_slug(conn, slug).id)


def create_enrollment_code(
    database: db.Database,
    township_slug: str,
    *,
    staff_id: str | None = None,
    ttl: dt.timedelta = ENROLLMENT_TTL,
) -> str:
    """A new single-use enrolment code (12 digits, shown as `1234-5678-9012`) valid for `ttl`. Only its hash is
    stored. Admins only (or the command line)."""
    digits = "".join(secrets.choice("0123456789") for _ in range(12))
    with database.write() as conn:
        town = _township_by_slug(conn, township_slug)
        actor = _actor(conn, staff_id, township_id=town.id, need_admin=True)
        now = db.naive(db.now_utc())
        conn.execute(
            sa.insert(db.enrollment_codes).values(
                id=B.new_id(),
                township_id=town.id,
                code_hash=hash_secret(digits),
                created_at=now,
                expires_at=now + ttl,
                created_by=staff_id,
            )
        )
        _audit(conn, actor, "enrollment_code_created", township_slug, expires_in_s=int(ttl.total_seconds()))
    return f"{digits[:4]}-{digits[4:8]}-{digits[8:]}"


def revoke_device(database: db.Database, device_id: str, *, staff_id: str | None) -> None:
    """Revoke a kiosk: its token stops working at once (403) and its leased seats go back to the pool."""
    with database.write() as conn:
        dev = conn.execute(sa.select(db.devices).where(db.devices.c.id == device_id)).first()
        if dev is None:
            raise ServiceError("not_found", M.ERR_NOT_FOUND)
        actor = _actor(conn, staff_id, township_id=dev.township_id, need_admin=True)
        if dev.revoked_at is None:
            conn.execute(
                sa.update(db.devices)
                .where(db.devices.c.id == device_id)
                .values(revoked_at=db.naive(db.now_utc()))
            )
        with use_locale(actor.locale):
            for lease in conn.execute(
                sa.select(db.leases.c.id).where(
                    db.leases.c.device_id == device_id, db.leases.c.state.in_(B.LIVE_LEASE)
                )
            ).all():
                B.return_lease(conn, lease.id)
        _audit(conn, actor, "device_revoked", device_id, kiosk_number=dev.kiosk_number)


# --- staff accounts --------------------------------------------------------------------------------------------------


def _hasher() -> Any:
    from argon2 import PasswordHasher

    return PasswordHasher()


_SLUG = re.compile(r"[a-z][a-z0-9-]{1,39}")
_USERNAME = re.compile(r"[\w.\-]{2,64}")  # \w: letters of any script (a user name may be 王医生)


@dataclass(frozen=True, slots=True)
class _CountyActor:
    staff_id: str | None
    who: str
    county_id: str


def _new_password(password: str, again: str | None) -> str:
    """The argon2id hash of a new password (slow: call it outside any transaction); never stored in clear."""
    if again is not None and password != again:
        raise ServiceError("invalid", ERR_PASSWORDS_DIFFER, field="password")
    if len(password) < MIN_PASSWORD:
        raise ServiceError("invalid", M.ERR_PASSWORD_SHORT, field="password")
    if len(password) > MAX_PASSWORD:
        raise ServiceError("invalid", ERR_PASSWORD_LONG, field="password", count=MAX_PASSWORD)
    return str(_hasher().hash(password))


def _checked_username(username: str) -> str:
    username = username.strip()
    if not _USERNAME.fullmatch(username):
        raise ServiceError("invalid", ERR_USERNAME, field="username")
    return username


def _county_actor(conn: Connection, staff_id: str | None, county_id: str) -> _CountyActor:
    """The command line, or an administrator of county `county_id`."""
    if staff_id is None:
        return _CountyActor(None, "cli", county_id)
    staff = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.id == staff_id)).first()
    if staff is None or staff.disabled_at is not None or staff.role != COUNTY_ADMIN:
        raise ServiceError("forbidden", M.ERR_NOT_FOUND)
    if staff.county_id != county_id:
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    return _CountyActor(staff.id, staff.username, county_id)


def _accounts_actor(conn: Connection, staff_id: str | None, township_id: str) -> _Actor:
    """Who may manage township `township_id`'s accounts: the command line, its administrator, or an administrator
    of its county (who makes a new township's first administrator)."""
    if staff_id is not None:
        staff = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.id == staff_id)).first()
        if staff is not None and staff.role == COUNTY_ADMIN and staff.disabled_at is None:
            town = db.lock_township(conn, township_id)
            if town.county_id is None or town.county_id != staff.county_id:
                raise ServiceError("not_found", ERR_NOT_IN_COUNTY)
            return _Actor(staff.id, staff.username, town.id, town.locale, town.zone, staff.county_id)
    return _actor(conn, staff_id, township_id=township_id, need_admin=True)


def _slug_free(conn: Connection, slug: str) -> None:
    """Township and county slugs share one name space: the sign-in form's one field takes either."""
    for table in (db.townships, db.counties):
        if conn.execute(sa.select(table.c.id).where(table.c.slug == slug)).first() is not None:
            raise ServiceError("invalid", ERR_SLUG_TAKEN, field="slug")


def checked_zone(zone: str) -> str:
    """`zone` when it is a place's IANA time zone (`cunzhan.zones.is_zone`); else ServiceError ERR_ZONE on field
    "zone"."""
    if not is_zone(zone):
        raise ServiceError("invalid", ERR_ZONE, field="zone")
    return zone


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise ServiceError("invalid", ERR_NAME, field="name")
    return name


def _checked_place(slug: str, name: str, zone: str, locale: str) -> tuple[str, str]:
    slug = slug.strip()
    if not _SLUG.fullmatch(slug):
        raise ServiceError("invalid", ERR_SLUG, field="slug")
    name = _checked_name(name)
    checked_zone(zone)
    if locale not in LOCALES:
        raise ServiceError("invalid", ERR_LOCALE, field="locale")
    return slug, name


def create_county(
    database: db.Database, slug: str, name: str, *, zone: str = "Asia/Shanghai", locale: str = "zh_CN"
) -> str:
    """Create a county (idempotent on `slug`, like `create_township`) and return its id. The command line only."""
    slug, name = _checked_place(slug, name, zone, locale)
    with database.write() as conn:
        row = conn.execute(sa.select(db.counties.c.id).where(db.counties.c.slug == slug)).first()
        if row is not None:
            return str(row.id)
        _slug_free(conn, slug)
        return create_county_row(conn, slug, name, zone=zone, locale=locale)


def county_id(database: db.Database, slug: str) -> str:
    """The id of the county with this slug (ServiceError not_found otherwise)."""
    with database.read() as conn:
        row = conn.execute(sa.select(db.counties.c.id).where(db.counties.c.slug == slug)).first()
    if row is None:
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    return str(row.id)


def create_county_admin(
    database: db.Database,
    county_slug: str,
    username: str,
    password: str,
    *,
    staff_id: str | None = None,
    again: str | None = None,
) -> str:
    """Create a county administrator account and return its id. The command line, or another administrator of
    the same county (the console's county page; `again`: the password typed a second time)."""
    username = _checked_username(username)
    digest = _new_password(password, again)
    with database.write() as conn:
        county = conn.execute(sa.select(db.counties).where(db.counties.c.slug == county_slug)).first()
        if county is None:
            raise ServiceError("not_found", M.ERR_NOT_FOUND)
        actor = _county_actor(conn, staff_id, county.id)
        t = db.staff_users
        if conn.execute(
            sa.select(t.c.id).where(t.c.county_id == county.id, t.c.username == username)
        ).first():
            raise ServiceError("invalid", M.ERR_USERNAME_TAKEN, field="username")
        ident = B.new_id()
        conn.execute(
            sa.insert(t).values(
                id=ident,
                county_id=county.id,
                username=username,
                role=COUNTY_ADMIN,
                password_hash=digest,
                created_at=db.naive(db.now_utc()),
            )
        )
        audit_row(
            conn,
            None,
            actor.who,
            "staff_created",
            username,
            staff_id=actor.staff_id,
            county_id=county.id,
            role=COUNTY_ADMIN,
        )
        return ident


def add_township(
    database: db.Database, *, staff_id: str, slug: str, name: str, zone: str, locale: str
) -> str:
    """A county administrator creates a township of their county (its slug unused by any township or county)."""
    slug, name = _checked_place(slug, name, zone, locale)
    with database.write() as conn:
        staff = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.id == staff_id)).first()
        if staff is None or staff.county_id is None:
            raise ServiceError("forbidden", M.ERR_NOT_FOUND)
        actor = _county_actor(conn, staff_id, staff.county_id)
        _slug_free(conn, slug)
        ident = _insert_township(conn, slug, name, locale=locale, zone=zone, county=actor.county_id)
        audit_row(
            conn,
            ident,
            actor.who,
            "township_created",
            slug,
            staff_id=actor.staff_id,
            county_id=actor.county_id,
            zone=zone,
            locale=locale,
        )
        return ident


def edit_township(
    database: db.Database, township_id: str, *, staff_id: str, name: str, zone: str, locale: str
) -> bool:
    """A county administrator changes one of its county's townships: its name, time zone and residents' language
    (checked as on creation). The short name stays: kiosks and sign-in use it. Audited as `township_changed` with
    what changed; returns whether anything did."""
    name = _checked_name(name)
    checked_zone(zone)
    if locale not in LOCALES:
        raise ServiceError("invalid", ERR_LOCALE, field="locale")
    with database.write() as conn:
        staff = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.id == staff_id)).first()
        if staff is None or staff.county_id is None:
            raise ServiceError("forbidden", M.ERR_NOT_FOUND)
        actor = _county_actor(conn, staff_id, staff.county_id)
        town = conn.execute(sa.select(db.townships).where(db.townships.c.id == township_id)).first()
        if town is None or town.county_id != actor.county_id:
            raise ServiceError("not_found", ERR_NOT_IN_COUNTY)
        town = db.lock_township(conn, township_id)
        new = {"name": name, "zone": zone, "locale": locale}
        changed = {key: value for key, value in new.items() if getattr(town, key) != value}
        if not changed:
            return False
        conn.execute(sa.update(db.townships).where(db.townships.c.id == township_id).values(**changed))
        was = {key: getattr(town, key) for key in changed}
        audit_row(
            conn,
            township_id,
            actor.who,
            "township_changed",
            town.slug,
            staff_id=actor.staff_id,
            county_id=actor.county_id,
            changed=changed,
            was=was,
        )
        return True


def create_staff(
    database: db.Database,
    township_slug: str,
    username: str,
    role: str,
    password: str,
    *,
    staff_id: str | None = None,
    provider_id: str | None = None,
    again: str | None = None,
) -> str:
    """Create a township staff account (argon2id password hash) and return its id: an administrator, a reviewer, or
    a provider (`provider_id`: one of the township's providers). The township's administrators, its county's
    administrators, or the command line. `again`: the password typed a second time, when the form asks for it."""
    if role not in TOWNSHIP_ROLES:
        raise ServiceError("invalid", M.ERR_ROLE, field="role")
    username = _checked_username(username)
    digest = _new_password(password, again)
    with database.write() as conn:
        town = _township_by_slug(conn, township_slug)
        actor = _accounts_actor(conn, staff_id, town.id)
        if staff_id is not None and role != ADMIN and _is_county_admin_id(conn, staff_id):
            raise ServiceError("forbidden", M.ERR_ROLE, field="role")  # the county makes administrators only
        _check_provider(conn, town.id, role, provider_id)
        taken = conn.execute(
            sa.select(db.staff_users.c.id).where(
                db.staff_users.c.township_id == town.id, db.staff_users.c.username == username
            )
        ).first()
        if taken is not None:
            raise ServiceError("invalid", M.ERR_USERNAME_TAKEN, field="username")
        ident = B.new_id()
        conn.execute(
            sa.insert(db.staff_users).values(
                id=ident,
                township_id=town.id,
                username=username,
                role=role,
                provider_id=provider_id if role == PROVIDER else None,
                password_hash=digest,
                created_at=db.naive(db.now_utc()),
            )
        )
        _audit(conn, actor, "staff_created", username, role=role)
        return ident


def _is_county_admin_id(conn: Connection, staff_id: str) -> bool:
    role = conn.execute(sa.select(db.staff_users.c.role).where(db.staff_users.c.id == staff_id)).scalar()
    return role == COUNTY_ADMIN


def _check_provider(conn: Connection, township_id: str, role: str, provider_id: str | None) -> None:
    if role != PROVIDER:
        return
    p = db.providers
    if (
        not provider_id
        or conn.execute(
            sa.select(p.c.id).where(p.c.id == provider_id, p.c.township_id == township_id)
        ).first()
        is None
    ):
        raise ServiceError("invalid", ERR_PROVIDER_NEEDED, field="provider_id")


def _target(conn: Connection, target_id: str, staff_id: str | None) -> tuple[_Actor, sa.Row[Any]]:
    """An account someone manages, and who they are: a township account's manager is its township's or county's
    administrator; a county account's, another administrator of the same county (or the command line)."""
    row = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.id == target_id)).first()
    if row is None:
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    if row.township_id is None:
        county = _county_actor(conn, staff_id, row.county_id)
        query = sa.select(db.counties.c.id).where(db.counties.c.id == row.county_id)
        if conn.dialect.name == "postgresql":
            query = (
                query.with_for_update()
            )  # orders changes of the county's accounts (its last administrator)
        conn.execute(query)
        row = conn.execute(sa.select(db.staff_users).where(db.staff_users.c.id == target_id)).one()
        return _Actor(county.staff_id, county.who, "", "", "", county.county_id), row
    actor = _accounts_actor(conn, staff_id, row.township_id)
    return actor, row


def _keep_an_admin(conn: Connection, row: sa.Row[Any]) -> None:
    """Refuse to leave a township or a county without an active administrator (nobody could manage its
    accounts)."""
    if row.role not in (ADMIN, COUNTY_ADMIN) or row.disabled_at is not None:
        return
    t = db.staff_users
    level = t.c.county_id == row.county_id if row.role == COUNTY_ADMIN else t.c.township_id == row.township_id
    others = conn.execute(
        sa.select(sa.func.count())
        .select_from(t)
        .where(level, t.c.role == row.role, t.c.disabled_at.is_(None), t.c.id != row.id)
    ).scalar_one()
    if not others:
        raise ServiceError("invalid", ERR_LAST_COUNTY_ADMIN if row.role == COUNTY_ADMIN else ERR_LAST_ADMIN)


def set_staff_disabled(
    database: db.Database, target_id: str, disabled: bool, *, staff_id: str | None
) -> None:
    """Disable an account (it is signed out at its next request and cannot sign in) or enable it again. Nobody
    disables themselves, and a township or a county keeps at least one active administrator."""
    with database.write() as conn:
        actor, row = _target(conn, target_id, staff_id)
        if row.id == staff_id:
            raise ServiceError("invalid", ERR_SELF)
        if disabled == (row.disabled_at is not None):
            return
        if disabled:
            _keep_an_admin(conn, row)
        t = db.staff_users
        changes: dict[str, Any] = {"disabled_at": db.naive(db.now_utc()) if disabled else None}
        if disabled:  # every session the account has ends for good, also once it is enabled again
            changes["session_epoch"] = t.c.session_epoch + 1
        conn.execute(sa.update(t).where(t.c.id == target_id).values(**changes))
        _audit(conn, actor, "staff_disabled" if disabled else "staff_enabled", row.username)


def reset_password(
    database: db.Database, target_id: str, password: str, again: str, *, staff_id: str | None
) -> int:
    """Give an account a new password (typed twice; stored as an argon2id hash) and end every console session it
    has (its session epoch is raised, in every backend process). Returns the new epoch: someone who set their own
    password keeps only the session they did it in (the console re-signs that one)."""
    digest = _new_password(password, again)
    with database.write() as conn:
        actor, row = _target(conn, target_id, staff_id)
        t = db.staff_users
        conn.execute(
            sa.update(t)
            .where(t.c.id == target_id)
            .values(
                password_hash=digest,
                failed_attempts=0,
                locked_until=None,
                session_epoch=t.c.session_epoch + 1,
            )
        )
        _audit(conn, actor, "staff_password_reset", row.username)
        return int(conn.execute(sa.select(t.c.session_epoch).where(t.c.id == target_id)).scalar_one())


def change_role(
    database: db.Database, target_id: str, role: str, *, provider_id: str | None = None, staff_id: str | None
) -> None:
    """Make a township account an administrator, reviewer or provider (`provider_id` for a provider). Not one's
    own role, and a township keeps at least one active administrator."""
    if role not in TOWNSHIP_ROLES:
        raise ServiceError("invalid", M.ERR_ROLE, field="role")
    with database.write() as conn:
        actor, row = _target(conn, target_id, staff_id)
        if row.id == staff_id:
            raise ServiceError("invalid", ERR_SELF)
        if row.township_id is None:
            raise ServiceError("invalid", ERR_COUNTY_ROLE, field="role")  # one level per account
        _check_provider(conn, row.township_id, role, provider_id)
        new_provider = provider_id if role == PROVIDER else None
        if role == row.role and new_provider == row.provider_id:
            return
        if role != ADMIN:
            _keep_an_admin(conn, row)
        conn.execute(
            sa.update(db.staff_users)
            .where(db.staff_users.c.id == target_id)
            .values(role=role, provider_id=new_provider)
        )
        _audit(conn, actor, "staff_role_changed", row.username, role=role, was=row.role)


# --- bookings --------------------------------------------------------------------------------------------------------


def confirm_booking(database: db.Database, booking_id: str, *, staff_id: str | None) -> dict[str, Any]:
    """Confirm a booking awaiting review. Its seat was held since it arrived, so capacity cannot be exceeded."""
    with database.write() as conn:
        actor, row = _booking_for(conn, booking_id, staff_id)
        if row.status != S.PENDING_REVIEW:
            raise ServiceError("status", M.ERR_STATUS)
        with use_locale(actor.locale):
            new = B.update_booking(
                conn, booking_id, status=S.CONFIRMED, message=_(M.STAFF_CONFIRMED), decided_by=actor.staff_id
            )
        notify.queue(conn, new, Kind.CONFIRMED, occasion=f"v{new.version}")
        _audit(conn, actor, "booking_confirmed", row.code)
        return B.booking_summary(new)


def reject_booking(
    database: db.Database, booking_id: str, reason: str, *, staff_id: str | None
) -> dict[str, Any]:
    """Refuse a booking awaiting review (or waitlisted); `reason` is shown to the resident. Frees its seat."""
    with database.write() as conn:
        actor, row = _booking_for(conn, booking_id, staff_id)
        if row.status not in (S.PENDING_REVIEW, S.WAITLISTED):
            raise ServiceError("status", M.ERR_STATUS)
        reason = reason.strip()
        with use_locale(actor.locale):
            text = _(M.STAFF_REJECTED).format(reason=reason) if reason else _(M.STAFF_REJECTED_NO_REASON)
            new = B.update_booking(
                conn,
                booking_id,
                status=S.REJECTED,
                message=text,
                waitlist_position=None,
                decided_by=actor.staff_id,
            )
            if row.status in HOLDS_SEAT:
                B.release_seat(conn, row.session_id)
        notify.queue(conn, new, Kind.REJECTED, occasion=f"v{new.version}", reason=reason or "名额有限")
        _audit(conn, actor, "booking_rejected", row.code, reason=reason)
        return B.booking_summary(new)


def cancel_booking(database: db.Database, booking_id: str, *, staff_id: str | None) -> dict[str, Any]:
    """Cancel a booking at the resident's request (they phoned or came to the service hall), whichever kiosk made
    it, until its session starts; its seat goes to the waiting list as a kiosk's cancel does (`township.sync`).
    The resident asked, on the phone or in person: no text message is sent. The kiosk shows it at its next pull."""
    with database.write() as conn:
        actor, row = _booking_for(conn, booking_id, staff_id)
        if row.status not in (S.PENDING_REVIEW, S.CONFIRMED, S.WAITLISTED):
            raise ServiceError("status", M.ERR_STATUS)
        starts = conn.execute(
            sa.select(db.sessions.c.starts_at).where(db.sessions.c.id == row.session_id)
        ).scalar()
        if starts is not None and db.utc(starts) <= db.now_utc():
            raise ServiceError("started", M.ERR_STARTED)
        with use_locale(actor.locale):
            new = B.cancel_booking(conn, row, _(M.STAFF_CANCELLED), decided_by=actor.staff_id)
        _audit(conn, actor, "booking_cancelled", row.code)
        return B.booking_summary(new)


def reassign_booking(
    database: db.Database, booking_id: str, new_session_id: str, *, staff_id: str | None
) -> dict[str, Any]:
    """Move a booking to another open session of the township (a staff decision: it becomes `confirmed`).
    Refused when that session is full; the old seat goes to the old session's waitlist."""
    with database.write() as conn:
        actor, row = _booking_for(conn, booking_id, staff_id)
        if row.status not in CHANGEABLE:
            raise ServiceError("status", M.ERR_STATUS)
        if new_session_id == row.session_id:
            return B.booking_summary(row)
        new_session = db.lock_session(conn, new_session_id)
        if new_session is None or new_session.township_id != actor.township_id:
            raise ServiceError("not_found", M.ERR_NOT_FOUND)
        if new_session.status != "open" or db.utc(new_session.starts_at) <= db.now_utc():
            raise ServiceError("status", M.ERR_SESSION_NOT_OPEN)
        if B.seats_left(conn, new_session) <= 0:
            raise ServiceError("full", M.ERR_FULL)
        with use_locale(actor.locale):
            new = B.update_booking(
                conn,
                booking_id,
                session_id=new_session_id,
                status=S.CONFIRMED,
                lease=False,
                waitlist_position=None,
                message=_(M.STAFF_REASSIGNED),
                decided_by=actor.staff_id,
            )
            if row.status in HOLDS_SEAT:
                B.release_seat(conn, row.session_id)
            B.touch_session(conn, new_session_id)
        notify.queue(conn, new, Kind.MOVED, occasion=f"v{new.version}")
        _audit(
            conn,
            actor,
            "booking_reassigned",
            row.code,
            from_session=row.session_id,
            to_session=new_session_id,
        )
        return B.booking_summary(new)


def mark_attendance(
    database: db.Database,
    booking_id: str,
    attended: bool,
    *,
    staff_id: str | None,
    roles: tuple[str, ...] = (ADMIN, REVIEWER),
) -> dict[str, Any]:
    """Record whether the resident came: `attended` or `no_show` (from confirmed or checked_in). `roles`: who may
    (the roster also lets a provider, after checking the session is theirs: `township.calls`)."""
    with database.write() as conn:
        actor, row = _booking_for(conn, booking_id, staff_id, roles=roles)
        if row.status not in (S.CONFIRMED, S.CHECKED_IN, S.ATTENDED, S.NO_SHOW):
            raise ServiceError("status", M.ERR_STATUS)
        status = S.ATTENDED if attended else S.NO_SHOW
        if row.status == status:
            return B.booking_summary(row)
        with use_locale(actor.locale):
            new = B.update_booking(
                conn, booking_id, status=status, message=_(M.ATTENDED if attended else M.NO_SHOW)
            )
            if (row.status in HOLDS_SEAT) != (status in HOLDS_SEAT):
                B.touch_session(conn, row.session_id)
        _audit(conn, actor, "attendance_marked", row.code, status=status)
        return B.booking_summary(new)


# --- sessions --------------------------------------------------------------------------------------------------------


def _check_times_and_overlap(
    conn: Connection,
    township: str,
    provider_id: str,
    *,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude: str | None,
    zone: str,
) -> None:
    """Refuses an end before the start, and a time when the provider has another (not cancelled) session, naming
    that session in the township's local time."""
    if ends_at <= starts_at:
        raise ServiceError("invalid", M.ERR_TIMES, field="start")
    s, sv = db.sessions, db.services
    query = (
        sa.select(s.c.starts_at, s.c.ends_at, sv.c.name)
        .join(sv, sv.c.id == s.c.service_id)
        .where(
            s.c.township_id == township,
            s.c.provider_id == provider_id,
            s.c.status != "cancelled",
            s.c.starts_at < db.naive(ends_at),
            s.c.ends_at > db.naive(starts_at),
        )
        .order_by(s.c.starts_at)
    )
    if exclude is not None:
        query = query.where(s.c.id != exclude)
    found = conn.execute(query.limit(1)).first()
    if found is not None:
        local = db.utc(found.starts_at).astimezone(zoneinfo.ZoneInfo(zone))
        raise ServiceError(
            "overlap",
            ERR_OVERLAP_AT,
            field="start",
            start=local.strftime("%H:%M"),
            end=db.utc(found.ends_at).astimezone(zoneinfo.ZoneInfo(zone)).strftime("%H:%M"),
            day=local.date().isoformat(),
            service=found.name,
        )


def create_session(
    database: db.Database,
    *,
    staff_id: str | None,
    township_slug: str,
    service_id: str,
    provider_id: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    capacity: int,
    room: str = "",
    video_url: str = "",
    session_id: str | None = None,
) -> str:
    """Add a bookable session (aware datetimes). Refuses a provider's overlapping sessions. Admins only."""
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ServiceError("capacity", M.ERR_CAPACITY)
    with database.write() as conn:
        town = _township_by_slug(conn, township_slug)
        actor = _actor(conn, staff_id, township_id=town.id, need_admin=True)
        for table, ident in ((db.services, service_id), (db.providers, provider_id)):
            found = conn.execute(
                sa.select(table.c.id).where(table.c.id == ident, table.c.township_id == town.id)
            ).first()
            if found is None:
                raise ServiceError("not_found", M.ERR_NOT_FOUND)
        _check_times_and_overlap(
            conn, town.id, provider_id, starts_at=starts_at, ends_at=ends_at, exclude=None, zone=actor.zone
        )
        ident = session_id or B.new_id()
        conn.execute(
            sa.insert(db.sessions).values(
                id=ident,
                township_id=town.id,
                service_id=service_id,
                provider_id=provider_id,
                starts_at=db.naive(starts_at),
                ends_at=db.naive(ends_at),
                capacity=capacity,
                room=room,
                video_url=video_url,
                status="open",
                version=0,
                updated_at=db.naive(db.now_utc()),
            )
        )
        B.touch_session(conn, ident)
        _audit(conn, actor, "session_created", ident, capacity=capacity)
        return ident


def edit_session(
    database: db.Database,
    session_id: str,
    *,
    staff_id: str | None,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    capacity: int | None = None,
    room: str | None = None,
    video_url: str | None = None,
    closed: bool | None = None,
) -> None:
    """Change a session. Capacity may not go below the seats already taken or leased to kiosks; times may not
    overlap another session of the provider; `closed=True` stops new bookings (existing ones stand). Admins only."""
    with database.write() as conn:
        actor, row = _session_for(conn, session_id, staff_id, need_admin=True)
        if row.status == "cancelled":
            raise ServiceError("status", M.ERR_SESSION_NOT_OPEN)
        values: dict[str, Any] = {}
        new_start = starts_at or db.utc(row.starts_at)
        new_end = ends_at or db.utc(row.ends_at)
        if starts_at is not None or ends_at is not None:
            _check_times_and_overlap(
                conn,
                row.township_id,
                row.provider_id,
                starts_at=new_start,
                ends_at=new_end,
                exclude=session_id,
                zone=actor.zone,
            )
            values |= {"starts_at": db.naive(new_start), "ends_at": db.naive(new_end)}
        if capacity is not None:
            if not 1 <= capacity <= MAX_CAPACITY:
                raise ServiceError("capacity", M.ERR_CAPACITY, field="capacity")
            taken, leased = B.seat_counts(conn, session_id)
            if capacity < taken + leased:
                raise ServiceError("capacity", ERR_SEATS_TAKEN, field="capacity", count=taken + leased)
            values["capacity"] = capacity
        if room is not None:
            values["room"] = room
        if video_url is not None:
            values["video_url"] = video_url
        if closed is not None:
            values["status"] = "closed" if closed else "open"
        if values:
            conn.execute(sa.update(db.sessions).where(db.sessions.c.id == session_id).values(**values))
        if "starts_at" in values and values["starts_at"] != row.starts_at:
            for booking in conn.execute(
                sa.select(db.bookings).where(
                    db.bookings.c.session_id == session_id,
                    db.bookings.c.status.in_((S.CONFIRMED, S.PENDING_REVIEW)),
                )
            ).all():
                notify.queue(conn, booking, Kind.SESSION_MOVED, occasion=db.iso(new_start) or "")
        with use_locale(actor.locale):
            if capacity is not None and capacity > row.capacity:
                B.promote_waitlist(conn, session_id)
            B.touch_session(conn, session_id)
        _audit(
            conn,
            actor,
            "session_edited",
            session_id,
            **{k: (db.iso(v) if isinstance(v, dt.datetime) else v) for k, v in values.items()},
        )


def cancel_session(database: db.Database, session_id: str, reason: str, *, staff_id: str | None) -> int:
    """Cancel a session: every active booking is cancelled and told why, with up to three other times to book;
    kiosks' leases on it are withdrawn. Returns how many bookings were told. Admins only."""
    with database.write() as conn:
        actor, row = _session_for(conn, session_id, staff_id, need_admin=True)
        if row.status == "cancelled":
            return 0
        conn.execute(
            sa.update(db.sessions)
            .where(db.sessions.c.id == session_id)
            .values(status="cancelled", cancel_reason=reason.strip() or None)
        )
        told = 0
        with use_locale(actor.locale):
            alts = B.alternatives(conn, row, now=db.now_utc())
            text = _(M.STAFF_SESSION_CANCELLED).format(reason=reason.strip()).strip()
            if alts:
                times = ", ".join(
                    local_time_text(dt.datetime.fromisoformat(str(a["starts_at"])), actor.zone) for a in alts
                )
                text += " " + _(M.STAFF_SESSION_CANCELLED_ALTERNATIVES).format(times=times)
            for booking in conn.execute(
                sa.select(db.bookings.c.id).where(
                    db.bookings.c.session_id == session_id, db.bookings.c.status.in_(ACTIVE)
                )
            ).all():
                cancelled = B.update_booking(
                    conn, booking.id, status=S.CANCELLED, message=text, waitlist_position=None
                )
                notify.queue(conn, cancelled, Kind.SESSION_CANCELLED, occasion=f"v{cancelled.version}")
                told += 1
            for lease in conn.execute(
                sa.select(db.leases.c.id).where(
                    db.leases.c.session_id == session_id, db.leases.c.state.in_(B.LIVE_LEASE)
                )
            ).all():
                conn.execute(
                    sa.update(db.leases)
                    .where(db.leases.c.id == lease.id)
                    .values(state="returned", version=db.leases.c.version + 1)
                )
                B.emit_lease(conn, lease.id, delete=True)
            B.touch_session(conn, session_id)
        _audit(conn, actor, "session_cancelled", session_id, reason=reason, bookings=told)
        return told


# --- notices ---------------------------------------------------------------------------------------------------------


def post_notice(
    database: db.Database,
    *,
    staff_id: str | None,
    township_slug: str,
    title: str,
    body: str = "",
    ends_at: dt.datetime | None = None,
) -> str:
    """Publish a notice to every kiosk of the township. Admins only."""
    with database.write() as conn:
        town = _township_by_slug(conn, township_slug)
        actor = _actor(conn, staff_id, township_id=town.id, need_admin=True)
        ident = B.new_id()
        now = db.naive(db.now_utc())
        conn.execute(
            sa.insert(db.notices).values(
                id=ident,
                township_id=town.id,
                title=title,
                body=body,
                starts_at=now,
                ends_at=db.naive(ends_at) if ends_at else None,
                created_at=now,
            )
        )
        B.emit_notice(conn, ident)
        _audit(conn, actor, "notice_posted", ident)
        return ident


def withdraw_notice(database: db.Database, notice_id: str, *, staff_id: str | None) -> None:
    """Take a notice down (kiosks delete it on their next pull). Admins only."""
    with database.write() as conn:
        row = conn.execute(sa.select(db.notices).where(db.notices.c.id == notice_id)).first()
        if row is None:
            raise ServiceError("not_found", ERR_NO_NOTICE)
        try:
            actor = _actor(conn, staff_id, township_id=row.township_id, need_admin=True)
        except ServiceError as error:
            if error.code == "not_found":  # another township's notice does not exist for this staff member
                raise ServiceError("not_found", ERR_NO_NOTICE) from error
            raise
        conn.execute(
            sa.update(db.notices)
            .where(db.notices.c.id == notice_id)
            .values(active=False, version=db.notices.c.version + 1)
        )
        B.emit_notice(conn, notice_id)
        _audit(conn, actor, "notice_withdrawn", notice_id)


# --- sessions planned in the console: weekly repeats, holidays ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """A checked session form: one or more weekly occurrences (aware UTC start and end)."""

    service_id: str
    provider_id: str
    occurrences: tuple[tuple[dt.datetime, dt.datetime], ...]
    capacity: int
    room: str
    video_url: str


def create_sessions(database: db.Database, plan: SessionPlan, *, staff_id: str) -> list[str]:
    """Create every weekly occurrence that is not on a holiday (in the township's zone); all are checked for
    overlaps before any is made. Admins only."""
    with database.read() as conn:
        actor = _actor(conn, staff_id, need_admin=True)
        slug = str(
            conn.execute(
                sa.select(db.townships.c.slug).where(db.townships.c.id == actor.township_id)
            ).scalar_one()
        )
        zone = zoneinfo.ZoneInfo(actor.zone)
        holidays = set(
            conn.execute(
                sa.select(db.holidays.c.day).where(db.holidays.c.township_id == actor.township_id)
            ).scalars()
        )
        wanted = [(s, e) for s, e in plan.occurrences if s.astimezone(zone).date() not in holidays]
        if not wanted:
            day = plan.occurrences[0][0].astimezone(zone).date().isoformat()
            raise ServiceError("invalid", ERR_ON_HOLIDAY, field="day", day=day)
        for starts, ends in wanted:
            _check_times_and_overlap(
                conn,
                actor.township_id,
                plan.provider_id,
                starts_at=starts,
                ends_at=ends,
                exclude=None,
                zone=actor.zone,
            )
    created: list[str] = []
    for starts, ends in wanted:
        try:
            created.append(
                create_session(
                    database,
                    staff_id=staff_id,
                    township_slug=slug,
                    service_id=plan.service_id,
                    provider_id=plan.provider_id,
                    starts_at=starts,
                    ends_at=ends,
                    capacity=plan.capacity,
                    room=plan.room,
                    video_url=plan.video_url,
                )
            )
        except ServiceError as error:
            if created:
                raise ServiceError(
                    error.code, ERR_PARTLY_CREATED, done=len(created), problem=error.message()
                ) from error
            raise
    return created


def add_holiday(database: db.Database, day: dt.date, name: str, *, staff_id: str) -> None:
    """A day without sessions: weekly repeats skip it. Existing sessions on it are not touched (cancel them).
    Admins only."""
    t = db.holidays
    with database.write() as conn:
        actor = _actor(conn, staff_id, need_admin=True)
        taken = conn.execute(
            sa.select(t.c.id).where(t.c.township_id == actor.township_id, t.c.day == day)
        ).first()
        if taken is not None:
            raise ServiceError("invalid", ERR_ALREADY_HOLIDAY, field="day", day=day.isoformat())
        conn.execute(sa.insert(t).values(id=B.new_id(), township_id=actor.township_id, day=day, name=name))
        _audit(conn, actor, "holiday_added", day.isoformat(), name=name)


def delete_holiday(database: db.Database, holiday_id: str, *, staff_id: str) -> None:
    """Admins only."""
    t = db.holidays
    with database.write() as conn:
        actor = _actor(conn, staff_id, need_admin=True)
        conn.execute(sa.delete(t).where(t.c.id == holiday_id, t.c.township_id == actor.township_id))
        _audit(conn, actor, "holiday_removed", holiday_id)


# --- the catalogue: services and providers ---------------------------------------------------------------------------


def _save_catalogue_row(
    conn: Connection, table: sa.Table, actor: _Actor, row_id: str | None, values: dict[str, Any]
) -> str:
    """Insert (version 1) or update (version + 1) one of the township's services or providers; returns its id."""
    if row_id is None:
        row_id = B.new_id()
        conn.execute(sa.insert(table).values(id=row_id, township_id=actor.township_id, version=1, **values))
        return row_id
    done = conn.execute(
        sa.update(table)
        .where(table.c.id == row_id, table.c.township_id == actor.township_id)
        .values(version=table.c.version + 1, **values)
    )
    if done.rowcount != 1:
        raise ServiceError("not_found", M.ERR_NOT_FOUND)
    return row_id


def save_service(
    database: db.Database,
    service_id: str | None,
    *,
    staff_id: str | None,
    township_id: str | None = None,
    name: str,
    kind: str,
    description: str,
    what_to_bring: str,
    review: bool,
    active: bool,
    queue_order: QueueOrder = QueueOrder.CHECK_IN,
) -> str:
    """Create (`service_id=None`) or change a service and publish it to the kiosks (the change log). Admins only;
    the command line names the township."""
    values = {
        "name": name,
        "kind": kind,
        "description": description,
        "what_to_bring": what_to_bring,
        "review": review,
        "active": active,
        "queue_order": queue_order.value,
        "updated_at": db.naive(db.now_utc()),
    }
    with database.write() as conn:
        actor = _actor(conn, staff_id, township_id=township_id, need_admin=True)
        service_id = _save_catalogue_row(conn, db.services, actor, service_id, values)
        B.emit_service(conn, service_id)
        _audit(conn, actor, "service_saved", service_id, active=active)
    return service_id


def save_provider(
    database: db.Database,
    provider_id: str | None,
    *,
    staff_id: str | None,
    township_id: str | None = None,
    name: str,
    title: str,
    organisation: str,
    active: bool,
) -> str:
    """Create (`provider_id=None`) or change a provider (doctor, teacher) and publish it to the kiosks. Admins
    only; the command line names the township."""
    values = {
        "name": name,
        "title": title,
        "organisation": organisation,
        "active": active,
        "updated_at": db.naive(db.now_utc()),
    }
    with database.write() as conn:
        actor = _actor(conn, staff_id, township_id=township_id, need_admin=True)
        provider_id = _save_catalogue_row(conn, db.providers, actor, provider_id, values)
        B.emit_provider(conn, provider_id)
        _audit(conn, actor, "provider_saved", provider_id, active=active)
    return provider_id

"""What the console does: form checks, then the backend's staff functions (`township.services`), which write,
append to the change log and audit. Services, providers and holidays have no backend function yet, so they are
written here with the backend's own change-log helpers (`township.booking.emit_*`).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from fastapi import Request
from sqlalchemy.engine import Connection

from cunzhan.demo import ZONE
from cunzhan.i18n import N_
from township import booking as B
from township import db, services, signin
from township.console import queries
from township.console.web import tr

MAX_REPEAT_WEEKS = 26


class ActionRefused(Exception):
    """A refusal to show the staff member: an English message id (translated at display) and its values."""

    def __init__(self, msgid: str, *, field: str = "", **values: Any) -> None:
        super().__init__(msgid)
        self.msgid = msgid
        self.field = field
        self.values = values

    def text(self, request: Request) -> str:
        return tr(self.msgid, request, **self.values)


def _refusal(error: services.ServiceError, *, field: str = "") -> ActionRefused:
    return ActionRefused(error.msgid, field=field, **error.params)


def township_slugs(database: db.Database) -> list[str]:
    with database.read() as conn:
        return [
            str(x.slug) for x in conn.execute(sa.select(db.townships.c.slug).order_by(db.townships.c.slug))
        ]


def sign_in(
    database: db.Database, username: str, password: str, township: str, address: str
) -> signin.Outcome:
    """Check a password (`township.signin`: argon2id outside any lock, throttled per address and account).

    `township` may be empty when the backend serves a single township."""
    slug = township.strip()
    if not slug:
        slugs = township_slugs(database)
        slug = slugs[0] if len(slugs) == 1 else ""
    return signin.sign_in(database, slug, username, password, address)


def _slug(conn: sa.Connection, township_id: str) -> str:
    return str(
        conn.execute(sa.select(db.townships.c.slug).where(db.townships.c.id == township_id)).scalar_one()
    )


# --- bookings ----------------------------------------------------------------------------------------------------


def confirm(database: db.Database, staff: queries.Staff, booking_id: str) -> None:
    try:
        services.confirm_booking(database, booking_id, staff_id=staff.id)
    except services.ServiceError as error:
        raise _refusal(error) from error


def reject(database: db.Database, staff: queries.Staff, booking_id: str, reason: str) -> None:
    try:
        services.reject_booking(database, booking_id, reason, staff_id=staff.id)
    except services.ServiceError as error:
        raise _refusal(error) from error


def reassign(database: db.Database, staff: queries.Staff, booking_id: str, session_id: str) -> None:
    try:
        services.reassign_booking(database, booking_id, session_id, staff_id=staff.id)
    except services.ServiceError as error:
        raise _refusal(error) from error


def attendance(database: db.Database, staff: queries.Staff, booking_id: str, outcome: str) -> None:
    try:
        services.mark_attendance(database, booking_id, outcome == "attended", staff_id=staff.id)
    except services.ServiceError as error:
        raise _refusal(error) from error


# --- sessions ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """A checked session form: one or more weekly occurrences (aware UTC start and end)."""

    service_id: str
    provider_id: str
    occurrences: tuple[tuple[dt.datetime, dt.datetime], ...]
    capacity: int
    room: str
    video_url: str
    skipped_holidays: tuple[str, ...] = field(default=())


def _int(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"\d{1,4}", text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def check_session_form(  # noqa: PLR0912 - one check per field
    request: Request,
    form: dict[str, str],
    *,
    repeat: bool,
) -> tuple[SessionPlan | None, dict[str, str]]:
    """Check a session form field by field; every problem is named next to its field."""
    errors: dict[str, str] = {}
    try:
        day = queries.parse_day(form["day"])
    except ValueError:
        day = None
        errors["day"] = tr(N_("Please choose a day."), request)
    start = None
    if re.fullmatch(r"\d{1,2}:\d{2}", form["start"].strip()):
        hour, minute = (int(x) for x in form["start"].strip().split(":"))
        if hour < 24 and minute < 60:
            start = dt.time(hour, minute)
    if start is None:
        errors["start"] = tr(N_("Please give the start time as hours and minutes, such as 09:30."), request)
    minutes = _int(form["minutes"], 5, 480)
    if minutes is None:
        errors["minutes"] = tr(N_("The length must be a whole number of minutes between 5 and 480."), request)
    capacity = _int(form["capacity"], 1, services.MAX_CAPACITY)
    if capacity is None:
        errors["capacity"] = tr(N_("The number of seats must be a whole number between 1 and 500."), request)
    weeks = _int(form.get("repeat_weeks", "1") or "1", 1, MAX_REPEAT_WEEKS) if repeat else 1
    if weeks is None:
        errors["repeat_weeks"] = tr(N_("Repeat for 1 to 26 weeks."), request)
    video = form["video_url"].strip()
    if video and not re.fullmatch(r"https?://[^\s<>\"']{3,290}", video):
        errors["video_url"] = tr(
            N_("The video link must start with https:// (or http://) and have no spaces."), request
        )
    if not form["provider_id"]:
        errors["provider_id"] = tr(N_("Please choose a provider."), request)
    if not form["service_id"]:
        errors["service_id"] = tr(N_("Please choose a service."), request)
    if errors or day is None or start is None or minutes is None or capacity is None or weeks is None:
        return None, errors
    occurrences = []
    for week in range(weeks):
        when = day + dt.timedelta(weeks=week)
        local = dt.datetime.combine(when, start, tzinfo=ZONE)
        begins = local.astimezone(dt.UTC)
        occurrences.append((begins, begins + dt.timedelta(minutes=minutes)))
    if occurrences[0][0] <= db.now_utc():
        return None, {"day": tr(N_("The session must start in the future."), request)}
    plan = SessionPlan(
        form["service_id"],
        form["provider_id"],
        tuple(occurrences),
        capacity,
        form["room"].strip()[:100],
        video,
    )
    return plan, {}


def _describe_overlap(found: dict[str, Any]) -> ActionRefused:
    local = found["starts_at"].astimezone(ZONE)
    return ActionRefused(
        N_(
            "This provider already has a session from {start} to {end} on {day} ({service}). "
            "One provider cannot be in two sessions at once. Choose another time or provider."
        ),
        field="start",
        start=local.strftime("%H:%M"),
        end=found["ends_at"].astimezone(ZONE).strftime("%H:%M"),
        day=local.date().isoformat(),
        service=found["service_name"],
    )


def create_sessions(database: db.Database, staff: queries.Staff, plan: SessionPlan) -> list[str]:
    """Create every weekly occurrence that is not on a holiday; all are checked for overlaps before any is made."""
    with database.read() as conn:
        slug = _slug(conn, staff.township_id)
        holidays = {h["day"] for h in queries.holidays(conn, staff.township_id)}
        wanted = [(s, e) for s, e in plan.occurrences if s.astimezone(ZONE).date() not in holidays]
        if not wanted:
            day = plan.occurrences[0][0].astimezone(ZONE).date().isoformat()
            raise ActionRefused(
                N_("{day} is a holiday. Choose another day, or remove the holiday first."),
                field="day",
                day=day,
            )
        for starts, ends in wanted:
            found = queries.overlapping(
                conn, staff.township_id, plan.provider_id, db.naive(starts), db.naive(ends)
            )
            if found is not None:
                raise _describe_overlap(found)
    created = []
    for starts, ends in wanted:
        try:
            created.append(
                services.create_session(
                    database,
                    staff_id=staff.id,
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
        except services.ServiceError as error:
            if created:
                raise ActionRefused(
                    N_("{done} sessions were created, then one could not be: {problem}"),
                    done=len(created),
                    problem=error.message(),
                ) from error
            raise _refusal(error, field="start" if error.code == "overlap" else "") from error
    return created


def edit_session(database: db.Database, staff: queries.Staff, session_id: str, plan: SessionPlan) -> None:
    """Change times, seats, room and link; the backend refuses seats below those taken and overlaps."""
    starts, ends = plan.occurrences[0]
    with database.read() as conn:
        current = queries.session_detail(conn, staff.township_id, session_id)
        if current is None:
            raise ActionRefused(N_("There is no such session in this township."))
        found = queries.overlapping(
            conn,
            staff.township_id,
            current["provider_id"],
            db.naive(starts),
            db.naive(ends),
            exclude=[session_id],
        )
        if found is not None:
            raise _describe_overlap(found)
    try:
        services.edit_session(
            database,
            session_id,
            staff_id=staff.id,
            starts_at=starts,
            ends_at=ends,
            capacity=plan.capacity,
            room=plan.room,
            video_url=plan.video_url,
        )
    except services.ServiceError as error:
        if error.code == "capacity" and "count" in error.params:
            raise ActionRefused(
                N_(
                    "{count} seats are already taken (booked, or held by kiosks for offline "
                    "bookings), so the session cannot have fewer than {count} seats. Move or cancel "
                    "bookings first."
                ),
                field="capacity",
                count=error.params["count"],
            ) from error
        raise _refusal(
            error, field={"overlap": "start", "capacity": "capacity"}.get(error.code, "")
        ) from error


def cancel_session(database: db.Database, staff: queries.Staff, session_id: str, reason: str) -> int:
    try:
        return services.cancel_session(database, session_id, reason, staff_id=staff.id)
    except services.ServiceError as error:
        raise _refusal(error) from error


# --- services, providers, holidays ---------------------------------------------------------------------------------


def _audit(conn: sa.Connection, staff: queries.Staff, action: str, target: str, **detail: Any) -> None:
    queries.audit(
        conn,
        township_id=staff.township_id,
        staff=staff,
        who=staff.username,
        action=action,
        target=target,
        detail=detail,
    )


def _require_admin(staff: queries.Staff) -> None:
    if not staff.is_admin:
        raise ActionRefused(N_("Only an administrator can do this"))


def _save_catalogue_row(
    conn: Connection, table: sa.Table, staff: queries.Staff, row_id: str | None, values: dict[str, Any]
) -> str:
    """Insert (version 1) or update (version + 1) one of the township's services or providers; returns its id."""
    db.lock_township(conn, staff.township_id)
    if row_id is None:
        row_id = B.new_id()
        conn.execute(sa.insert(table).values(id=row_id, township_id=staff.township_id, version=1, **values))
        return row_id
    done = conn.execute(
        sa.update(table)
        .where(table.c.id == row_id, table.c.township_id == staff.township_id)
        .values(version=table.c.version + 1, **values)
    )
    if done.rowcount != 1:
        raise ActionRefused(N_("Not found."))
    return row_id


def save_service(
    database: db.Database,
    staff: queries.Staff,
    service_id: str | None,
    *,
    name: str,
    kind: str,
    description: str,
    what_to_bring: str,
    review: bool,
    active: bool,
) -> str:
    """Create or change a service and publish it to the kiosks (the change log)."""
    _require_admin(staff)
    t = db.services
    values = {
        "name": name,
        "kind": kind,
        "description": description,
        "what_to_bring": what_to_bring,
        "review": review,
        "active": active,
        "updated_at": db.naive(db.now_utc()),
    }
    with database.write() as conn:
        service_id = _save_catalogue_row(conn, t, staff, service_id, values)
        B.emit_service(conn, service_id)
        _audit(conn, staff, "service_saved", service_id, active=active)
    return service_id


def save_provider(
    database: db.Database,
    staff: queries.Staff,
    provider_id: str | None,
    *,
    name: str,
    title: str,
    organisation: str,
    active: bool,
) -> str:
    """Create or change a provider (doctor, teacher) and publish it to the kiosks."""
    _require_admin(staff)
    t = db.providers
    values = {
        "name": name,
        "title": title,
        "organisation": organisation,
        "active": active,
        "updated_at": db.naive(db.now_utc()),
    }
    with database.write() as conn:
        provider_id = _save_catalogue_row(conn, t, staff, provider_id, values)
        B.emit_provider(conn, provider_id)
        _audit(conn, staff, "provider_saved", provider_id, active=active)
    return provider_id


def add_holiday(database: db.Database, staff: queries.Staff, day: dt.date, name: str) -> None:
    """A day without sessions: weekly repeats skip it. Existing sessions on it are not touched (cancel them)."""
    _require_admin(staff)
    t = db.holidays
    with database.write() as conn:
        taken = conn.execute(
            sa.select(t.c.id).where(t.c.township_id == staff.township_id, t.c.day == day)
        ).first()
        if taken is not None:
            raise ActionRefused(N_("{day} is already a holiday."), field="day", day=day.isoformat())
        conn.execute(sa.insert(t).values(id=B.new_id(), township_id=staff.township_id, day=day, name=name))
        _audit(conn, staff, "holiday_added", day.isoformat(), name=name)


def delete_holiday(database: db.Database, staff: queries.Staff, holiday_id: str) -> None:
    _require_admin(staff)
    t = db.holidays
    with database.write() as conn:
        conn.execute(sa.delete(t).where(t.c.id == holiday_id, t.c.township_id == staff.township_id))
        _audit(conn, staff, "holiday_removed", holiday_id)


# --- notices -----------------------------------------------------------------------------------------------------


def post_notice(
    database: db.Database, staff: queries.Staff, title: str, body: str, last_day: dt.date | None
) -> str:
    """Publish a notice to every kiosk of the township, shown on their home screens until the end of `last_day`
    (local time) or until it is withdrawn."""
    _require_admin(staff)
    with database.read() as conn:
        slug = _slug(conn, staff.township_id)
    ends = queries.local_day_bounds(last_day)[1].replace(tzinfo=dt.UTC) if last_day else None
    try:
        return services.post_notice(
            database, staff_id=staff.id, township_slug=slug, title=title, body=body, ends_at=ends
        )
    except services.ServiceError as error:
        raise _refusal(error) from error


def withdraw_notice(database: db.Database, staff: queries.Staff, notice_id: str) -> None:
    """Take a notice down; kiosks remove it at their next sync."""
    _require_admin(staff)
    with database.read() as conn:
        owned = conn.execute(
            sa.select(db.notices.c.id).where(
                db.notices.c.id == notice_id, db.notices.c.township_id == staff.township_id
            )
        ).first()
    if owned is None:
        raise ActionRefused(N_("This notice no longer exists."))
    try:
        services.withdraw_notice(database, notice_id, staff_id=staff.id)
    except services.ServiceError as error:
        raise _refusal(error) from error


# --- kiosks ------------------------------------------------------------------------------------------------------


def create_enrollment_code(database: db.Database, staff: queries.Staff) -> tuple[str, dt.datetime]:
    """A new single-use enrolment code and when it expires."""
    with database.read() as conn:
        slug = _slug(conn, staff.township_id)
    try:
        code = services.create_enrollment_code(database, slug, staff_id=staff.id)
    except services.ServiceError as error:
        raise _refusal(error) from error
    return code, db.now_utc() + services.ENROLLMENT_TTL


def revoke_device(database: db.Database, staff: queries.Staff, device_id: str) -> None:
    try:
        services.revoke_device(database, device_id, staff_id=staff.id)
    except services.ServiceError as error:
        raise _refusal(error) from error

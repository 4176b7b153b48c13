"""The week's schedule and sessions: one day's bookings, creating (with weekly repeats), editing, cancelling."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cunzhan.i18n import N_
from township import db, services
from township.console import queries
from township.console.deps import (
    PREFIX,
    Admin,
    Console,
    ConsoleDep,
    PostedAdmin,
    Refused,
    SignedIn,
    Who,
    parse_day,
    refusal_text,
    with_done,
)
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)

MAX_REPEAT_WEEKS = 26
VIDEO_URL_MAX = 500


@router.get("/schedule")
def schedule(
    request: Request, console: ConsoleDep, who: SignedIn, start: str = "", service: str = ""
) -> Response:
    tid = who.staff.township_id
    first = parse_day(start, who.today())
    lo, _ = queries.local_day_bounds(first, who.zone)
    _, hi = queries.local_day_bounds(first + dt.timedelta(days=6), who.zone)
    with console.db.read() as conn:
        rows = queries.sessions_between(conn, tid, lo, hi, service_id=service or None)
        services_ = queries.services(conn, tid)
        holidays = queries.holidays(conn, tid, first, first + dt.timedelta(days=7))
    days: list[tuple[str, list[dict[str, Any]]]] = []
    for offset in range(7):
        day = first + dt.timedelta(days=offset)
        days.append((day.isoformat(), [r for r in rows if r["starts_at"].astimezone(who.zone).date() == day]))
    return console.page(
        request,
        who,
        "schedule.html",
        {
            "days": days,
            "services": services_,
            "service": service,
            "start": first.isoformat(),
            "prev_week": (first - dt.timedelta(days=7)).isoformat(),
            "next_week": (first + dt.timedelta(days=7)).isoformat(),
            "holidays": holidays,
        },
        title=tr(N_("Schedule"), request),
        nav="schedule",
    )


def _int(text: str, low: int, high: int) -> int | None:
    text = text.strip()
    if not re.fullmatch(r"\d{1,4}", text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def check_session_form(  # noqa: PLR0912 - one check per field
    request: Request,
    form: dict[str, str],
    zone: zoneinfo.ZoneInfo,
    *,
    repeat: bool,
) -> tuple[services.SessionPlan | None, dict[str, str]]:
    """Check a session form field by field (times in the township's `zone`); every problem is named next to its
    field."""
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
    if len(video) > VIDEO_URL_MAX:  # the column's size (sessions.video_url): the kiosks' room link (#16)
        errors["video_url"] = tr(N_("The video link can have at most 500 characters."), request)
    elif video and not re.fullmatch(r"https?://[^\s<>\"']{3,}", video):
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
        local = dt.datetime.combine(when, start, tzinfo=zone)
        begins = local.astimezone(dt.UTC)
        occurrences.append((begins, begins + dt.timedelta(minutes=minutes)))
    if occurrences[0][0] <= db.now_utc():
        return None, {"day": tr(N_("The session must start in the future."), request)}
    plan = services.SessionPlan(
        form["service_id"],
        form["provider_id"],
        tuple(occurrences),
        capacity,
        form["room"].strip()[:100],
        video,
    )
    return plan, {}


def _session_form(
    console: Console,
    request: Request,
    who: Who,
    form: dict[str, str],
    errors: dict[str, str],
    *,
    editing: dict[str, Any] | None,
    status_code: int = 200,
) -> Response:
    tid = who.staff.township_id
    with console.db.read() as conn:
        services_ = queries.services(conn, tid, active_only=True)
        providers = queries.providers(conn, tid, active_only=True)
    title = tr(N_("Edit session") if editing else N_("New session"), request)
    return console.page(
        request,
        who,
        "session_form.html",
        {
            "form": form,
            "errors": errors,
            "services": services_,
            "providers": providers,
            "editing": editing is not None,
            "booked": editing["booked"] if editing else 0,
            "action": f"{PREFIX}/sessions/{editing['id']}/edit" if editing else f"{PREFIX}/sessions",
        },
        title=title,
        nav="schedule",
        status_code=status_code,
    )


@router.get("/sessions/new")
def new_session(
    request: Request,
    console: ConsoleDep,
    who: Admin,
    *,
    service: str = "",
    provider: str = "",
    day: str = "",
    start: str = "",
    capacity: str = "",
    repeat_weeks: str = "",
) -> Response:
    # Prefilled from the address (the needs profile's "create sessions" link); the form checks it all on saving.
    form = {
        "service_id": service[:64],
        "provider_id": provider[:64],
        "day": parse_day(day, who.today() + dt.timedelta(days=1)).isoformat(),
        "start": start if re.fullmatch(r"\d{1,2}:\d{2}", start) else "09:00",
        "minutes": "30",
        "capacity": capacity if _int(capacity, 1, services.MAX_CAPACITY) is not None else "6",
        "room": "",
        "video_url": "",
        "repeat_weeks": repeat_weeks if _int(repeat_weeks, 1, MAX_REPEAT_WEEKS) is not None else "1",
    }
    return _session_form(console, request, who, form, {}, editing=None)


@router.post("/sessions")
def create_sessions(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    *,
    service_id: Annotated[str, Form()] = "",
    provider_id: Annotated[str, Form()] = "",
    day: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    minutes: Annotated[str, Form()] = "",
    capacity: Annotated[str, Form()] = "",
    room: Annotated[str, Form()] = "",
    video_url: Annotated[str, Form()] = "",
    repeat_weeks: Annotated[str, Form()] = "1",
) -> Response:
    form = {
        "service_id": service_id,
        "provider_id": provider_id,
        "day": day,
        "start": start,
        "minutes": minutes,
        "capacity": capacity,
        "room": room,
        "video_url": video_url,
        "repeat_weeks": repeat_weeks,
    }
    plan, errors = check_session_form(request, form, who.zone, repeat=True)
    if plan is not None:
        try:
            created = services.create_sessions(console.db, plan, staff_id=who.staff.id)
        except services.ServiceError as refusal:
            errors = {refusal.field or "form": refusal_text(refusal, request)}
        else:
            first = created[0] if created else None
            target = f"{PREFIX}/sessions/{first}" if first else f"{PREFIX}/schedule"
            return console.redirect(request, who, with_done(target, "sessions_created"))
    return _session_form(console, request, who, form, errors, editing=None, status_code=400)


def _session_not_found(request: Request) -> Refused:
    return Refused(
        404,
        tr(N_("Session not found"), request),
        tr(N_("There is no such session in this township."), request),
        PREFIX + "/schedule",
    )


@router.get("/sessions/{session_id}")
def session_day(request: Request, console: ConsoleDep, who: SignedIn, session_id: str) -> Response:
    tid = who.staff.township_id
    with console.db.read() as conn:
        s = queries.session_detail(conn, tid, session_id)
        if s is None:
            raise _session_not_found(request)
        rows = queries.session_bookings(conn, tid, session_id)
    return console.page(
        request,
        who,
        "session_day.html",
        {"s": s, "bookings": rows},
        title=s["service_name"],
        nav="schedule",
    )


def _editable_session(console: Console, request: Request, who: Who, session_id: str) -> dict[str, Any]:
    with console.db.read() as conn:
        s = queries.session_detail(conn, who.staff.township_id, session_id)
    if s is None:
        raise _session_not_found(request)
    if s["status"] != "open":
        raise Refused(
            409,
            tr(N_("This session cannot be changed"), request),
            tr(N_("Only open sessions can be edited. This one is cancelled or closed."), request),
            f"{PREFIX}/sessions/{session_id}",
        )
    return s


@router.get("/sessions/{session_id}/edit")
def edit_session_form(request: Request, console: ConsoleDep, who: Admin, session_id: str) -> Response:
    s = _editable_session(console, request, who, session_id)
    local = s["starts_at"].astimezone(who.zone)
    form = {
        "service_id": s["service_id"],
        "provider_id": s["provider_id"],
        "day": local.date().isoformat(),
        "start": local.strftime("%H:%M"),
        "minutes": str(int((s["ends_at"] - s["starts_at"]).total_seconds() // 60)),
        "capacity": str(s["capacity"]),
        "room": s["room"],
        "video_url": s["video_url"],
        "repeat_weeks": "1",
    }
    return _session_form(console, request, who, form, {}, editing=s)


@router.post("/sessions/{session_id}/edit")
def edit_session(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    session_id: str,
    *,
    day: Annotated[str, Form()] = "",
    start: Annotated[str, Form()] = "",
    minutes: Annotated[str, Form()] = "",
    capacity: Annotated[str, Form()] = "",
    room: Annotated[str, Form()] = "",
    video_url: Annotated[str, Form()] = "",
) -> Response:
    s = _editable_session(console, request, who, session_id)
    form = {
        "service_id": s["service_id"],
        "provider_id": s["provider_id"],
        "day": day,
        "start": start,
        "minutes": minutes,
        "capacity": capacity,
        "room": room,
        "video_url": video_url,
        "repeat_weeks": "1",
    }
    plan, errors = check_session_form(request, form, who.zone, repeat=False)
    if plan is not None:
        starts, ends = plan.occurrences[0]
        try:
            services.edit_session(
                console.db,
                session_id,
                staff_id=who.staff.id,
                starts_at=starts,
                ends_at=ends,
                capacity=plan.capacity,
                room=plan.room,
                video_url=plan.video_url,
            )
        except services.ServiceError as refusal:
            errors = {refusal.field or "form": refusal_text(refusal, request)}
        else:
            return console.redirect(
                request, who, with_done(f"{PREFIX}/sessions/{session_id}", "session_saved")
            )
    s = _editable_session(console, request, who, session_id)
    return _session_form(console, request, who, form, errors, editing=s, status_code=400)


@router.post("/sessions/{session_id}/cancel")
def cancel_session(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    session_id: str,
    reason: Annotated[str, Form()] = "",
) -> Response:
    back = f"{PREFIX}/sessions/{session_id}"
    if not reason.strip():
        raise Refused(
            400,
            tr(N_("Please give a reason"), request),
            tr(
                N_(
                    "Residents will be told why their session was cancelled, so a reason is needed. "
                    "Nothing was changed."
                ),
                request,
            ),
            back,
        )
    _editable_session(console, request, who, session_id)
    try:
        services.cancel_session(console.db, session_id, reason.strip()[:200], staff_id=who.staff.id)
    except services.ServiceError as refusal:
        raise Refused(
            409, tr(N_("This could not be done"), request), refusal_text(refusal, request), back
        ) from refusal
    return console.redirect(request, who, with_done(back, "session_cancelled"))

"""The day's roster (issue 16): each session's checked-in residents in queue order, and the call buttons of the
doctor or teacher (叫下一位, 重叫, 过号, 已看诊, 未到). A provider account sees only its own sessions; administrators
and reviewers see all of the township's. No ID number or phone is shown, and names are masked: the call itself
goes by number."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from cunzhan.i18n import N_
from township import calls as C
from township import db, keys, services
from township.console import queries
from township.console.deps import (
    PREFIX,
    Console,
    ConsoleDep,
    Member,
    PostedMember,
    Refused,
    Who,
    parse_day,
    refusal_text,
)
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)

STATES = {
    C.WAITING: ("info", N_("Waiting")),
    C.CALLED: ("ok", N_("Called")),
    C.SKIPPED: ("warn", N_("Passed over")),
}
DONE = {
    "call": N_("Number {number} called. The kiosk shows and announces it now."),
    "recall": N_("Number {number} called again."),
    "skip": N_("Number {number} passed over."),
    "seen": N_("Marked as seen."),
    "absent": N_("Marked as did not come."),
}


def mask_name(name: str) -> str:
    """A resident's name as the roster shows it: the first character, the rest hidden (张** for 张小明)."""
    name = name.strip()
    return name[:1] + "*" * min(len(name) - 1, 3) if name else "—"


def _may_use(request: Request, who: Who) -> None:
    if who.staff.role not in (services.ADMIN, services.REVIEWER, services.PROVIDER):
        raise Refused(
            403,
            tr(N_("This page is for the township's staff"), request),
            tr(N_("Your account cannot see the township's sessions."), request),
        )


@router.get("/roster")
def roster_page(request: Request, console: ConsoleDep, who: Member, day: str = "") -> Response:
    _may_use(request, who)
    today = who.today()
    shown = parse_day(day, today) if day else today
    start, end = queries.local_day_bounds(shown, who.zone)
    with console.db.read() as conn:
        sessions = C.roster_sessions(conn, who.staff, start, end)
        cipher = keys.cipher_for(conn)
        for session in sessions:
            session["starts_at"] = db.utc(session["starts_at"])
            session["ends_at"] = db.utc(session["ends_at"])
            people = C.roster(conn, session["id"])
            for person in people:
                name, _phone = queries.contact(cipher, person | {"r_phone_enc": None})
                dependent = queries.dependent_name(cipher, person.get("for_dependent"), person["id"])
                person["name_masked"] = mask_name(dependent or name)
                for key in ("contact_name_enc", "r_name_enc", "for_dependent", "resident_id"):
                    person.pop(key, None)
            session["people"] = people
            session["waiting"] = sum(1 for p in people if p["state"] == C.WAITING)
    notice = None
    done = request.query_params.get("done", "")
    if done in DONE:
        number = request.query_params.get("number", "")
        notice = {"kind": "ok", "text": tr(DONE[done], request, number=number if number.isdigit() else "")}
    states = {key: (kind, tr(words, request)) for key, (kind, words) in STATES.items()}
    return console.page(
        request,
        who,
        "roster.html",
        {
            "day": shown.isoformat(),
            "is_today": shown == today,
            "sessions": sessions,
            "states": states,
            "notice": notice,
        },
        title=tr(N_("Roster and calls"), request),
        nav="roster",
    )


async def _act(
    request: Request, console: Console, who: Who, *, day: str, anchor: str, done: str, run: Callable[[], Any]
) -> Response:
    _may_use(request, who)
    back = f"{PREFIX}/roster" + (f"?day={day}" if day and _is_day(day) else "")
    try:
        result = await run_in_threadpool(run)
    except services.ServiceError as refusal:
        raise Refused(
            409, tr(N_("This could not be done"), request), refusal_text(refusal, request), back
        ) from refusal
    number = ""
    if isinstance(result, C.Called):
        bell = getattr(request.app.state, "call_bell", None)  # none: a console mounted without the sync API
        if bell is not None:
            await bell.ring()  # a kiosk waiting on this process hears it at once
        number = str(result.queue_number)
    glue = "&" if "?" in back else "?"
    url = f"{back}{glue}done={done}" + (f"&number={number}" if number else "") + f"#{anchor}"
    return console.redirect(request, who, url)


def _is_day(text: str) -> bool:
    try:
        queries.parse_day(text)
    except ValueError:
        return False
    return True


@router.post("/roster/sessions/{session_id}/next")
async def call_next(
    request: Request,
    console: ConsoleDep,
    who: PostedMember,
    session_id: str,
    day: Annotated[str, Form()] = "",
) -> Response:
    return await _act(
        request,
        console,
        who,
        day=day,
        anchor=f"session-{session_id}",
        done="call",
        run=lambda: C.call_next(console.db, who.staff, session_id),
    )


ACTIONS: dict[str, Callable[[Console, Who, str], Any]] = {
    "recall": lambda console, who, booking_id: C.recall(console.db, who.staff, booking_id),
    "skip": lambda console, who, booking_id: C.skip(console.db, who.staff, booking_id),
    "seen": lambda console, who, booking_id: C.mark_seen(console.db, who.staff, booking_id, attended=True),
    "absent": lambda console, who, booking_id: C.mark_seen(console.db, who.staff, booking_id, attended=False),
}


@router.post("/roster/bookings/{booking_id}/{action}")
async def booking_action(
    request: Request,
    console: ConsoleDep,
    who: PostedMember,
    *,
    booking_id: str,
    action: str,
    day: Annotated[str, Form()] = "",
    session_id: Annotated[str, Form()] = "",
) -> Response:
    run = ACTIONS.get(action)
    if run is None:
        raise Refused(404, tr(N_("This could not be done"), request), tr(N_("Unknown action."), request))
    anchor = f"session-{session_id}" if session_id.replace("-", "").isalnum() else "main"
    return await _act(
        request, console, who, day=day, anchor=anchor, done=action, run=lambda: run(console, who, booking_id)
    )

"""The review queue, waiting lists, one booking, and staff decisions on it (confirm, reject, move, attendance)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cunzhan.i18n import N_
from cunzhan.models import BookingStatus
from township import services
from township.console import queries
from township.console.deps import (
    PREFIX,
    Console,
    ConsoleDep,
    Posted,
    Refused,
    SignedIn,
    Who,
    refusal_text,
    safe_back,
    with_done,
)
from township.console.routes.audit import ACTION_LABELS
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)

OUTCOMES = (BookingStatus.ATTENDED, BookingStatus.NO_SHOW)

# SMS to the resident about a booking (township.notify): what it was about, and what became of it.
MESSAGE_KINDS = {
    "confirmed": N_("Confirmed"),
    "rejected": N_("Not accepted"),
    "moved": N_("Moved to another session"),
    "promoted": N_("Seat from the waiting list"),
    "session_cancelled": N_("Session cancelled"),
    "session_moved": N_("Session time changed"),
    "reminder_day": N_("Reminder, the day before"),
    "reminder_soon": N_("Reminder, two hours before"),
}
MESSAGE_STATUSES = {
    "queued": N_("Waiting to be sent"),
    "sending": N_("Being sent"),
    "sent": N_("Sent"),
    "failed": N_("Could not be sent"),
    "unknown": N_("Unknown (the sender stopped while sending; not sent again)"),
    "skipped": N_("Not sent (no longer true, too late, or SMS off)"),
}


def _booking_list(
    console: Console, request: Request, who: Who, f: queries.BookingFilter, *, waitlist: bool
) -> Response:
    tid = who.staff.township_id
    with console.db.read() as conn:
        rows, truncated = queries.bookings(conn, tid, f, who.zone)
        if waitlist:
            # Place in line within each session (rows come in session, then waiting-list order).
            places: dict[str, int] = {}
            for row in rows:
                places[row["session_id"]] = places.get(row["session_id"], 0) + 1
                row["place"] = places[row["session_id"]]
        context = {
            "rows": rows,
            "truncated": truncated,
            "f": f,
            "villages": queries.villages(conn, tid),
            "kiosks": queries.kiosks(conn, tid),
            "services": queries.services(conn, tid),
            "show_status": not waitlist,
            "waitlist": waitlist,
            "action": PREFIX + ("/waitlist" if waitlist else "/review"),
            "empty_text": tr(
                N_("Nobody is on a waiting list.")
                if waitlist
                else N_("No bookings match. Nothing is waiting for you."),
                request,
            ),
        }
    title = tr(N_("Waiting lists") if waitlist else N_("Review queue"), request)
    return console.page(request, who, "review.html", context, title=title, nav="review")


@router.get("/review")
def review(
    request: Request,
    console: ConsoleDep,
    who: SignedIn,
    *,
    village: str = "",
    kiosk: str = "",
    service: str = "",
    day: str = "",
    status: str | None = None,
) -> Response:
    wanted = BookingStatus.PENDING_REVIEW.value if status is None else status
    return _booking_list(
        console, request, who, queries.BookingFilter(village, kiosk, service, day, wanted), waitlist=False
    )


@router.get("/waitlist")
def waitlist(
    request: Request,
    console: ConsoleDep,
    who: SignedIn,
    *,
    village: str = "",
    kiosk: str = "",
    service: str = "",
    day: str = "",
) -> Response:
    f = queries.BookingFilter(village, kiosk, service, day, BookingStatus.WAITLISTED.value)
    return _booking_list(console, request, who, f, waitlist=True)


def _booking_page(
    console: Console, request: Request, who: Who, booking_id: str, *, revealed: dict[str, str] | None = None
) -> Response:
    tid = who.staff.township_id
    with console.db.read() as conn:
        b = queries.booking(conn, tid, booking_id)
        if b is None:
            raise Refused(
                404,
                tr(N_("Booking not found"), request),
                tr(N_("There is no such booking in this township."), request),
                PREFIX + "/review",
            )
        session = queries.session_detail(conn, tid, b["session_id"])
        alternatives = queries.open_alternatives(conn, tid, session) if session else []
        trail = queries.booking_audit(conn, tid, b["id"], b["code"])
        messages = queries.booking_messages(conn, tid, b["id"])
    for m in messages:
        m["kind_label"] = tr(MESSAGE_KINDS.get(m["kind"], m["kind"]), request)
        m["status_label"] = tr(MESSAGE_STATUSES.get(m["status"], m["status"]), request)
    for row in trail:
        row["action_label"] = tr(ACTION_LABELS.get(row["action"], row["action"]), request)
        detail = row.get("detail") or {}
        # Only what a person can read: the reason given, or the attendance outcome (not internal ids).
        shown = [str(detail[k]) for k in ("reason",) if isinstance(detail, dict) and detail.get(k)]
        if isinstance(detail, dict) and detail.get("status") in OUTCOMES:
            shown.append(
                tr(N_("Attended") if detail["status"] == BookingStatus.ATTENDED else N_("No-show"), request)
            )
        row["detail"] = "; ".join(shown)
    return console.page(
        request,
        who,
        "booking.html",
        {"b": b, "alternatives": alternatives, "audit": trail, "revealed": revealed, "messages": messages},
        title=tr(N_("Booking"), request) + " " + b["code"],
        nav="review",
    )


@router.get("/bookings/{booking_id}")
def booking_detail(request: Request, console: ConsoleDep, who: SignedIn, booking_id: str) -> Response:
    return _booking_page(console, request, who, booking_id)


@router.post("/bookings/{booking_id}/reveal")
def reveal(request: Request, console: ConsoleDep, who: Posted, booking_id: str) -> Response:
    with console.db.write() as conn:
        numbers = queries.reveal_numbers(conn, who.staff.township_id, booking_id)
        if numbers is not None:
            services.record(conn, who.staff.id, "reveal_numbers", booking_id)
    return _booking_page(console, request, who, booking_id, revealed=numbers)


def _decide(
    console: Console,
    request: Request,
    who: Who,
    booking_id: str,
    *,
    back: str,
    done: str,
    run: Callable[[], Any],
) -> Response:
    back = safe_back(back, f"{PREFIX}/bookings/{booking_id}")
    try:
        run()
    except services.ServiceError as refusal:
        raise Refused(
            409, tr(N_("This could not be done"), request), refusal_text(refusal, request), back
        ) from refusal
    return console.redirect(request, who, with_done(back, done))


@router.post("/bookings/{booking_id}/confirm")
def confirm(
    request: Request,
    console: ConsoleDep,
    who: Posted,
    booking_id: str,
    back: Annotated[str, Form()] = "",
) -> Response:
    return _decide(
        console,
        request,
        who,
        booking_id,
        back=back,
        done="confirmed",
        run=lambda: services.confirm_booking(console.db, booking_id, staff_id=who.staff.id),
    )


@router.post("/bookings/{booking_id}/reject")
def reject(
    request: Request,
    console: ConsoleDep,
    who: Posted,
    *,
    booking_id: str,
    back: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    if not reason.strip():
        raise Refused(
            400,
            tr(N_("Please give a reason"), request),
            tr(
                N_(
                    "The resident will be told why the booking was not accepted, so a reason is "
                    "needed. Nothing was changed."
                ),
                request,
            ),
            safe_back(back, f"{PREFIX}/bookings/{booking_id}"),
        )
    return _decide(
        console,
        request,
        who,
        booking_id,
        back=back,
        done="rejected",
        run=lambda: services.reject_booking(
            console.db, booking_id, reason.strip()[:200], staff_id=who.staff.id
        ),
    )


@router.post("/bookings/{booking_id}/cancel")
def cancel(
    request: Request,
    console: ConsoleDep,
    who: Posted,
    *,
    booking_id: str,
    back: Annotated[str, Form()] = "",
) -> Response:
    """At the resident's request (a phone call, a visit to the hall): any booking of the township before its start."""
    return _decide(
        console,
        request,
        who,
        booking_id,
        back=back,
        done="cancelled",
        run=lambda: services.cancel_booking(console.db, booking_id, staff_id=who.staff.id),
    )


@router.post("/bookings/{booking_id}/reassign")
def reassign(
    request: Request,
    console: ConsoleDep,
    who: Posted,
    booking_id: str,
    session_id: Annotated[str, Form()] = "",
) -> Response:
    return _decide(
        console,
        request,
        who,
        booking_id,
        back=f"{PREFIX}/bookings/{booking_id}",
        done="reassigned",
        run=lambda: services.reassign_booking(console.db, booking_id, session_id, staff_id=who.staff.id),
    )


@router.post("/bookings/{booking_id}/attendance")
def attendance(
    request: Request,
    console: ConsoleDep,
    who: Posted,
    booking_id: str,
    outcome: Annotated[str, Form()] = "",
) -> Response:
    with console.db.read() as conn:
        b = queries.booking(conn, who.staff.township_id, booking_id)
    back = f"{PREFIX}/sessions/{b['session_id']}" if b else PREFIX + "/schedule"
    if outcome not in OUTCOMES:
        raise Refused(
            400,
            tr(N_("This could not be done"), request),
            tr(N_("Please choose attended or did not come."), request),
            back,
        )
    return _decide(
        console,
        request,
        who,
        booking_id,
        back=back,
        done="attendance",
        run=lambda: services.mark_attendance(
            console.db, booking_id, outcome == BookingStatus.ATTENDED, staff_id=who.staff.id
        ),
    )

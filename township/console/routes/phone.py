"""电话预约: book a session for a resident who phoned the service hall (admins and reviewers; township.phone).

The ID number travels only in the POST body, never in an address or a log. Looking a caller up and booking are both
audited (`resident_viewed` with the record id, `booking_by_phone` with the code); refusals come back as form errors
in the staff member's language, with what was typed kept.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cunzhan.i18n import N_, use_locale
from cunzhan.identity import check_id_number
from township import phone, services
from township.console import queries
from township.console.deps import PREFIX, Console, ConsoleDep, Posted, Refused, SignedIn, Who, refusal_text
from township.console.web import request_locale, tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)

FIELDS = ("id_number", "name", "phone", "village", "kiosk", "session", "waitlist")


def _may_book(request: Request, who: Who) -> Who:
    """Admins and reviewers book by phone; a provider (or any other role) is told why not."""
    if who.staff.role not in phone.ROLES:
        raise Refused(
            403,
            tr(N_("Only township staff can book by phone"), request),
            tr(N_("Booking for a resident who phoned is for administrators and reviewers."), request),
        )
    return who


def _page(
    console: Console,
    request: Request,
    who: Who,
    form: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    found: dict[str, Any] | None = None,
    booked: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    tid = who.staff.township_id
    with console.db.read() as conn:
        context: dict[str, Any] = {
            "form": form,
            "errors": errors or {},
            "found": found,
            "booked": booked,
            "kiosks": phone.village_kiosks(conn, tid),
            "sessions": phone.open_sessions(conn, tid),
            "villages": queries.villages(conn, tid),
        }
    if booked is not None:
        context["notice"] = {
            "kind": "ok",
            "text": tr(N_("Booked. The village kiosk receives it at its next sync."), request),
        }
    return console.page(
        request,
        who,
        "phone.html",
        context,
        title=tr(N_("Book for a caller"), request),
        nav="review",
        status_code=status_code,
    )


@router.get("/phone")
def phone_form(request: Request, console: ConsoleDep, who: SignedIn) -> Response:
    _may_book(request, who)
    return _page(console, request, who, dict.fromkeys(FIELDS, ""))


@router.post("/phone")
def phone_book(
    request: Request,
    console: ConsoleDep,
    who: Posted,
    *,
    id_number: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    phone_number: Annotated[str, Form(alias="phone")] = "",
    village: Annotated[str, Form()] = "",
    kiosk: Annotated[str, Form()] = "",
    session: Annotated[str, Form()] = "",
    waitlist: Annotated[str, Form()] = "",
    action: Annotated[str, Form()] = "book",
) -> Response:
    _may_book(request, who)
    form = {
        "id_number": id_number.strip()[:40],
        "name": name[:100],
        "phone": phone_number[:40],
        "village": village[:120],
        "kiosk": kiosk,
        "session": session,
        "waitlist": "yes" if waitlist else "",
    }
    if action == "find":
        return _find(console, request, who, form)
    try:
        booked = phone.book_by_phone(
            console.db,
            phone.PhoneBooking(
                id_number=id_number,
                name=name,
                phone=phone_number,
                village=village,
                device_id=kiosk,
                session_id=session,
                waitlist=bool(waitlist),
            ),
            staff_id=who.staff.id,
        )
    except services.ServiceError as error:
        field = error.field or "session"
        return _page(
            console, request, who, form, errors={field: refusal_text(error, request)}, status_code=400
        )
    return _page(console, request, who, dict.fromkeys(FIELDS, ""), booked=booked)


def _find(console: Console, request: Request, who: Who, form: dict[str, str]) -> Response:
    """Look the caller up by ID number: a known resident's name, phone and village fill the form."""
    check = check_id_number(form["id_number"])
    if not check.ok or check.number is None:
        with use_locale(request_locale(request)):
            message = check.message()
        return _page(console, request, who, form, errors={"id_number": message}, status_code=400)
    with console.db.write() as conn:
        found = phone.find_caller(conn, who.staff.township_id, check.number)
        if found is not None:
            services.record(conn, who.staff.id, "resident_viewed", found["id"], purpose="phone_booking")
    if found is None:
        found = {"id": "", "name": "", "phone": "", "village": ""}
    else:
        form |= {k: form[k] or found[k] for k in ("name", "phone", "village")}
    form["id_number"] = check.number
    return _page(console, request, who, form, found=found)

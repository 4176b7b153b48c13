"""Residents' personal data: access, export and erasure on request (PIPL).

The ID number travels only in POST bodies (never in an address or a log); every look, export and erasure is
audited with the resident's record id, never the number.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cunzhan.i18n import N_, use_locale
from cunzhan.identity import check_id_number
from township import db, services
from township.console import queries
from township.console.deps import PREFIX, Admin, Console, ConsoleDep, PostedAdmin, Refused, Who
from township.console.web import request_locale, tr
from township.retention import erase_residents

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _residents_page(
    console: Console,
    request: Request,
    who: Who,
    *,
    record: dict[str, Any] | None = None,
    error: str = "",
    notice: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {"record": record, "error": error}
    if notice is not None:
        context["notice"] = notice
    return console.page(
        request,
        who,
        "residents.html",
        context,
        title=tr(N_("Residents' personal data"), request),
        nav="audit",
        status_code=status_code,
    )


def _resident_or_refuse(console: Console, request: Request, who: Who, resident_id: str) -> dict[str, Any]:
    with console.db.read() as conn:
        record = queries.resident_record(conn, who.staff.township_id, resident_id)
    if record is None:
        raise Refused(
            404,
            tr(N_("Resident not found"), request),
            tr(N_("There is no such resident in this township."), request),
            PREFIX + "/residents",
        )
    return record


@router.get("/residents")
def residents(request: Request, console: ConsoleDep, who: Admin) -> Response:
    return _residents_page(console, request, who)


@router.post("/residents/find")
def find_resident(
    request: Request, console: ConsoleDep, who: PostedAdmin, id_number: Annotated[str, Form()] = ""
) -> Response:
    check = check_id_number(id_number.strip())
    if not check.ok or check.number is None:
        with use_locale(request_locale(request)):
            message = check.message()
        return _residents_page(console, request, who, error=message, status_code=400)
    with console.db.write() as conn:
        found = queries.find_resident(conn, who.staff.township_id, check.number)
        if found is not None:
            services.record(conn, who.staff.id, "resident_viewed", found)
    if found is None:
        return _residents_page(
            console,
            request,
            who,
            status_code=404,
            error=tr(N_("No resident with this ID number is held by this township."), request),
        )
    return _residents_page(console, request, who, record=_resident_or_refuse(console, request, who, found))


@router.post("/residents/{resident_id}/export")
def export_resident(request: Request, console: ConsoleDep, who: PostedAdmin, resident_id: str) -> Response:
    record = _resident_or_refuse(console, request, who, resident_id)
    with console.db.write() as conn:
        services.record(conn, who.staff.id, "resident_exported", resident_id)
    body = json.dumps(record, ensure_ascii=False, indent=2)
    response = Response(
        body,
        media_type="application/json; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="resident-{resident_id}.json"',
            "Cache-Control": "no-store",
        },
    )
    console.keeper.write(request, response, who.session)
    return response


@router.post("/residents/{resident_id}/erase")
def erase_resident(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    resident_id: str,
    confirm: Annotated[str, Form()] = "",
) -> Response:
    record = _resident_or_refuse(console, request, who, resident_id)
    if confirm != "yes":
        return _residents_page(
            console,
            request,
            who,
            record=record,
            status_code=400,
            error=tr(N_("Please tick the box to confirm the erasure. Nothing was erased."), request),
        )
    with console.db.write() as conn:
        db.lock_township(conn, who.staff.township_id)
        erase_residents(conn, [resident_id], db.now_utc())
        services.record(conn, who.staff.id, "resident_erased", resident_id)
    done = {"kind": "ok", "text": tr(N_("The resident's personal data was erased."), request)}
    return _residents_page(console, request, who, notice=done)

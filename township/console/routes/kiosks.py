"""The township's kiosks: their state, enrolment codes, revocation."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from cunzhan.i18n import N_
from township import db, services
from township.console import queries
from township.console.deps import (
    PREFIX,
    Console,
    ConsoleDep,
    PostedAdmin,
    Refused,
    SignedIn,
    Who,
    refusal_text,
    with_done,
)
from township.console.qr import qr_svg
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)

SKEW_WARN_SECONDS = 5 * 60
STALE_SYNC = dt.timedelta(days=1)


def kiosk_state(row: dict[str, Any]) -> tuple[str, str]:
    """(chip kind, message id) for a kiosk: revoked, never synced, clock off, not synced lately, or fine."""
    if row["revoked_at"]:
        return "bad", N_("Revoked")
    if row["last_sync_at"] is None:
        return "warn", N_("Never synced")
    if row["clock_skew_s"] is not None and abs(row["clock_skew_s"]) > SKEW_WARN_SECONDS:
        return "warn", N_("Clock is wrong by more than 5 minutes")
    if db.now_utc() - row["last_sync_at"] > STALE_SYNC:
        return "warn", N_("No sync for over a day")
    return "ok", N_("Working")


def _kiosks_page(
    console: Console,
    request: Request,
    who: Who,
    *,
    code: str | None = None,
    expires: dt.datetime | None = None,
) -> Response:
    with console.db.read() as conn:
        rows = queries.kiosks(conn, who.staff.township_id)
    for row in rows:
        row["state"], row["state_text"] = kiosk_state(row)
        row["state_text"] = tr(row["state_text"], request)
    server_url = str(request.base_url).rstrip("/")
    # The QR code carries the address and the code, so a kiosk with a camera needs nothing typed.
    payload = f"cunzhan://enroll?{urlencode({'server': server_url, 'code': code})}" if code else ""
    return console.page(
        request,
        who,
        "kiosks.html",
        {
            "kiosks": rows,
            "code": code,
            "qr": qr_svg(payload) if code else "",
            "expires": expires,
            "server_url": server_url,
        },
        title=tr(N_("Kiosks"), request),
        nav="kiosks",
    )


@router.get("/kiosks")
def kiosks(request: Request, console: ConsoleDep, who: SignedIn) -> Response:
    return _kiosks_page(console, request, who)


@router.post("/kiosks/code")
def enrollment_code(request: Request, console: ConsoleDep, who: PostedAdmin) -> Response:
    try:
        code = services.create_enrollment_code(console.db, who.staff.township_slug, staff_id=who.staff.id)
    except services.ServiceError as refusal:
        raise Refused(
            409, tr(N_("This could not be done"), request), refusal_text(refusal, request), PREFIX + "/kiosks"
        ) from refusal
    # The code is shown once, on this response only; it is never put in a URL or a log.
    return _kiosks_page(console, request, who, code=code, expires=db.now_utc() + services.ENROLLMENT_TTL)


@router.post("/kiosks/{device_id}/revoke")
def revoke(request: Request, console: ConsoleDep, who: PostedAdmin, device_id: str) -> Response:
    try:
        services.revoke_device(console.db, device_id, staff_id=who.staff.id)
    except services.ServiceError as refusal:
        raise Refused(
            409, tr(N_("This could not be done"), request), refusal_text(refusal, request), PREFIX + "/kiosks"
        ) from refusal
    return console.redirect(request, who, with_done(PREFIX + "/kiosks", "revoked"))

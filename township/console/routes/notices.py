"""Notices to the kiosks' home screens: publish and withdraw."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cunzhan.i18n import N_
from township import services
from township.console import queries
from township.console.deps import (
    PREFIX,
    Console,
    ConsoleDep,
    PostedAdmin,
    SignedIn,
    Who,
    refusal_text,
    with_done,
)
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _notices_page(
    console: Console,
    request: Request,
    who: Who,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with console.db.read() as conn:
        rows = queries.notices(conn, who.staff.township_id)
    return console.page(
        request,
        who,
        "notices.html",
        {"notices": rows, "errors": errors or {}, "form": form or {}},
        title=tr(N_("Notices to the kiosks"), request),
        nav="kiosks",
        status_code=status_code,
    )


@router.get("/notices")
def notices_get(request: Request, console: ConsoleDep, who: SignedIn) -> Response:
    return _notices_page(console, request, who)


@router.post("/notices")
def notices_post(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    *,
    title: Annotated[str, Form()] = "",
    body: Annotated[str, Form()] = "",
    last_day: Annotated[str, Form()] = "",
) -> Response:
    errors: dict[str, str] = {}
    title, body = title.strip(), body.strip()
    if not title or len(title) > 60:
        errors["title"] = tr(N_("Please give the notice a short title (at most 60 characters)."), request)
    if len(body) > 300:
        errors["body"] = tr(
            N_("Please keep the notice to 300 characters: it is read aloud at the kiosk."), request
        )
    until: dt.date | None = None
    if last_day:
        try:
            until = queries.parse_day(last_day)
        except ValueError:
            errors["last_day"] = tr(N_("Please choose a day."), request)
        else:
            if until < who.today():
                errors["last_day"] = tr(N_("The last day cannot be in the past."), request)
    if not errors:
        # Shown until the end of its last day in the township.
        ends = queries.local_day_bounds(until, who.zone)[1].replace(tzinfo=dt.UTC) if until else None
        try:
            services.post_notice(
                console.db,
                staff_id=who.staff.id,
                township_slug=who.staff.township_slug,
                title=title,
                body=body,
                ends_at=ends,
            )
        except services.ServiceError as refusal:
            errors["title"] = refusal_text(refusal, request)
    if errors:
        form = {"title": title, "body": body, "last_day": last_day}
        return _notices_page(console, request, who, errors=errors, status_code=400, form=form)
    return console.redirect(request, who, with_done(PREFIX + "/notices", "notice_posted"))


@router.post("/notices/{notice_id}/withdraw")
def notices_withdraw(request: Request, console: ConsoleDep, who: PostedAdmin, notice_id: str) -> Response:
    try:
        services.withdraw_notice(console.db, notice_id, staff_id=who.staff.id)
    except services.ServiceError as refusal:
        errors = {"withdraw": refusal_text(refusal, request)}
        return _notices_page(console, request, who, errors=errors, status_code=400)
    return console.redirect(request, who, with_done(PREFIX + "/notices", "notice_withdrawn"))

"""What the kiosks offer: services, providers, and the township's holidays."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cunzhan.i18n import N_
from cunzhan.models import QueueOrder
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

# What a service or provider says on the kiosks (shown and spoken): a few sentences at most.
MAX_DESCRIPTION = 300
MAX_BRING = 200
MAX_PROVIDER_DETAIL = 100


def _catalogue_page(
    console: Console,
    request: Request,
    who: Who,
    form: dict[str, str],
    errors: dict[str, str],
    *,
    status_code: int = 200,
) -> Response:
    tid = who.staff.township_id
    with console.db.read() as conn:
        context = {"services": queries.services(conn, tid), "providers": queries.providers(conn, tid)}
    return console.page(
        request,
        who,
        "catalogue.html",
        {**context, "errors": errors, "form": form},
        title=tr(N_("Services and providers"), request),
        nav="catalogue",
        status_code=status_code,
    )


@router.get("/services")
def catalogue(request: Request, console: ConsoleDep, who: SignedIn) -> Response:
    return _catalogue_page(console, request, who, {}, {})


@router.post("/services")
def save_service(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    *,
    service_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    kind: Annotated[str, Form()] = "clinic",
    description: Annotated[str, Form()] = "",
    what_to_bring: Annotated[str, Form()] = "",
    review: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
    queue_order: Annotated[str, Form()] = QueueOrder.CHECK_IN.value,
) -> Response:
    form = {
        "service_id": service_id,
        "name": name,
        "kind": kind,
        "description": description,
        "what_to_bring": what_to_bring,
        "review": review,
        "active": active,
        "queue_order": queue_order,
        "which": "service",
    }
    if not name.strip() or len(name.strip()) > 200 or kind not in ("clinic", "school"):
        text = tr(
            N_("Please give the service a name (at most 200 characters) and choose clinic or school."),
            request,
        )
        return _catalogue_page(console, request, who, form, {"service_name": text}, status_code=400)
    # Kiosks show and read these out: a page of text would fill the screen and keep a blind resident waiting.
    if len(description.strip()) > MAX_DESCRIPTION or len(what_to_bring.strip()) > MAX_BRING:
        text = tr(
            N_("The description may be at most {description} characters and what to bring at most {bring}."),
            request,
        ).format(description=MAX_DESCRIPTION, bring=MAX_BRING)
        return _catalogue_page(console, request, who, form, {"service_name": text}, status_code=400)
    if queue_order not in {order.value for order in QueueOrder}:
        text = tr(N_("Please choose how the waiting room numbers residents."), request)
        return _catalogue_page(console, request, who, form, {"service_name": text}, status_code=400)
    try:
        services.save_service(
            console.db,
            service_id or None,
            staff_id=who.staff.id,
            name=name.strip(),
            kind=kind,
            description=description.strip(),
            what_to_bring=what_to_bring.strip(),
            review=bool(review),
            active=bool(active) or not service_id,
            queue_order=QueueOrder(queue_order),
        )
    except services.ServiceError as refusal:
        errors = {"service_name": refusal_text(refusal, request)}
        return _catalogue_page(console, request, who, form, errors, status_code=400)
    return console.redirect(request, who, with_done(PREFIX + "/services", "service_saved"))


@router.post("/providers")
def save_provider(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    *,
    provider_id: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
    organisation: Annotated[str, Form()] = "",
    active: Annotated[str, Form()] = "",
) -> Response:
    form = {
        "provider_id": provider_id,
        "name": name,
        "title": title,
        "organisation": organisation,
        "active": active,
        "which": "provider",
    }
    if not name.strip() or len(name.strip()) > 100:
        text = tr(N_("Please give the provider's name (at most 100 characters)."), request)
        return _catalogue_page(console, request, who, form, {"provider_name": text}, status_code=400)
    if len(title.strip()) > MAX_PROVIDER_DETAIL or len(organisation.strip()) > MAX_PROVIDER_DETAIL:
        text = tr(N_("The title and the organisation may be at most {n} characters each."), request).format(
            n=MAX_PROVIDER_DETAIL
        )
        return _catalogue_page(console, request, who, form, {"provider_name": text}, status_code=400)
    try:
        services.save_provider(
            console.db,
            provider_id or None,
            staff_id=who.staff.id,
            name=name.strip(),
            title=title.strip(),
            organisation=organisation.strip(),
            active=bool(active) or not provider_id,
        )
    except services.ServiceError as refusal:
        errors = {"provider_name": refusal_text(refusal, request)}
        return _catalogue_page(console, request, who, form, errors, status_code=400)
    return console.redirect(request, who, with_done(PREFIX + "/services", "provider_saved"))


def _holidays_page(
    console: Console,
    request: Request,
    who: Who,
    *,
    errors: dict[str, str] | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with console.db.read() as conn:
        rows = queries.holidays(conn, who.staff.township_id, who.today() - dt.timedelta(days=30))
    return console.page(
        request,
        who,
        "holidays.html",
        {"holidays": rows, "errors": errors or {}, "form": form or {}},
        title=tr(N_("Holidays"), request),
        nav="schedule",
        status_code=status_code,
    )


@router.get("/holidays")
def holidays_page(request: Request, console: ConsoleDep, who: SignedIn) -> Response:
    return _holidays_page(console, request, who)


@router.post("/holidays")
def add_holiday(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    day: Annotated[str, Form()] = "",
    name: Annotated[str, Form()] = "",
) -> Response:
    errors: dict[str, str] = {}
    try:
        when = queries.parse_day(day)
    except ValueError:
        errors["day"] = tr(N_("Please choose a day."), request)
    if not name.strip() or len(name.strip()) > 100:
        errors["name"] = tr(N_("Please give the holiday a name (at most 100 characters)."), request)
    if not errors:
        try:
            services.add_holiday(console.db, when, name.strip(), staff_id=who.staff.id)
        except services.ServiceError as refusal:
            errors["day"] = refusal_text(refusal, request)
    if errors:
        form = {"day": day, "name": name}
        return _holidays_page(console, request, who, errors=errors, form=form, status_code=400)
    return console.redirect(request, who, with_done(PREFIX + "/holidays", "holiday_saved"))


@router.post("/holidays/{holiday_id}/delete")
def delete_holiday(request: Request, console: ConsoleDep, who: PostedAdmin, holiday_id: str) -> Response:
    services.delete_holiday(console.db, holiday_id, staff_id=who.staff.id)
    return console.redirect(request, who, with_done(PREFIX + "/holidays", "holiday_deleted"))

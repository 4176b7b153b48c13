"""A county's townships, for its administrators (#18): create a township (name, short name, time zone, language)
and its administrators. The township's administrators then manage its other accounts (`routes/accounts.py`)."""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from cunzhan.i18n import LOCALES, N_
from township import db, services
from township.console.deps import (
    PREFIX,
    Console,
    ConsoleDep,
    CountyAdmin,
    PostedCountyAdmin,
    Refused,
    Who,
    refusal_text,
    with_done,
)
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)

LOCALE_NAMES = {"zh_CN": "中文", "en": "English"}  # each in its own language


@cache
def zone_choices() -> list[str]:
    """Time zones offered in the form (any IANA name is accepted): Asia's, then UTC."""
    return [*sorted(z for z in zoneinfo.available_timezones() if z.startswith("Asia/")), "UTC"]


def county_townships(conn: Connection, county_id: str) -> list[dict[str, Any]]:
    """The county's townships by name, with how many active administrators and accounts each has."""
    t, s = db.townships, db.staff_users
    active = s.c.disabled_at.is_(None)
    rows = conn.execute(
        sa.select(
            t.c.id,
            t.c.slug,
            t.c.name,
            t.c.zone,
            t.c.locale,
            sa.func.count(s.c.id).filter(active, s.c.role == services.ADMIN).label("admins"),
            sa.func.count(s.c.id).filter(active).label("accounts"),
        )
        .select_from(t.outerjoin(s, s.c.township_id == t.c.id))
        .where(t.c.county_id == county_id)
        .group_by(t.c.id, t.c.slug, t.c.name, t.c.zone, t.c.locale)
        .order_by(t.c.name, t.c.slug)
    ).all()
    return [dict(r._mapping) for r in rows]


def _county(conn: Connection, county_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(db.counties).where(db.counties.c.id == county_id)).one()
    return dict(row._mapping)


def _town(conn: Connection, county_id: str, township_id: str) -> dict[str, Any] | None:
    t = db.townships
    row = conn.execute(sa.select(t).where(t.c.id == township_id, t.c.county_id == county_id)).first()
    return dict(row._mapping) if row is not None else None


def _county_id(who: Who) -> str:
    assert who.staff.county_id is not None  # CountyAdmin admits county accounts only
    return who.staff.county_id


def _list_page(
    console: Console,
    request: Request,
    who: Who,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with console.db.read() as conn:
        county = _county(conn, _county_id(who))
        towns = county_townships(conn, county["id"])
    return console.page(
        request,
        who,
        "townships.html",
        {
            "county": county,
            "towns": towns,
            "zones": zone_choices(),
            "locales": [(code, LOCALE_NAMES.get(code, code)) for code in LOCALES],
            "form": form or {"zone": county["zone"], "locale": county["locale"]},
            "errors": errors or {},
        },
        title=tr(N_("Townships"), request),
        nav="townships",
        status_code=status_code,
    )


@router.get("/townships")
def townships_get(request: Request, console: ConsoleDep, who: CountyAdmin) -> Response:
    return _list_page(console, request, who)


@router.post("/townships")
def townships_post(
    request: Request,
    console: ConsoleDep,
    who: PostedCountyAdmin,
    *,
    name: Annotated[str, Form()] = "",
    slug: Annotated[str, Form()] = "",
    zone: Annotated[str, Form()] = "",
    locale: Annotated[str, Form()] = "",
) -> Response:
    try:
        ident = services.add_township(
            console.db, staff_id=who.staff.id, slug=slug, name=name, zone=zone.strip(), locale=locale
        )
    except services.ServiceError as refusal:
        errors = {refusal.field or "name": refusal_text(refusal, request)}
        form = {"name": name, "slug": slug, "zone": zone, "locale": locale}
        return _list_page(console, request, who, form=form, errors=errors, status_code=400)
    return console.redirect(request, who, with_done(f"{PREFIX}/townships/{ident}", "township_created"))


def _town_page(
    console: Console,
    request: Request,
    who: Who,
    township_id: str,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with console.db.read() as conn:
        town = _town(conn, _county_id(who), township_id)
        if town is None:
            raise Refused(
                404,
                tr(N_("Page not found"), request),
                tr(services.ERR_NOT_IN_COUNTY, request),
                back=PREFIX + "/townships",
            )
        s = db.staff_users
        admins = conn.execute(
            sa.select(s.c.username, s.c.disabled_at, s.c.created_at)
            .where(s.c.township_id == township_id, s.c.role == services.ADMIN)
            .order_by(s.c.username)
        ).all()
    return console.page(
        request,
        who,
        "township.html",
        {
            "town": town,
            "admins": [dict(a._mapping) for a in admins],
            "locale_names": LOCALE_NAMES,
            "form": form or {},
            "errors": errors or {},
            "min_password": services.MIN_PASSWORD,
        },
        title=tr(N_("Township {name}"), request, name=town["name"]),
        nav="townships",
        status_code=status_code,
    )


@router.get("/townships/{township_id}")
def township_get(request: Request, console: ConsoleDep, who: CountyAdmin, township_id: str) -> Response:
    return _town_page(console, request, who, township_id)


@router.post("/townships/{township_id}/admins")
def township_admin_post(
    request: Request,
    console: ConsoleDep,
    who: PostedCountyAdmin,
    township_id: str,
    *,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    again: Annotated[str, Form()] = "",
) -> Response:
    with console.db.read() as conn:
        town = _town(conn, _county_id(who), township_id)
    if town is None:
        return _town_page(console, request, who, township_id)  # the page says it is not the county's
    try:
        services.create_staff(
            console.db, town["slug"], username, services.ADMIN, password, staff_id=who.staff.id, again=again
        )
    except services.ServiceError as refusal:
        errors = {refusal.field or "username": refusal_text(refusal, request)}
        return _town_page(
            console, request, who, township_id, form={"username": username}, errors=errors, status_code=400
        )
    return console.redirect(request, who, with_done(f"{PREFIX}/townships/{township_id}", "staff_created"))

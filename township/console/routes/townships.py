"""A county's townships, for its administrators (#18): create a township (name, short name, time zone, language),
change its name, time zone and language (the short name stays: kiosks and sign-in use it), create its
administrators and list all its accounts, each opening the account's page (`routes/accounts.py`: reset the
password, disable, enable, change the role). The county's own administrators: `routes/county.py`."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from cunzhan import zones
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
    """Time zones offered in the form (any place's IANA name is accepted, `services.checked_zone`): Asia's, then
    UTC."""
    return [*sorted(z for z in zones.places() if z.startswith("Asia/")), "UTC"]


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
    edit: dict[str, str] | None = None,
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
        s, p = db.staff_users, db.providers
        staff = conn.execute(
            sa.select(
                s.c.id, s.c.username, s.c.role, s.c.disabled_at, s.c.created_at, p.c.name.label("provider")
            )
            .select_from(s.outerjoin(p, p.c.id == s.c.provider_id))
            .where(s.c.township_id == township_id)
            .order_by(s.c.role != services.ADMIN, s.c.disabled_at.is_not(None), s.c.username)
        ).all()
    return console.page(
        request,
        who,
        "township.html",
        {
            "town": town,
            "staff": [dict(a._mapping) for a in staff],
            "admins": sum(1 for a in staff if a.role == services.ADMIN and a.disabled_at is None),
            "locale_names": LOCALE_NAMES,
            "locales": [(code, LOCALE_NAMES.get(code, code)) for code in LOCALES],
            "zones": zone_choices(),
            "form": form or {},
            "edit": edit or {"name": town["name"], "zone": town["zone"], "locale": town["locale"]},
            "errors": errors or {},
            "min_password": services.MIN_PASSWORD,
            "max_password": services.MAX_PASSWORD,
        },
        title=tr(N_("Township {name}"), request, name=town["name"]),
        nav="townships",
        status_code=status_code,
    )


@router.get("/townships/{township_id}")
def township_get(request: Request, console: ConsoleDep, who: CountyAdmin, township_id: str) -> Response:
    return _town_page(console, request, who, township_id)


@router.post("/townships/{township_id}")
def township_post(
    request: Request,
    console: ConsoleDep,
    who: PostedCountyAdmin,
    township_id: str,
    *,
    name: Annotated[str, Form()] = "",
    zone: Annotated[str, Form()] = "",
    locale: Annotated[str, Form()] = "",
) -> Response:
    """Change the township's name, time zone and residents' language (never its short name)."""
    with console.db.read() as conn:
        town = _town(conn, _county_id(who), township_id)
    if town is None:
        return _town_page(console, request, who, township_id)  # the page says it is not the county's
    try:
        changed = services.edit_township(
            console.db, township_id, staff_id=who.staff.id, name=name, zone=zone.strip(), locale=locale
        )
    except services.ServiceError as refusal:
        errors = {"edit_" + (refusal.field or "name"): refusal_text(refusal, request)}
        edit = {"name": name, "zone": zone, "locale": locale}
        return _town_page(console, request, who, township_id, edit=edit, errors=errors, status_code=400)
    done = "township_saved" if changed else "nothing_changed"
    return console.redirect(request, who, with_done(f"{PREFIX}/townships/{township_id}", done))


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

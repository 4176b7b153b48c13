"""A county's own administrators, for its administrators (#18): the list and a form to create one more (user name,
the initial password typed twice), and from here the county's staff-actions trail (`routes/audit.py`). The accounts
of its townships are on each township's page (`routes/townships.py`)."""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from cunzhan.i18n import N_
from township import db, services
from township.console.deps import (
    PREFIX,
    Console,
    ConsoleDep,
    CountyAdmin,
    PostedCountyAdmin,
    Who,
    refusal_text,
    with_done,
)
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def county_admins(conn: Connection, county_id: str) -> list[dict[str, Any]]:
    """The county's administrators, active first, by user name."""
    t = db.staff_users
    rows = conn.execute(
        sa.select(t.c.id, t.c.username, t.c.disabled_at, t.c.created_at)
        .where(t.c.county_id == county_id)
        .order_by(t.c.disabled_at.is_not(None), t.c.username)
    ).all()
    return [dict(r._mapping) for r in rows]


def _page(
    console: Console,
    request: Request,
    who: Who,
    *,
    form: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert who.staff.county_id is not None  # CountyAdmin admits county accounts only
    with console.db.read() as conn:
        county = conn.execute(sa.select(db.counties).where(db.counties.c.id == who.staff.county_id)).one()
        admins = county_admins(conn, county.id)
    return console.page(
        request,
        who,
        "county_admins.html",
        {
            "county": dict(county._mapping),
            "admins": admins,
            "form": form or {},
            "errors": errors or {},
            "min_password": services.MIN_PASSWORD,
            "max_password": services.MAX_PASSWORD,
        },
        title=tr(N_("Administrators of {county}"), request, county=county.name),
        nav="county",
        status_code=status_code,
    )


@router.get("/county")
def county_get(request: Request, console: ConsoleDep, who: CountyAdmin) -> Response:
    return _page(console, request, who)


@router.post("/county/admins")
def county_admin_post(
    request: Request,
    console: ConsoleDep,
    who: PostedCountyAdmin,
    *,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    again: Annotated[str, Form()] = "",
) -> Response:
    """Another administrator of the signed-in administrator's own county (never another county's)."""
    try:
        services.create_county_admin(
            console.db, who.staff.township_slug, username, password, staff_id=who.staff.id, again=again
        )
    except services.ServiceError as refusal:
        errors = {refusal.field or "username": refusal_text(refusal, request)}
        return _page(console, request, who, form={"username": username}, errors=errors, status_code=400)
    return console.redirect(request, who, with_done(PREFIX + "/county", "staff_created"))

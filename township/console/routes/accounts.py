"""A township's staff accounts, managed by its administrators: create, change the role, reset the password,
disable and enable again (#18). A county's administrators open the same account pages for the accounts of their
county's townships (listed on each township's page, `routes/townships.py`), never another county's. Every change is
a `township.services` action (checked and audited there); a password is typed twice and only its argon2id hash is
stored. A password reset or a disable ends every session of the account (`services.reset_password`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.engine import Connection

from cunzhan.i18n import N_
from township import db, services
from township.console import queries
from township.console.deps import (
    PREFIX,
    AccountsAdmin,
    Admin,
    Console,
    ConsoleDep,
    PostedAccountsAdmin,
    PostedAdmin,
    Refused,
    Who,
    refusal_text,
    with_done,
)
from township.console.web import tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)


def accounts(conn: Connection, township_id: str) -> list[dict[str, Any]]:
    """The township's staff accounts, active first, by user name, with the provider a provider account runs."""
    t, p = db.staff_users, db.providers
    rows = conn.execute(
        sa.select(t.c.id, t.c.username, t.c.role, t.c.disabled_at, t.c.created_at, p.c.name.label("provider"))
        .select_from(t.outerjoin(p, p.c.id == t.c.provider_id))
        .where(t.c.township_id == township_id)
        .order_by(t.c.disabled_at.is_not(None), t.c.username)
    ).all()
    return [dict(r._mapping) for r in rows]


def _account(conn: Connection, who: Who, account_id: str) -> dict[str, Any] | None:
    """One account `who` manages (with its provider's id and its township), or None: for a township's
    administrator, one of its township's; for a county's, one of its county's townships' or one of the county's
    own administrators (no township). Any other does not exist here."""
    t, town = db.staff_users, db.townships
    query = (
        sa.select(
            t.c.id,
            t.c.username,
            t.c.role,
            t.c.provider_id,
            t.c.disabled_at,
            t.c.township_id,
            town.c.name.label("township_name"),
        )
        .select_from(t.outerjoin(town, town.c.id == t.c.township_id))
        .where(t.c.id == account_id)
    )
    if who.staff.is_county_admin:
        query = query.where(
            sa.or_(town.c.county_id == who.staff.county_id, t.c.county_id == who.staff.county_id)
        )
    else:
        query = query.where(t.c.township_id == who.staff.township_id)
    row = conn.execute(query).first()
    return dict(row._mapping) if row is not None else None


def _missing(request: Request, who: Who) -> Refused:
    if who.staff.is_county_admin:
        text, back = N_("This account does not exist in your county's townships."), PREFIX + "/townships"
    else:
        text, back = N_("This account does not exist in your township."), PREFIX + "/accounts"
    return Refused(404, tr(N_("Page not found"), request), tr(text, request), back=back)


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
        rows = accounts(conn, who.staff.township_id)
        providers = queries.providers(conn, who.staff.township_id, active_only=True)
    return console.page(
        request,
        who,
        "accounts.html",
        {
            "accounts": rows,
            "providers": providers,
            "form": form or {},
            "errors": errors or {},
            "min_password": services.MIN_PASSWORD,
            "max_password": services.MAX_PASSWORD,
        },
        title=tr(N_("Staff accounts"), request),
        nav="accounts",
        status_code=status_code,
    )


def _account_page(
    console: Console,
    request: Request,
    who: Who,
    account_id: str,
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    with console.db.read() as conn:
        account = _account(conn, who, account_id)
        if account is None:
            raise _missing(request, who)
        township_id = account["township_id"]
        providers = queries.providers(conn, township_id, active_only=True) if township_id else []
    county = who.staff.is_county_admin
    if not township_id:
        back = PREFIX + "/county"  # one of the county's own administrators
    elif county:
        back = f"{PREFIX}/townships/{township_id}"  # where the county found the township's account
    else:
        back = PREFIX + "/accounts"
    return console.page(
        request,
        who,
        "account.html",
        {
            "account": account,
            "providers": providers,
            "errors": errors or {},
            "is_me": account_id == who.staff.id,
            "min_password": services.MIN_PASSWORD,
            "max_password": services.MAX_PASSWORD,
            "back": back,
        },
        title=tr(N_("Account {name}"), request, name=account["username"]),
        nav=("townships" if township_id else "county") if county else "accounts",
        status_code=status_code,
    )


@router.get("/accounts")
def accounts_get(request: Request, console: ConsoleDep, who: Admin) -> Response:
    return _list_page(console, request, who)


@router.post("/accounts")
def accounts_post(
    request: Request,
    console: ConsoleDep,
    who: PostedAdmin,
    *,
    username: Annotated[str, Form()] = "",
    role: Annotated[str, Form()] = "",
    provider_id: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    again: Annotated[str, Form()] = "",
) -> Response:
    try:
        services.create_staff(
            console.db,
            who.staff.township_slug,
            username,
            role,
            password,
            staff_id=who.staff.id,
            provider_id=provider_id or None,
            again=again,
        )
    except services.ServiceError as refusal:
        errors = {refusal.field or "username": refusal_text(refusal, request)}
        form = {"username": username, "role": role, "provider_id": provider_id}  # never the passwords
        return _list_page(console, request, who, form=form, errors=errors, status_code=400)
    return console.redirect(request, who, with_done(PREFIX + "/accounts", "staff_created"))


@router.get("/accounts/{account_id}")
def account_get(request: Request, console: ConsoleDep, who: AccountsAdmin, account_id: str) -> Response:
    return _account_page(console, request, who, account_id)


def _act(
    console: Console,
    request: Request,
    who: Who,
    account_id: str,
    *,
    form: str,
    done: str,
    action: Callable[[], object],
) -> Response:
    """Run one change of an account; a refusal shows the account's page again with the reason at `form`."""
    with console.db.read() as conn:
        if _account(conn, who, account_id) is None:  # the services check again; this says it for the county
            raise _missing(request, who)
    try:
        action()
    except services.ServiceError as refusal:
        if refusal.code == "not_found":
            raise _missing(request, who) from None
        errors = {form: refusal_text(refusal, request)}
        return _account_page(console, request, who, account_id, errors=errors, status_code=400)
    return console.redirect(request, who, with_done(f"{PREFIX}/accounts/{account_id}", done))


@router.post("/accounts/{account_id}/role")
def account_role(
    request: Request,
    console: ConsoleDep,
    who: PostedAccountsAdmin,
    account_id: str,
    *,
    role: Annotated[str, Form()] = "",
    provider_id: Annotated[str, Form()] = "",
) -> Response:
    return _act(
        console,
        request,
        who,
        account_id,
        form="role",
        done="role_changed",
        action=lambda: services.change_role(
            console.db, account_id, role, provider_id=provider_id or None, staff_id=who.staff.id
        ),
    )


@router.post("/accounts/{account_id}/password")
def account_password(
    request: Request,
    console: ConsoleDep,
    who: PostedAccountsAdmin,
    account_id: str,
    *,
    password: Annotated[str, Form()] = "",
    again: Annotated[str, Form()] = "",
) -> Response:
    epochs: list[int] = []
    response = _act(
        console,
        request,
        who,
        account_id,
        form="password",
        done="password_reset",
        action=lambda: epochs.append(
            services.reset_password(console.db, account_id, password, again, staff_id=who.staff.id)
        ),
    )
    if epochs and account_id == who.staff.id:
        # Every session of the account has ended; someone who set their own password keeps the one they did it
        # in, re-signed with the account's new epoch.
        kept = replace(who, session=replace(who.session, epoch=epochs[0]))
        response = console.redirect(
            request, kept, with_done(f"{PREFIX}/accounts/{account_id}", "password_reset")
        )
    return response


@router.post("/accounts/{account_id}/disable")
def account_disable(
    request: Request, console: ConsoleDep, who: PostedAccountsAdmin, account_id: str
) -> Response:
    return _act(
        console,
        request,
        who,
        account_id,
        form="state",
        done="staff_disabled",
        action=lambda: services.set_staff_disabled(console.db, account_id, True, staff_id=who.staff.id),
    )


@router.post("/accounts/{account_id}/enable")
def account_enable(
    request: Request, console: ConsoleDep, who: PostedAccountsAdmin, account_id: str
) -> Response:
    return _act(
        console,
        request,
        who,
        account_id,
        form="state",
        done="staff_enabled",
        action=lambda: services.set_staff_disabled(console.db, account_id, False, staff_id=who.staff.id),
    )

"""Language, sign-in and sign-out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cunzhan.i18n import LOCALES, N_
from township import services
from township import signin as throttle
from township.console.deps import DONE, PREFIX, Console, ConsoleDep, PostedAnyone, landing, safe_back
from township.console.web import LANG_COOKIE, tr

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/lang/{code}")
def switch_language(request: Request, code: str, next: str = PREFIX + "/") -> Response:
    response = RedirectResponse(safe_back(next, PREFIX + "/"), status_code=303)
    if code in LOCALES:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 86400,
            samesite="lax",
            path="/console",
            httponly=True,
            secure=request.url.scheme == "https",
        )
    return response


def _signin_page(
    console: Console,
    request: Request,
    *,
    username: str = "",
    township: str = "",
    next_url: str = "",
    notice: dict[str, str] | None,
    status_code: int = 200,
) -> Response:
    token = console.keeper.signin_token(request)
    towns, counties = services.signin_slugs(console.db)
    response = console.page(
        request,
        None,
        "signin.html",
        {
            "csrf": token,
            "username": username,
            "next": next_url,
            "notice": notice,
            "townships": towns if len(towns) + len(counties) > 1 else [],
            "counties": counties if len(towns) + len(counties) > 1 else [],
            "township": township,
        },
        title=tr(N_("Staff sign-in"), request),
        status_code=status_code,
    )
    # The sign-in page's token is carried by the page itself, not a session.
    console.keeper.write_signin_token(request, response, token)
    return response


@router.get("/signin")
def signin_form(
    request: Request, console: ConsoleDep, next: str = "", expired: str = "", done: str = ""
) -> Response:
    notice = None
    if expired:
        notice = {
            "kind": "warn",
            "text": tr(
                N_("Your session has ended because it was not used for a while. Please sign in again."),
                request,
            ),
        }
    elif done == "signed_out":
        notice = {"kind": "ok", "text": tr(DONE["signed_out"], request)}
    return _signin_page(console, request, next_url=safe_back(next, ""), notice=notice)


def _refusal(request: Request, outcome: throttle.Outcome) -> tuple[str, int]:
    """Why a sign-in failed, and its HTTP status."""
    minutes = max(1, ((outcome.retry_after or 60) + 59) // 60)
    if outcome.locked:
        text = tr(
            N_(
                "This account is locked for {minutes} more minutes after {count} wrong passwords. "
                "Please wait, or ask the township administrator."
            ),
            request,
            minutes=minutes,
            count=throttle.LOCKOUT_AFTER,
        )
        return text, 429
    if outcome.throttled:
        text = tr(
            N_("Too many sign-in attempts. Please wait {minutes} minutes and try again."),
            request,
            minutes=minutes,
        )
        return text, 429
    if outcome.busy:
        return tr(
            N_("Many people are signing in right now. Please try again in a few seconds."), request
        ), 503
    text = tr(
        N_(
            "The username or password is wrong. After {count} wrong tries the account is "
            "locked for {minutes} minutes."
        ),
        request,
        count=throttle.LOCKOUT_AFTER,
        minutes=int(throttle.LOCKOUT_FOR.total_seconds() // 60),
    )
    return text, 401


@router.post("/signin")
def signin(
    request: Request,
    console: ConsoleDep,
    *,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    township: Annotated[str, Form()] = "",
) -> Response:
    username = username.strip()
    if not console.keeper.check_signin_token(request, csrf_token):
        return _signin_page(
            console,
            request,
            username=username,
            township=township,
            next_url=next,
            status_code=403,
            notice={
                "kind": "error",
                "text": tr(
                    N_(
                        "The sign-in form was out of date, so you were not signed in. "
                        "Please enter your password again."
                    ),
                    request,
                ),
            },
        )
    address = request.client.host if request.client else ""
    # The form asks for the township (or, for a county account, the county) only when the backend has several.
    slug = township.strip()
    if not slug:
        towns, counties = services.signin_slugs(console.db)
        slug = towns[0] if len(towns) == 1 and not counties else ""
    outcome = throttle.sign_in(console.db, slug, username, password, address)
    if outcome.staff is None:
        text, status = _refusal(request, outcome)
        page = _signin_page(
            console,
            request,
            username=username,
            township=township,
            next_url=next,
            status_code=status,
            notice={"kind": "error", "text": text},
        )
        if outcome.retry_after is not None:
            page.headers["Retry-After"] = str(outcome.retry_after)
        return page
    session = console.keeper.new(outcome.staff.id, outcome.staff.session_epoch)
    response = RedirectResponse(safe_back(next, landing(outcome.staff)), status_code=303)
    console.keeper.write(request, response, session)
    return response


@router.post("/signout")
def signout(request: Request, console: ConsoleDep, who: PostedAnyone) -> Response:
    with console.db.write() as conn:
        services.record(conn, who.staff.id, "sign_out")
    response = RedirectResponse(PREFIX + "/signin?done=signed_out", status_code=303)
    console.keeper.revoke(request, response, who.session)
    return response

"""What every console page shares, as FastAPI dependencies defined once: the console's state, the signed-in staff
member (with their township's time zone), the CSRF check of a posted form and the administrator check; and the page
and redirect responses that refresh the session cookie.

A route asks for one of the annotated dependencies at the end of this module (`SignedIn`, `Admin`, `Posted`,
`PostedAdmin`, …); their order is the order of the checks: a session first (else the sign-in page), then the
form's CSRF token, then the role (else a 403 page saying why, nothing done). The role checks themselves are
`township.services`' (`reads_township`, `is_admin`, `is_county_admin`).
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from cunzhan.i18n import N_
from township import db, services
from township.console import queries
from township.console.auth import ConsoleSession, SessionKeeper, csrf_ok
from township.console.web import render, tr
from township.keys import console_secret

PREFIX = "/console"

# Short confirmations after a successful POST (the key travels in the redirect's query string, never free text).
DONE: dict[str, str] = {
    "confirmed": N_("Booking confirmed. The kiosk will tell the resident at its next sync."),
    "rejected": N_("Booking rejected. The kiosk will tell the resident the reason at its next sync."),
    "reassigned": N_("Booking moved. The kiosk will show the new time at its next sync."),
    "cancelled": N_("Booking cancelled. Its seat is free again; the kiosk will show it at its next sync."),
    "attendance": N_("Attendance saved."),
    "session_saved": N_("Session saved and published to the kiosks."),
    "sessions_created": N_("Sessions created and published to the kiosks."),
    "session_cancelled": N_("Session cancelled. Everyone booked will be told at their kiosk."),
    "service_saved": N_("Service saved."),
    "provider_saved": N_("Provider saved."),
    "holiday_saved": N_("Holiday saved."),
    "holiday_deleted": N_("Holiday removed."),
    "notice_posted": N_("Notice published. Kiosks show it on their home screen from their next sync."),
    "notice_withdrawn": N_("Notice withdrawn. Kiosks remove it at their next sync."),
    "revoked": N_("Kiosk revoked. It can no longer sync."),
    "sms_saved": N_("Text message settings saved."),
    "staff_created": N_("Account created. Give the user name and password to its owner in person."),
    "staff_disabled": N_("Account disabled. It is signed out and cannot sign in."),
    "staff_enabled": N_("Account enabled again."),
    "password_reset": N_("Password changed. Give the new password to the account's owner in person."),
    "role_changed": N_("Role changed. It applies from the account's next page."),
    "township_created": N_("Township created. Now create its first administrator."),
    "township_saved": N_("Township saved. Its pages show the new name, time zone and language from now on."),
    "nothing_changed": N_("Nothing was changed: the form had the values already saved."),
    "followed_up": N_("Marked as followed up."),
    "need_forwarded": N_(
        "Forwarded. The township's administrators see it on their needs page and start page."
    ),
    "need_handled": N_("Marked as handled. The county sees it is no longer open."),
    "signed_out": N_("You have signed out."),
}

ROLE_NAMES: dict[str, str] = {
    services.ADMIN: N_("Administrator"),
    services.REVIEWER: N_("Reviewer"),
    services.PROVIDER: N_("Service provider"),
    services.COUNTY_ADMIN: N_("County administrator"),
}

# Booking statuses as chips: a colour class AND words (never colour alone).
STATUS_CHIPS: dict[str, tuple[str, str]] = {
    "pending_review": ("info", N_("Waiting for review")),
    "confirmed": ("ok", N_("Confirmed")),
    "waitlisted": ("warn", N_("On the waiting list")),
    "rejected": ("bad", N_("Rejected")),
    "cancelled": ("grey", N_("Cancelled")),
    "checked_in": ("ok", N_("Checked in at kiosk")),
    "attended": ("ok", N_("Attended")),
    "no_show": ("bad", N_("No-show")),
}


class SignInNeeded(Exception):
    """No valid session: go to the sign-in page (`expired` says whether a session just ran out)."""

    def __init__(self, *, expired: bool) -> None:
        super().__init__("sign-in needed")
        self.expired = expired


class Refused(Exception):
    """A request the console will not carry out: rendered as a page with a clear message."""

    def __init__(self, status: int, heading: str, message: str, back: str = PREFIX + "/") -> None:
        super().__init__(heading)
        self.status = status
        self.heading = heading
        self.message = message
        self.back = back


@dataclass(frozen=True, slots=True)
class Who:
    """The signed-in staff member, their township's (a county account: its county's) time zone and their
    session."""

    staff: services.StaffUser
    zone: zoneinfo.ZoneInfo
    session: ConsoleSession

    def today(self) -> dt.date:
        """Today in the staff member's township."""
        return dt.datetime.now(self.zone).date()


class Console:
    """Shared state of the mounted console (on `app.state.console`): the database and the session keeper."""

    def __init__(self, app: FastAPI, database: db.Database | None) -> None:
        self._app = app
        self._database = database
        self._keeper: SessionKeeper | None = None

    @property
    def keeper(self) -> SessionKeeper:
        """Made on first use, with the signing key from outside the database (`township.keys`)."""
        if self._keeper is None:
            self._keeper = SessionKeeper(console_secret(self.db.url), self.db)
        return self._keeper

    @property
    def db(self) -> db.Database:
        if self._database is None:
            # The backend's create_app keeps its Database on app.state; look it up when first needed.
            for name in ("db", "database"):
                found = getattr(self._app.state, name, None)
                if isinstance(found, db.Database):
                    self._database = found
                    break
            else:
                raise RuntimeError("the console needs the backend's Database (app.state.db)")
        return self._database

    def who(self, session: ConsoleSession) -> Who | None:
        """The staff member a (valid) session belongs to, or None when the account is gone or disabled, or its
        session epoch has been raised since the session began (a password reset or a disable ended it)."""
        with self.db.read() as conn:
            found = queries.staff_by_id(conn, session.staff_id)
        if found is None:
            return None
        staff, zone = found
        if staff.session_epoch != session.epoch:
            return None
        return Who(staff, zoneinfo.ZoneInfo(zone), session)

    def page(
        self,
        request: Request,
        who: Who | None,
        template: str,
        context: dict[str, Any],
        *,
        title: str,
        nav: str = "",
        status_code: int = 200,
    ) -> HTMLResponse:
        """Render a console page with the shared layout values, and refresh the session cookie."""
        done = request.query_params.get("done", "")
        notice = context.pop("notice", None)
        if notice is None and done in DONE:
            notice = {"kind": "ok", "text": tr(DONE[done], request)}
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        # Translated once per page, not once per row: long lists stay fast.
        chips = {status: (kind, tr(words, request)) for status, (kind, words) in STATUS_CHIPS.items()}
        base = {
            "me": who.staff if who else None,
            "zone": who.zone if who else None,
            "csrf": who.session.csrf if who else "",
            "nav": nav,
            "title": title,
            "notice": notice,
            "here": strip_done(here),
            "chips": chips,
            "role_names": {role: tr(words, request) for role, words in ROLE_NAMES.items()},
        }
        response = render(request, template, {**base, **context}, status_code=status_code)
        if who is not None:
            self.keeper.write(request, response, who.session)
        return response

    def redirect(self, request: Request, who: Who | None, url: str) -> RedirectResponse:
        response = RedirectResponse(url, status_code=303)
        if who is not None:
            self.keeper.write(request, response, who.session)
        return response


def get_console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


ConsoleDep = Annotated[Console, Depends(get_console)]


def signed_in(request: Request, console: ConsoleDep) -> Who:
    """The signed-in staff member, any level and role (their session's idle time restarts); else the sign-in
    page."""
    session, expired = console.keeper.read(request)
    if session is None:
        raise SignInNeeded(expired=expired)
    who = console.who(console.keeper.touch(session))
    if who is None:
        raise SignInNeeded(expired=True)
    return who


def posted_any(request: Request, console: ConsoleDep, csrf_token: Annotated[str, Form()] = "") -> Who:
    """The staff member (any level and role) who sent a form carrying their session's CSRF token; a form without a
    live session does nothing (sign in again), one with a wrong token is refused."""
    session, _expired = console.keeper.read(request)
    if session is None:
        raise SignInNeeded(expired=True)
    who = console.who(console.keeper.touch(session))
    if who is None:
        raise SignInNeeded(expired=True)
    if not csrf_ok(session, csrf_token):
        raise Refused(
            403,
            tr(N_("This form could not be accepted"), request),
            tr(
                N_(
                    "The form was missing its security token or it was out of date, so nothing was "
                    "changed. Please go back, reload the page and try again."
                ),
                request,
            ),
            back=safe_back(request.headers.get("referer", ""), PREFIX + "/"),
        )
    return who


# What each kind of page needs, checked by `_allow` with the role checks of `township.services`:
# "reader": a township's pages (administrator or reviewer); "member": any township account (a provider's own
# roster); "admin": a township administrator; "county": a county administrator; "figures": the figures of the
# account's scope (#18: a township's readers, a county's administrators); "figures_admin": their export;
# "accounts": staff accounts and the staff-actions trail (a township's administrator: its own; a county's: its
# townships' accounts and the county's trail).
Need = Literal["reader", "member", "admin", "county", "figures", "figures_admin", "accounts"]
_NEEDS: dict[Need, Callable[[services.StaffUser], bool]] = {
    "reader": lambda staff: staff.reads_township,
    "member": lambda staff: staff.role in services.TOWNSHIP_ROLES,
    "admin": lambda staff: staff.is_admin,
    "county": lambda staff: staff.is_county_admin,
    "figures": lambda staff: staff.reads_township or staff.is_county_admin,
    "figures_admin": lambda staff: staff.is_admin or staff.is_county_admin,
    "accounts": lambda staff: staff.is_admin or staff.is_county_admin,
}


def _allow(request: Request, who: Who, need: Need) -> Who:
    """`who` when their role may use this page; else a 403 page saying why (nothing was done)."""
    if _NEEDS[need](who.staff):
        return who
    role = who.staff.role
    if need == "county":
        heading = N_("Only a county administrator can do this")
        text = N_("This page is for the county's administrators. Your account belongs to one township.")
    elif role == services.COUNTY_ADMIN:
        heading = N_("This page belongs to a township")
        text = N_(
            "Your account is a county account: it has the county's pages and creates townships and their "
            "administrators. A township's own pages are used with that township's accounts."
        )
    elif role == services.PROVIDER:
        heading = N_("Not available to provider accounts")
        text = N_(
            "Your account is a provider account: it shows the residents checked in to your own sessions. "
            "Please ask a township administrator for anything else."
        )
    else:
        heading = N_("Only an administrator can do this")
        text = N_(
            "Your account is a reviewer account. Reviewers can review bookings, mark "
            "attendance and see reports, but cannot change the schedule, services, kiosks or "
            "enrolment codes. Please ask a township administrator."
        )
    raise Refused(403, tr(heading, request), tr(text, request), back=landing(who.staff))


def landing(staff: services.StaffUser) -> str:
    """Where an account starts (after signing in, and the way back from a refusal)."""
    if staff.is_county_admin:
        return PREFIX + "/townships"
    if staff.role == services.PROVIDER:
        return PREFIX + "/roster"  # the provider's own sessions (township/console/routes/roster.py, #16)
    return PREFIX + "/"


def posted(request: Request, who: Annotated[Who, Depends(posted_any)]) -> Who:
    return _allow(request, who, "reader")


def reader(request: Request, who: Annotated[Who, Depends(signed_in)]) -> Who:
    return _allow(request, who, "reader")


def admin(request: Request, who: Annotated[Who, Depends(signed_in)]) -> Who:
    return _allow(request, who, "admin")


def posted_admin(request: Request, who: Annotated[Who, Depends(posted_any)]) -> Who:
    return _allow(request, who, "admin")


def member(request: Request, who: Annotated[Who, Depends(signed_in)]) -> Who:
    return _allow(request, who, "member")


def posted_member(request: Request, who: Annotated[Who, Depends(posted_any)]) -> Who:
    return _allow(request, who, "member")


def county(request: Request, who: Annotated[Who, Depends(signed_in)]) -> Who:
    return _allow(request, who, "county")


def posted_county(request: Request, who: Annotated[Who, Depends(posted_any)]) -> Who:
    return _allow(request, who, "county")


def figures(request: Request, who: Annotated[Who, Depends(signed_in)]) -> Who:
    return _allow(request, who, "figures")


def figures_admin(request: Request, who: Annotated[Who, Depends(signed_in)]) -> Who:
    return _allow(request, who, "figures_admin")


def posted_figures_admin(request: Request, who: Annotated[Who, Depends(posted_any)]) -> Who:
    return _allow(request, who, "figures_admin")


def accounts_admin(request: Request, who: Annotated[Who, Depends(signed_in)]) -> Who:
    return _allow(request, who, "accounts")


def posted_accounts_admin(request: Request, who: Annotated[Who, Depends(posted_any)]) -> Who:
    return _allow(request, who, "accounts")


# The township's pages take `SignedIn`/`Posted` (administrator or reviewer) or `Admin`/`PostedAdmin`. Any account
# (`Anyone`, `PostedAnyone`: the start page, signing out, the county's figures by `who.staff.scope`); any township
# account including a provider (`Member`, `PostedMember`: check `staff.provider_id` for their own sessions); a
# county administrator (`CountyAdmin`, `PostedCountyAdmin`).
Anyone = Annotated[Who, Depends(signed_in)]
PostedAnyone = Annotated[Who, Depends(posted_any)]
SignedIn = Annotated[Who, Depends(reader)]
Admin = Annotated[Who, Depends(admin)]
Posted = Annotated[Who, Depends(posted)]
PostedAdmin = Annotated[Who, Depends(posted_admin)]
Member = Annotated[Who, Depends(member)]
PostedMember = Annotated[Who, Depends(posted_member)]
CountyAdmin = Annotated[Who, Depends(county)]
PostedCountyAdmin = Annotated[Who, Depends(posted_county)]
FiguresReader = Annotated[Who, Depends(figures)]  # the county's view (#18) at the account's scope
FiguresAdmin = Annotated[Who, Depends(figures_admin)]
PostedFiguresAdmin = Annotated[Who, Depends(posted_figures_admin)]
# A township's administrator (its accounts) or a county's (its townships' accounts): the route narrows by level.
AccountsAdmin = Annotated[Who, Depends(accounts_admin)]
PostedAccountsAdmin = Annotated[Who, Depends(posted_accounts_admin)]


def strip_done(url: str) -> str:
    return re.sub(r"([?&])done=[a-z_]+&?", r"\1", url).rstrip("?&")


def safe_back(url: str, default: str) -> str:
    """Only same-site console paths are followed after a form (no open redirects)."""
    if url.startswith(("http://", "https://")):
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else ""
        url = path
    if url.startswith(PREFIX) and not url.startswith("//") and "\\" not in url:
        return url
    return default


def with_done(url: str, key: str) -> str:
    url = strip_done(url)
    return url + ("&" if "?" in url else "?") + urlencode({"done": key})


def parse_day(text: str, default: dt.date) -> dt.date:
    try:
        return queries.parse_day(text)
    except ValueError:
        return default


def refusal_text(error: services.ServiceError, request: Request) -> str:
    """A refused staff action in the request's language."""
    return tr(error.msgid, request, **error.params)

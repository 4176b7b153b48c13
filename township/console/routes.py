"""The console's pages and form handlers, one FastAPI router mounted under `/console`.

Every page needs a signed-in staff member; every POST checks the form's CSRF token before anything else; admin-only
actions answer 403 with a page that says why. Handlers are plain (sync) functions: FastAPI runs them in its thread
pool, so database work never blocks the event loop, and `cunzhan.i18n.use_locale` (thread-local) is safe inside.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from cunzhan.demo import ZONE
from cunzhan.i18n import LOCALES, N_
from township import db
from township import signin as throttle
from township.console import actions, queries
from township.console.auth import ConsoleSession, SessionKeeper, csrf_ok
from township.console.charts import Bar, bar_chart
from township.console.qr import qr_svg
from township.console.web import LANG_COOKIE, STATIC_DIR, render, tr
from township.keys import console_secret

PREFIX = "/console"

# Short confirmations after a successful POST (the key travels in the redirect's query string, never free text).
DONE: dict[str, str] = {
    "confirmed": N_("Booking confirmed. The kiosk will tell the resident at its next sync."),
    "rejected": N_("Booking rejected. The kiosk will tell the resident the reason at its next sync."),
    "reassigned": N_("Booking moved. The kiosk will show the new time at its next sync."),
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
    "signed_out": N_("You have signed out."),
}

ACTION_LABELS: dict[str, str] = {
    "login_failed": N_("Wrong password at sign-in"),
    "login_locked": N_("Account locked after wrong passwords"),
    "sign_out": N_("Signed out"),
    "session_created": N_("Session created"),
    "session_edited": N_("Session changed"),
    "session_cancelled": N_("Session cancelled"),
    "service_saved": N_("Service saved"),
    "provider_saved": N_("Provider saved"),
    "holiday_added": N_("Holiday added"),
    "holiday_removed": N_("Holiday removed"),
    "notice_posted": N_("Notice published"),
    "notice_withdrawn": N_("Notice withdrawn"),
    "enrollment_code_created": N_("Enrolment code created"),
    "device_enrolled": N_("Kiosk enrolled"),
    "device_revoked": N_("Kiosk revoked"),
    "staff_created": N_("Staff account created"),
    "booking_confirmed": N_("Confirmed"),
    "booking_rejected": N_("Rejected"),
    "booking_reassigned": N_("Moved to another session"),
    "attendance_marked": N_("Attendance recorded"),
    "reveal_numbers": N_("Viewed full ID and phone number"),
    "duplicate_lease_booking": N_(
        "Same person booked this session twice (kept: confirmed offline on a kiosk)"
    ),
    "kiosk_other": N_("Other kiosk action"),
    "residents_erased": N_("Residents' personal data erased (retention period over)"),
    "resident_viewed": N_("Resident's personal data viewed"),
    "resident_exported": N_("Resident's personal data exported"),
    "resident_erased": N_("Resident's personal data erased on request"),
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
    """The signed-in staff member and their session."""

    staff: queries.Staff
    session: ConsoleSession


class Console:
    """Shared state of the mounted console: the database and the session keeper."""

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

    # --- who is asking -------------------------------------------------------------------------------------------

    def require(
        self, request: Request, *, csrf: str | None = None, admin: bool = False, check_csrf: bool = False
    ) -> Who:
        """The signed-in staff member; raises for no session, a bad CSRF token or a missing role."""
        session, expired = self.keeper.read(request)
        if session is None:
            if check_csrf:
                # A form sent without a live session: nothing is done; the person signs in again.
                raise SignInNeeded(expired=True)
            raise SignInNeeded(expired=expired)
        with self.db.read() as conn:
            staff = queries.staff_by_id(conn, session.staff_id)
        if staff is None:
            raise SignInNeeded(expired=True)
        who = Who(staff, self.keeper.touch(session))
        if check_csrf and not csrf_ok(session, csrf):
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
                back=_safe_back(request.headers.get("referer", ""), PREFIX + "/"),
            )
        if admin and not staff.is_admin:
            raise Refused(
                403,
                tr(N_("Only an administrator can do this"), request),
                tr(
                    N_(
                        "Your account is a reviewer account. Reviewers can review bookings, mark "
                        "attendance and see reports, but cannot change the schedule, services, kiosks or "
                        "enrolment codes. Please ask a township administrator."
                    ),
                    request,
                ),
            )
        return who

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
            "csrf": who.session.csrf if who else "",
            "nav": nav,
            "title": title,
            "notice": notice,
            "here": _strip_done(here),
            "chips": chips,
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


def _strip_done(url: str) -> str:
    return re.sub(r"([?&])done=[a-z_]+&?", r"\1", url).rstrip("?&")


def _safe_back(url: str, default: str) -> str:
    """Only same-site console paths are followed after a form (no open redirects)."""
    if url.startswith(("http://", "https://")):
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else ""
        url = path
    if url.startswith(PREFIX) and not url.startswith("//") and "\\" not in url:
        return url
    return default


def _with_done(url: str, key: str) -> str:
    url = _strip_done(url)
    return url + ("&" if "?" in url else "?") + urlencode({"done": key})


def _today() -> dt.date:
    return dt.datetime.now(ZONE).date()


def _parse_day(text: str, default: dt.date) -> dt.date:
    try:
        return queries.parse_day(text)
    except ValueError:
        return default


# What a service or provider says on the kiosks (shown and spoken): a few sentences at most.
MAX_DESCRIPTION = 300
MAX_BRING = 200
MAX_PROVIDER_DETAIL = 100
MAX_FORM_BYTES = 64 * 1024  # the longest console form (a notice, a session) is a few kilobytes


class FormTooLarge(StarletteHTTPException):
    """A console request body past MAX_FORM_BYTES (an HTTP 413, so FastAPI's form parsing passes it on)."""

    def __init__(self) -> None:
        super().__init__(413, f"a console form may be at most {MAX_FORM_BYTES} bytes")


class ConsoleBodyLimit:
    """ASGI middleware: a console request body may not exceed MAX_FORM_BYTES, whether it says so in
    Content-Length (refused before anything is read) or streams it (refused once the limit is passed). The refusal
    is a 413 page; nothing was done."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            await self._refuse(send)
            return
        seen = 0
        started = False

        async def limited_receive() -> Any:
            nonlocal seen
            message = await receive()
            if message.get("type") == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_FORM_BYTES:
                    raise FormTooLarge
            return message

        async def watched_send(message: Any) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except FormTooLarge:
            if not started:
                await self._refuse(send)

    @staticmethod
    async def _refuse(send: Any) -> None:
        from cunzhan import i18n

        with i18n.use_locale(i18n.DEFAULT_LOCALE):
            text = i18n.gettext(N_("This form is too large to send. Nothing was changed."))
        body = f"<!doctype html><meta charset=utf-8><title>413</title><p>{text}</p>".encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"text/html; charset=utf-8"),
                    (b"cache-control", b"no-store"),
                    (b"connection", b"close"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def mount_console(app: FastAPI, database: db.Database | None = None) -> None:
    """Add the staff console to `app` under `/console` (pages, static files and error handling)."""
    app.add_middleware(ConsoleBodyLimit)
    console = Console(app, database)
    router = build_router(console)
    app.include_router(router)
    app.mount(PREFIX + "/static", StaticFiles(directory=str(STATIC_DIR)), name="console-static")

    async def _sign_in_needed(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SignInNeeded)
        query: dict[str, str] = {}
        if exc.expired:
            query["expired"] = "1"
        if request.method == "GET" and request.url.path.startswith(PREFIX):
            query["next"] = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(
            PREFIX + "/signin" + (f"?{urlencode(query)}" if query else ""), status_code=303
        )
        console.keeper.revoke(request, response, None)
        return response

    async def _refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Refused)
        session, _expired = console.keeper.read(request)
        who = None
        if session is not None:
            with console.db.read() as conn:
                staff = queries.staff_by_id(conn, session.staff_id)
            who = Who(staff, session) if staff else None
        return console.page(
            request,
            who,
            "problem.html",
            {"heading": exc.heading, "message": exc.message, "back": exc.back},
            title=exc.heading,
            status_code=exc.status,
        )

    def _unknown_page(request: Request, path: str) -> Response:
        # After the static files: any other console address gets a page a person can read, not JSON.
        console.require(request)
        raise Refused(
            404,
            tr(N_("Page not found"), request),
            tr(N_("This page does not exist. Please use the menu above."), request),
        )

    async def _to_console(_request: Request) -> Response:
        # Someone typing the backend's address they were given expects the console, not a JSON 404.
        return RedirectResponse(PREFIX + "/", status_code=307)

    app.add_api_route("/", _to_console, methods=["GET"], include_in_schema=False)
    app.add_api_route(PREFIX + "/{path:path}", _unknown_page, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.add_exception_handler(Refused, _refused)


def build_router(console: Console) -> APIRouter:  # noqa: PLR0915 - one place lists every console route
    """All console routes."""
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    # --- language, sign-in, sign-out ----------------------------------------------------------------------------

    @router.get("/lang/{code}")
    def switch_language(request: Request, code: str, next: str = PREFIX + "/") -> Response:
        response = RedirectResponse(_safe_back(next, PREFIX + "/"), status_code=303)
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

    def signin_page(
        request: Request,
        *,
        username: str = "",
        township: str = "",
        next_url: str = "",
        notice: dict[str, str] | None,
        status_code: int = 200,
    ) -> Response:
        token = console.keeper.signin_token(request)
        slugs = actions.township_slugs(console.db)
        response = console.page(
            request,
            None,
            "signin.html",
            {
                "csrf": token,
                "username": username,
                "next": next_url,
                "notice": notice,
                "townships": slugs if len(slugs) > 1 else [],
                "township": township,
            },
            title=tr(N_("Staff sign-in"), request),
            status_code=status_code,
        )
        # The sign-in page's token is carried by the page itself, not a session.
        console.keeper.write_signin_token(request, response, token)
        return response

    @router.get("/signin")
    def signin_form(request: Request, next: str = "", expired: str = "", done: str = "") -> Response:
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
        return signin_page(request, next_url=_safe_back(next, ""), notice=notice)

    @router.post("/signin")
    def signin(
        request: Request,
        *,
        username: str = Form(""),
        password: str = Form(""),
        csrf_token: str = Form(""),
        next: str = Form(""),
        township: str = Form(""),
    ) -> Response:
        username = username.strip()
        if not console.keeper.check_signin_token(request, csrf_token):
            return signin_page(
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
        outcome = actions.sign_in(console.db, username, password, township, address)
        if outcome.staff is None:
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
                status = 429
            elif outcome.throttled:
                text = tr(
                    N_("Too many sign-in attempts. Please wait {minutes} minutes and try again."),
                    request,
                    minutes=minutes,
                )
                status = 429
            elif outcome.busy:
                text = tr(
                    N_("Many people are signing in right now. Please try again in a few seconds."), request
                )
                status = 503
            else:
                text = tr(
                    N_(
                        "The username or password is wrong. After {count} wrong tries the account is "
                        "locked for {minutes} minutes."
                    ),
                    request,
                    count=throttle.LOCKOUT_AFTER,
                    minutes=int(throttle.LOCKOUT_FOR.total_seconds() // 60),
                )
                status = 401
            page = signin_page(
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
        session = console.keeper.new(outcome.staff.id)
        response = RedirectResponse(_safe_back(next, PREFIX + "/"), status_code=303)
        console.keeper.write(request, response, session)
        return response

    @router.post("/signout")
    def signout(request: Request, csrf_token: str = Form("")) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True)
        with console.db.write() as conn:
            queries.audit(
                conn,
                township_id=who.staff.township_id,
                staff=who.staff,
                who=who.staff.username,
                action="sign_out",
            )
        response = RedirectResponse(PREFIX + "/signin?done=signed_out", status_code=303)
        console.keeper.revoke(request, response, who.session)
        return response

    # --- today --------------------------------------------------------------------------------------------------

    @router.get("/")
    def home(request: Request) -> Response:
        who = console.require(request)
        tid = who.staff.township_id
        today = _today()
        start, end = queries.local_day_bounds(today)
        with console.db.read() as conn:
            sessions = queries.sessions_between(conn, tid, start, end)
            counts = queries.status_counts(conn, tid)
            kiosk_rows = queries.kiosks(conn, tid)
        warnings = sum(1 for k in kiosk_rows if _kiosk_state(k)[0] != "ok" and not k["revoked_at"])
        return console.page(
            request,
            who,
            "home.html",
            {
                "today": today.isoformat(),
                "sessions": sessions,
                "counts": {
                    "pending": counts.get("pending_review", 0),
                    "waitlisted": counts.get("waitlisted", 0),
                    "kiosk_warnings": warnings,
                },
            },
            title=tr(N_("Today"), request),
            nav="home",
        )

    # --- review -------------------------------------------------------------------------------------------------

    def booking_list(request: Request, f: queries.BookingFilter, *, waitlist: bool) -> Response:
        who = console.require(request)
        tid = who.staff.township_id
        with console.db.read() as conn:
            rows, truncated = queries.bookings(conn, tid, f)
            if waitlist:
                # Place in line within each session (rows come in session, then waiting-list order).
                places: dict[str, int] = {}
                for row in rows:
                    places[row["session_id"]] = places.get(row["session_id"], 0) + 1
                    row["place"] = places[row["session_id"]]
            context = {
                "rows": rows,
                "truncated": truncated,
                "f": f,
                "villages": queries.villages(conn, tid),
                "kiosks": queries.kiosks(conn, tid),
                "services": queries.services(conn, tid),
                "show_status": not waitlist,
                "waitlist": waitlist,
                "action": PREFIX + ("/waitlist" if waitlist else "/review"),
                "empty_text": tr(
                    N_("Nobody is on a waiting list.")
                    if waitlist
                    else N_("No bookings match. Nothing is waiting for you."),
                    request,
                ),
            }
        title = tr(N_("Waiting lists") if waitlist else N_("Review queue"), request)
        return console.page(request, who, "review.html", context, title=title, nav="review")

    @router.get("/review")
    def review(
        request: Request,
        *,
        village: str = "",
        kiosk: str = "",
        service: str = "",
        day: str = "",
        status: str | None = None,
    ) -> Response:
        return booking_list(
            request,
            queries.BookingFilter(
                village, kiosk, service, day, "pending_review" if status is None else status
            ),
            waitlist=False,
        )

    @router.get("/waitlist")
    def waitlist(
        request: Request, village: str = "", kiosk: str = "", service: str = "", day: str = ""
    ) -> Response:
        return booking_list(
            request, queries.BookingFilter(village, kiosk, service, day, "waitlisted"), waitlist=True
        )

    def booking_page(
        request: Request, who: Who, booking_id: str, *, revealed: dict[str, str] | None = None
    ) -> Response:
        tid = who.staff.township_id
        with console.db.read() as conn:
            b = queries.booking(conn, tid, booking_id)
            if b is None:
                raise Refused(
                    404,
                    tr(N_("Booking not found"), request),
                    tr(N_("There is no such booking in this township."), request),
                    PREFIX + "/review",
                )
            session = queries.session_detail(conn, tid, b["session_id"])
            alternatives = queries.open_alternatives(conn, tid, session) if session else []
            trail = queries.booking_audit(conn, tid, b["id"], b["code"])
        for row in trail:
            row["action_label"] = tr(ACTION_LABELS.get(row["action"], row["action"]), request)
            detail = row.get("detail") or {}
            # Only what a person can read: the reason given, or the attendance outcome (not internal ids).
            shown = [str(detail[k]) for k in ("reason",) if isinstance(detail, dict) and detail.get(k)]
            if isinstance(detail, dict) and detail.get("status") in ("attended", "no_show"):
                shown.append(tr(N_("Attended") if detail["status"] == "attended" else N_("No-show"), request))
            row["detail"] = "; ".join(shown)
        return console.page(
            request,
            who,
            "booking.html",
            {"b": b, "alternatives": alternatives, "audit": trail, "revealed": revealed},
            title=tr(N_("Booking"), request) + " " + b["code"],
            nav="review",
        )

    @router.get("/bookings/{booking_id}")
    def booking_detail(request: Request, booking_id: str) -> Response:
        return booking_page(request, console.require(request), booking_id)

    @router.post("/bookings/{booking_id}/reveal")
    def reveal(request: Request, booking_id: str, csrf_token: str = Form("")) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True)
        with console.db.write() as conn:
            numbers = queries.reveal_numbers(conn, who.staff.township_id, booking_id)
            if numbers is not None:
                queries.audit(
                    conn,
                    township_id=who.staff.township_id,
                    staff=who.staff,
                    who=who.staff.username,
                    action="reveal_numbers",
                    target=booking_id,
                )
        return booking_page(request, who, booking_id, revealed=numbers)

    def decide(request: Request, who: Who, booking_id: str, *, back: str, done: str, run: Any) -> Response:
        try:
            run()
        except actions.ActionRefused as refusal:
            raise Refused(
                409,
                tr(N_("This could not be done"), request),
                refusal.text(request),
                _safe_back(back, f"{PREFIX}/bookings/{booking_id}"),
            ) from refusal
        return console.redirect(
            request, who, _with_done(_safe_back(back, f"{PREFIX}/bookings/{booking_id}"), done)
        )

    @router.post("/bookings/{booking_id}/confirm")
    def confirm(
        request: Request, booking_id: str, csrf_token: str = Form(""), back: str = Form("")
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True)
        return decide(
            request,
            who,
            booking_id,
            back=back,
            done="confirmed",
            run=lambda: actions.confirm(console.db, who.staff, booking_id),
        )

    @router.post("/bookings/{booking_id}/reject")
    def reject(
        request: Request,
        booking_id: str,
        csrf_token: str = Form(""),
        back: str = Form(""),
        reason: str = Form(""),
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True)
        if not reason.strip():
            raise Refused(
                400,
                tr(N_("Please give a reason"), request),
                tr(
                    N_(
                        "The resident will be told why the booking was not accepted, so a reason is "
                        "needed. Nothing was changed."
                    ),
                    request,
                ),
                _safe_back(back, f"{PREFIX}/bookings/{booking_id}"),
            )
        return decide(
            request,
            who,
            booking_id,
            back=back,
            done="rejected",
            run=lambda: actions.reject(console.db, who.staff, booking_id, reason.strip()[:200]),
        )

    @router.post("/bookings/{booking_id}/reassign")
    def reassign(
        request: Request, booking_id: str, csrf_token: str = Form(""), session_id: str = Form("")
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True)
        return decide(
            request,
            who,
            booking_id,
            back=f"{PREFIX}/bookings/{booking_id}",
            done="reassigned",
            run=lambda: actions.reassign(console.db, who.staff, booking_id, session_id),
        )

    @router.post("/bookings/{booking_id}/attendance")
    def attendance(
        request: Request, booking_id: str, csrf_token: str = Form(""), outcome: str = Form("")
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True)
        with console.db.read() as conn:
            b = queries.booking(conn, who.staff.township_id, booking_id)
        back = f"{PREFIX}/sessions/{b['session_id']}" if b else PREFIX + "/schedule"
        if outcome not in ("attended", "no_show"):
            raise Refused(
                400,
                tr(N_("This could not be done"), request),
                tr(N_("Please choose attended or did not come."), request),
                back,
            )
        return decide(
            request,
            who,
            booking_id,
            back=back,
            done="attendance",
            run=lambda: actions.attendance(console.db, who.staff, booking_id, outcome),
        )

    # --- schedule -----------------------------------------------------------------------------------------------

    @router.get("/schedule")
    def schedule(request: Request, start: str = "", service: str = "") -> Response:
        who = console.require(request)
        tid = who.staff.township_id
        first = _parse_day(start, _today())
        lo, _ = queries.local_day_bounds(first)
        _, hi = queries.local_day_bounds(first + dt.timedelta(days=6))
        with console.db.read() as conn:
            rows = queries.sessions_between(conn, tid, lo, hi, service_id=service or None)
            services = queries.services(conn, tid)
            holidays = queries.holidays(conn, tid, first, first + dt.timedelta(days=7))
        days: list[tuple[str, list[dict[str, Any]]]] = []
        for offset in range(7):
            day = first + dt.timedelta(days=offset)
            days.append((day.isoformat(), [r for r in rows if r["starts_at"].astimezone(ZONE).date() == day]))
        return console.page(
            request,
            who,
            "schedule.html",
            {
                "days": days,
                "services": services,
                "service": service,
                "start": first.isoformat(),
                "prev_week": (first - dt.timedelta(days=7)).isoformat(),
                "next_week": (first + dt.timedelta(days=7)).isoformat(),
                "holidays": holidays,
            },
            title=tr(N_("Schedule"), request),
            nav="schedule",
        )

    @router.get("/sessions/new")
    def new_session(request: Request, service: str = "") -> Response:
        who = console.require(request, admin=True)
        form = {
            "service_id": service,
            "provider_id": "",
            "day": (_today() + dt.timedelta(days=1)).isoformat(),
            "start": "09:00",
            "minutes": "30",
            "capacity": "6",
            "room": "",
            "video_url": "",
            "repeat_weeks": "1",
        }
        return session_form(request, who, form, {}, editing=None)

    def session_form(
        request: Request,
        who: Who,
        form: dict[str, str],
        errors: dict[str, str],
        *,
        editing: dict[str, Any] | None,
        status_code: int = 200,
    ) -> Response:
        tid = who.staff.township_id
        with console.db.read() as conn:
            services = queries.services(conn, tid, active_only=True)
            providers = queries.providers(conn, tid, active_only=True)
        title = tr(N_("Edit session") if editing else N_("New session"), request)
        return console.page(
            request,
            who,
            "session_form.html",
            {
                "form": form,
                "errors": errors,
                "services": services,
                "providers": providers,
                "editing": editing is not None,
                "booked": editing["booked"] if editing else 0,
                "action": f"{PREFIX}/sessions/{editing['id']}/edit" if editing else f"{PREFIX}/sessions",
            },
            title=title,
            nav="schedule",
            status_code=status_code,
        )

    @router.post("/sessions")
    def create_sessions(
        request: Request,
        *,
        csrf_token: str = Form(""),
        service_id: str = Form(""),
        provider_id: str = Form(""),
        day: str = Form(""),
        start: str = Form(""),
        minutes: str = Form(""),
        capacity: str = Form(""),
        room: str = Form(""),
        video_url: str = Form(""),
        repeat_weeks: str = Form("1"),
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        form = {
            "service_id": service_id,
            "provider_id": provider_id,
            "day": day,
            "start": start,
            "minutes": minutes,
            "capacity": capacity,
            "room": room,
            "video_url": video_url,
            "repeat_weeks": repeat_weeks,
        }
        plan, errors = actions.check_session_form(request, form, repeat=True)
        if plan is not None:
            try:
                created = actions.create_sessions(console.db, who.staff, plan)
            except actions.ActionRefused as refusal:
                errors = {refusal.field or "form": refusal.text(request)}
            else:
                first = created[0] if created else None
                target = f"{PREFIX}/sessions/{first}" if first else f"{PREFIX}/schedule"
                return console.redirect(request, who, _with_done(target, "sessions_created"))
        return session_form(request, who, form, errors, editing=None, status_code=400)

    @router.get("/sessions/{session_id}")
    def session_day(request: Request, session_id: str) -> Response:
        who = console.require(request)
        tid = who.staff.township_id
        with console.db.read() as conn:
            s = queries.session_detail(conn, tid, session_id)
            if s is None:
                raise Refused(
                    404,
                    tr(N_("Session not found"), request),
                    tr(N_("There is no such session in this township."), request),
                    PREFIX + "/schedule",
                )
            rows = queries.session_bookings(conn, tid, session_id)
        return console.page(
            request,
            who,
            "session_day.html",
            {"s": s, "bookings": rows},
            title=s["service_name"],
            nav="schedule",
        )

    def editable_session(request: Request, who: Who, session_id: str) -> dict[str, Any]:
        with console.db.read() as conn:
            s = queries.session_detail(conn, who.staff.township_id, session_id)
        if s is None:
            raise Refused(
                404,
                tr(N_("Session not found"), request),
                tr(N_("There is no such session in this township."), request),
                PREFIX + "/schedule",
            )
        if s["status"] != "open":
            raise Refused(
                409,
                tr(N_("This session cannot be changed"), request),
                tr(N_("Only open sessions can be edited. This one is cancelled or closed."), request),
                f"{PREFIX}/sessions/{session_id}",
            )
        return s

    @router.get("/sessions/{session_id}/edit")
    def edit_session_form(request: Request, session_id: str) -> Response:
        who = console.require(request, admin=True)
        s = editable_session(request, who, session_id)
        local = s["starts_at"].astimezone(ZONE)
        form = {
            "service_id": s["service_id"],
            "provider_id": s["provider_id"],
            "day": local.date().isoformat(),
            "start": local.strftime("%H:%M"),
            "minutes": str(int((s["ends_at"] - s["starts_at"]).total_seconds() // 60)),
            "capacity": str(s["capacity"]),
            "room": s["room"],
            "video_url": s["video_url"],
            "repeat_weeks": "1",
        }
        return session_form(request, who, form, {}, editing=s)

    @router.post("/sessions/{session_id}/edit")
    def edit_session(
        request: Request,
        session_id: str,
        *,
        csrf_token: str = Form(""),
        day: str = Form(""),
        start: str = Form(""),
        minutes: str = Form(""),
        capacity: str = Form(""),
        room: str = Form(""),
        video_url: str = Form(""),
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        s = editable_session(request, who, session_id)
        form = {
            "service_id": s["service_id"],
            "provider_id": s["provider_id"],
            "day": day,
            "start": start,
            "minutes": minutes,
            "capacity": capacity,
            "room": room,
            "video_url": video_url,
            "repeat_weeks": "1",
        }
        plan, errors = actions.check_session_form(request, form, repeat=False)
        if plan is not None:
            try:
                actions.edit_session(console.db, who.staff, session_id, plan)
            except actions.ActionRefused as refusal:
                errors = {refusal.field or "form": refusal.text(request)}
            else:
                return console.redirect(
                    request, who, _with_done(f"{PREFIX}/sessions/{session_id}", "session_saved")
                )
        s = editable_session(request, who, session_id)
        return session_form(request, who, form, errors, editing=s, status_code=400)

    @router.post("/sessions/{session_id}/cancel")
    def cancel_session(
        request: Request, session_id: str, csrf_token: str = Form(""), reason: str = Form("")
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        back = f"{PREFIX}/sessions/{session_id}"
        if not reason.strip():
            raise Refused(
                400,
                tr(N_("Please give a reason"), request),
                tr(
                    N_(
                        "Residents will be told why their session was cancelled, so a reason is needed. "
                        "Nothing was changed."
                    ),
                    request,
                ),
                back,
            )
        editable_session(request, who, session_id)
        try:
            actions.cancel_session(console.db, who.staff, session_id, reason.strip()[:200])
        except actions.ActionRefused as refusal:
            raise Refused(
                409, tr(N_("This could not be done"), request), refusal.text(request), back
            ) from refusal
        return console.redirect(request, who, _with_done(back, "session_cancelled"))

    # --- services, providers, holidays ----------------------------------------------------------------------------

    @router.get("/services")
    def catalogue(request: Request) -> Response:
        who = console.require(request)
        tid = who.staff.township_id
        with console.db.read() as conn:
            context = {"services": queries.services(conn, tid), "providers": queries.providers(conn, tid)}
        return console.page(
            request,
            who,
            "catalogue.html",
            {**context, "errors": {}, "form": {}},
            title=tr(N_("Services and providers"), request),
            nav="catalogue",
        )

    def catalogue_error(request: Request, who: Who, form: dict[str, str], errors: dict[str, str]) -> Response:
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
            status_code=400,
        )

    @router.post("/services")
    def save_service(
        request: Request,
        *,
        csrf_token: str = Form(""),
        service_id: str = Form(""),
        name: str = Form(""),
        kind: str = Form("clinic"),
        description: str = Form(""),
        what_to_bring: str = Form(""),
        review: str = Form(""),
        active: str = Form(""),
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        form = {
            "service_id": service_id,
            "name": name,
            "kind": kind,
            "description": description,
            "what_to_bring": what_to_bring,
            "review": review,
            "active": active,
            "which": "service",
        }
        if not name.strip() or len(name.strip()) > 200 or kind not in ("clinic", "school"):
            return catalogue_error(
                request,
                who,
                form,
                {
                    "service_name": tr(
                        N_(
                            "Please give the service a name (at most 200 characters) and choose clinic or school."
                        ),
                        request,
                    )
                },
            )
        # Kiosks show and read these out: a page of text would fill the screen and keep a blind resident waiting.
        if len(description.strip()) > MAX_DESCRIPTION or len(what_to_bring.strip()) > MAX_BRING:
            return catalogue_error(
                request,
                who,
                form,
                {
                    "service_name": tr(
                        N_(
                            "The description may be at most {description} characters and what to bring at most {bring}."
                        ),
                        request,
                    ).format(description=MAX_DESCRIPTION, bring=MAX_BRING)
                },
            )
        try:
            actions.save_service(
                console.db,
                who.staff,
                service_id or None,
                name=name.strip(),
                kind=kind,
                description=description.strip(),
                what_to_bring=what_to_bring.strip(),
                review=bool(review),
                active=bool(active) or not service_id,
            )
        except actions.ActionRefused as refusal:
            return catalogue_error(request, who, form, {"service_name": refusal.text(request)})
        return console.redirect(request, who, _with_done(PREFIX + "/services", "service_saved"))

    @router.post("/providers")
    def save_provider(
        request: Request,
        *,
        csrf_token: str = Form(""),
        provider_id: str = Form(""),
        name: str = Form(""),
        title: str = Form(""),
        organisation: str = Form(""),
        active: str = Form(""),
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        form = {
            "provider_id": provider_id,
            "name": name,
            "title": title,
            "organisation": organisation,
            "active": active,
            "which": "provider",
        }
        if not name.strip() or len(name.strip()) > 100:
            return catalogue_error(
                request,
                who,
                form,
                {
                    "provider_name": tr(
                        N_("Please give the provider's name (at most 100 characters)."), request
                    )
                },
            )
        if len(title.strip()) > MAX_PROVIDER_DETAIL or len(organisation.strip()) > MAX_PROVIDER_DETAIL:
            return catalogue_error(
                request,
                who,
                form,
                {
                    "provider_name": tr(
                        N_("The title and the organisation may be at most {n} characters each."), request
                    ).format(n=MAX_PROVIDER_DETAIL)
                },
            )
        try:
            actions.save_provider(
                console.db,
                who.staff,
                provider_id or None,
                name=name.strip(),
                title=title.strip(),
                organisation=organisation.strip(),
                active=bool(active) or not provider_id,
            )
        except actions.ActionRefused as refusal:
            return catalogue_error(request, who, form, {"provider_name": refusal.text(request)})
        return console.redirect(request, who, _with_done(PREFIX + "/services", "provider_saved"))

    @router.get("/holidays")
    def holidays_page(request: Request) -> Response:
        who = console.require(request)
        with console.db.read() as conn:
            rows = queries.holidays(conn, who.staff.township_id, _today() - dt.timedelta(days=30))
        return console.page(
            request,
            who,
            "holidays.html",
            {"holidays": rows, "errors": {}, "form": {}},
            title=tr(N_("Holidays"), request),
            nav="schedule",
        )

    @router.post("/holidays")
    def add_holiday(
        request: Request, csrf_token: str = Form(""), day: str = Form(""), name: str = Form("")
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        errors: dict[str, str] = {}
        try:
            when = queries.parse_day(day)
        except ValueError:
            errors["day"] = tr(N_("Please choose a day."), request)
        if not name.strip() or len(name.strip()) > 100:
            errors["name"] = tr(N_("Please give the holiday a name (at most 100 characters)."), request)
        if not errors:
            try:
                actions.add_holiday(console.db, who.staff, when, name.strip())
            except actions.ActionRefused as refusal:
                errors["day"] = refusal.text(request)
        if errors:
            with console.db.read() as conn:
                rows = queries.holidays(conn, who.staff.township_id, _today() - dt.timedelta(days=30))
            return console.page(
                request,
                who,
                "holidays.html",
                {"holidays": rows, "errors": errors, "form": {"day": day, "name": name}},
                title=tr(N_("Holidays"), request),
                nav="schedule",
                status_code=400,
            )
        return console.redirect(request, who, _with_done(PREFIX + "/holidays", "holiday_saved"))

    @router.post("/holidays/{holiday_id}/delete")
    def delete_holiday(request: Request, holiday_id: str, csrf_token: str = Form("")) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        actions.delete_holiday(console.db, who.staff, holiday_id)
        return console.redirect(request, who, _with_done(PREFIX + "/holidays", "holiday_deleted"))

    # --- notices to the kiosks ------------------------------------------------------------------------------------

    def notices_page(
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
    def notices_get(request: Request) -> Response:
        return notices_page(request, console.require(request))

    @router.post("/notices")
    def notices_post(
        request: Request,
        csrf_token: str = Form(""),
        title: str = Form(""),
        body: str = Form(""),
        last_day: str = Form(""),
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
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
                if until < _today():
                    errors["last_day"] = tr(N_("The last day cannot be in the past."), request)
        if not errors:
            try:
                actions.post_notice(console.db, who.staff, title, body, until)
            except actions.ActionRefused as refusal:
                errors["title"] = refusal.text(request)
        if errors:
            return notices_page(
                request,
                who,
                errors=errors,
                status_code=400,
                form={"title": title, "body": body, "last_day": last_day},
            )
        return console.redirect(request, who, _with_done(PREFIX + "/notices", "notice_posted"))

    @router.post("/notices/{notice_id}/withdraw")
    def notices_withdraw(request: Request, notice_id: str, csrf_token: str = Form("")) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        try:
            actions.withdraw_notice(console.db, who.staff, notice_id)
        except actions.ActionRefused as refusal:
            return notices_page(request, who, errors={"withdraw": refusal.text(request)}, status_code=400)
        return console.redirect(request, who, _with_done(PREFIX + "/notices", "notice_withdrawn"))

    # --- kiosks -------------------------------------------------------------------------------------------------

    def kiosks_page(
        request: Request, who: Who, *, code: str | None = None, expires: dt.datetime | None = None
    ) -> Response:
        with console.db.read() as conn:
            rows = queries.kiosks(conn, who.staff.township_id)
        for row in rows:
            row["state"], row["state_text"] = _kiosk_state(row)
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
    def kiosks(request: Request) -> Response:
        return kiosks_page(request, console.require(request))

    @router.post("/kiosks/code")
    def enrollment_code(request: Request, csrf_token: str = Form("")) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        code, expires = actions.create_enrollment_code(console.db, who.staff)
        # The code is shown once, on this response only; it is never put in a URL or a log.
        return kiosks_page(request, who, code=code, expires=expires)

    @router.post("/kiosks/{device_id}/revoke")
    def revoke(request: Request, device_id: str, csrf_token: str = Form("")) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        try:
            actions.revoke_device(console.db, who.staff, device_id)
        except actions.ActionRefused as refusal:
            raise Refused(
                409, tr(N_("This could not be done"), request), refusal.text(request), PREFIX + "/kiosks"
            ) from refusal
        return console.redirect(request, who, _with_done(PREFIX + "/kiosks", "revoked"))

    # --- residents: access, export and erasure on request (PIPL) ----------------------------------------------------
    # The ID number travels only in POST bodies (never in an address or a log); every look, export and erasure is
    # audited with the resident's record id, never the number.

    def residents_page(
        request: Request,
        who: Who,
        *,
        record: dict[str, Any] | None = None,
        error: str = "",
        status_code: int = 200,
    ) -> Response:
        return console.page(
            request,
            who,
            "residents.html",
            {"record": record, "error": error},
            title=tr(N_("Residents' personal data"), request),
            nav="audit",
            status_code=status_code,
        )

    def resident_or_refuse(request: Request, who: Who, resident_id: str) -> dict[str, Any]:
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
    def residents(request: Request) -> Response:
        return residents_page(request, console.require(request, admin=True))

    @router.post("/residents/find")
    def find_resident(request: Request, csrf_token: str = Form(""), id_number: str = Form("")) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        from cunzhan.identity import check_id_number

        check = check_id_number(id_number.strip())
        if not check.ok or check.number is None:
            from cunzhan.i18n import use_locale
            from township.console.web import request_locale

            with use_locale(request_locale(request)):
                message = check.message()
            return residents_page(request, who, error=message, status_code=400)
        with console.db.write() as conn:
            found = queries.find_resident(conn, who.staff.township_id, check.number)
            if found is not None:
                queries.audit(
                    conn,
                    township_id=who.staff.township_id,
                    staff=who.staff,
                    who=who.staff.username,
                    action="resident_viewed",
                    target=found,
                )
        if found is None:
            return residents_page(
                request,
                who,
                status_code=404,
                error=tr(N_("No resident with this ID number is held by this township."), request),
            )
        return residents_page(request, who, record=resident_or_refuse(request, who, found))

    @router.post("/residents/{resident_id}/export")
    def export_resident(request: Request, resident_id: str, csrf_token: str = Form("")) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        record = resident_or_refuse(request, who, resident_id)
        with console.db.write() as conn:
            queries.audit(
                conn,
                township_id=who.staff.township_id,
                staff=who.staff,
                who=who.staff.username,
                action="resident_exported",
                target=resident_id,
            )
        import json

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
        request: Request, resident_id: str, csrf_token: str = Form(""), confirm: str = Form("")
    ) -> Response:
        who = console.require(request, csrf=csrf_token, check_csrf=True, admin=True)
        record = resident_or_refuse(request, who, resident_id)
        if confirm != "yes":
            return residents_page(
                request,
                who,
                record=record,
                status_code=400,
                error=tr(N_("Please tick the box to confirm the erasure. Nothing was erased."), request),
            )
        from township.retention import erase_residents

        with console.db.write() as conn:
            db.lock_township(conn, who.staff.township_id)
            erase_residents(conn, [resident_id], db.now_utc())
            queries.audit(
                conn,
                township_id=who.staff.township_id,
                staff=who.staff,
                who=who.staff.username,
                action="resident_erased",
                target=resident_id,
            )
        return console.page(
            request,
            who,
            "residents.html",
            {
                "record": None,
                "error": "",
                "notice": {"kind": "ok", "text": tr(N_("The resident's personal data was erased."), request)},
            },
            title=tr(N_("Residents' personal data"), request),
            nav="audit",
        )

    # --- audit trail --------------------------------------------------------------------------------------------

    @router.get("/audit")
    def audit_trail(request: Request, who_filter: str = "", day: str = "") -> Response:
        who = console.require(request, admin=True)
        with console.db.read() as conn:
            rows = queries.audit_rows(conn, who.staff.township_id, who=who_filter, day=day)
            names = queries.target_names(conn, who.staff.township_id, [r["target"] for r in rows])
        for row in rows:
            row["action_label"] = tr(ACTION_LABELS.get(row["action"], row["action"]), request)
            row["target_name"] = names.get(row["target"], row["target"])
        return console.page(
            request,
            who,
            "audit.html",
            {"rows": rows, "who_filter": who_filter, "day": day},
            title=tr(N_("Staff actions"), request),
            nav="audit",
        )

    # --- reports ------------------------------------------------------------------------------------------------

    def report_period(start: str, end: str) -> tuple[dt.date, dt.date]:
        last = _parse_day(end, _today())
        first = _parse_day(start, last - dt.timedelta(days=29))
        if first > last:
            first, last = last, first
        return first, last

    @router.get("/reports")
    def reports(request: Request, start: str = "", end: str = "", by: str = "service") -> Response:
        who = console.require(request)
        tid = who.staff.township_id
        first, last = report_period(start, end)
        by = by if by in ("service", "village") else "service"
        with console.db.read() as conn:
            rows = queries.report(conn, tid, first, last, by)
            ratings = queries.satisfaction(conn, tid, first, last)
            reasons = queries.feedback_reasons(conn, tid, first, last)
        unknown = tr(N_("(not given)"), request)
        chart = bar_chart(
            [Bar(r.label or unknown, r.bookings, str(r.bookings)) for r in rows],
            title=tr(N_("Bookings"), request),
            width=560,
            label_width=200,
        )
        attendance_chart = bar_chart(
            [
                Bar(
                    r.label or unknown,
                    100 * (r.attendance_rate or 0),
                    f"{100 * r.attendance_rate:.0f}% ({r.attended}/{r.decided})"
                    if r.attendance_rate is not None
                    else tr(N_("no outcomes yet"), request),
                )
                for r in rows
            ],
            title=tr(N_("Attendance rate"), request),
            width=560,
            label_width=200,
            maximum=100,
        )
        rating_chart = bar_chart(
            [
                Bar(str(i + 1) + "★", n, str(n))
                for i, n in enumerate([sum(r["histogram"][i] for r in ratings) for i in range(5)])
            ],
            title=tr(N_("Ratings given"), request),
            width=480,
            label_width=80,
        )
        return console.page(
            request,
            who,
            "reports.html",
            {
                "rows": rows,
                "ratings": ratings,
                "reasons": reasons,
                "start": first.isoformat(),
                "end": last.isoformat(),
                "by": by,
                "chart": chart,
                "attendance_chart": attendance_chart,
                "rating_chart": rating_chart,
                "unknown": unknown,
            },
            title=tr(N_("Reports"), request),
            nav="reports",
        )

    @router.get("/reports.csv")
    def reports_csv(request: Request, start: str = "", end: str = "", by: str = "service") -> Response:
        who = console.require(request)
        first, last = report_period(start, end)
        by = by if by in ("service", "village") else "service"
        with console.db.read() as conn:
            rows = queries.report(conn, who.staff.township_id, first, last, by)

        def lines() -> Iterator[str]:
            out = io.StringIO()
            writer = csv.writer(out)
            # A BOM so that Excel on the hall's PC opens the Chinese text correctly.
            out.write("\ufeff")
            writer.writerow(
                [
                    tr(N_("Service") if by == "service" else N_("Village"), request),
                    tr(N_("Bookings"), request),
                    tr(N_("Attended"), request),
                    tr(N_("No-show"), request),
                    tr(N_("Cancelled or rejected"), request),
                    tr(N_("Attendance rate"), request),
                    tr(N_("No-show rate"), request),
                ]
            )
            for r in rows:
                writer.writerow(
                    [
                        _csv_safe(r.label),
                        r.bookings,
                        r.attended,
                        r.no_show,
                        r.cancelled,
                        "" if r.attendance_rate is None else f"{r.attendance_rate:.3f}",
                        "" if r.no_show_rate is None else f"{r.no_show_rate:.3f}",
                    ]
                )
            yield out.getvalue()

        filename = f"cunzhan-report-{by}-{first.isoformat()}-{last.isoformat()}.csv"
        response = StreamingResponse(
            lines(),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{filename}"',
                "Cache-Control": "no-store",
            },
        )
        console.keeper.write(request, response, who.session)
        return response

    return router


def _csv_safe(text: str) -> str:
    """Stop spreadsheet formula injection: a cell starting with = + - @, a tab or a carriage return (spreadsheets
    skip those and read what follows as a formula) is prefixed with an apostrophe."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r", "\n") else text


SKEW_WARN_SECONDS = 5 * 60
STALE_SYNC = dt.timedelta(days=1)


def _kiosk_state(row: dict[str, Any]) -> tuple[str, str]:
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

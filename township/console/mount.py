"""Mounting the console on the backend's app: its routers, static files, the form size limit and the pages shown
for a missing sign-in, a refusal or an unknown address.

Handlers are plain (sync) functions: FastAPI runs them in its thread pool, so database work never blocks the event
loop, and `cunzhan.i18n.use_locale` (thread-local) is safe inside.
"""

from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from cunzhan.i18n import N_
from township import db
from township.console.deps import PREFIX, Anyone, Console, Refused, SignInNeeded, get_console
from township.console.routes import ROUTERS
from township.console.web import STATIC_DIR, tr

MAX_FORM_BYTES = 64 * 1024  # the longest console form (a notice, a session) is a few kilobytes


class FormTooLarge(StarletteHTTPException):
    """A console request body past MAX_FORM_BYTES (an HTTP 413, so FastAPI's form parsing passes it on)."""

    def __init__(self) -> None:
        super().__init__(413, f"a console form may be at most {MAX_FORM_BYTES} bytes")


class NulInInput(StarletteHTTPException):
    """A NUL character in a console address or form: no text field can hold it (PostgreSQL refuses it outright)."""

    def __init__(self) -> None:
        super().__init__(400, "a console address or form may not contain a NUL character")


class ConsoleBodyLimit:
    """ASGI middleware: a console request body may not exceed MAX_FORM_BYTES, whether it says so in
    Content-Length (refused before anything is read) or streams it (refused once the limit is passed), and no
    address, query or form may carry a NUL character (raw or `%00`), which no text column can store: refused before
    any page runs, where PostgreSQL would have failed with a 500 (SQLite would have stored it). The refusal is a
    413 or 400 page in the staff member's language; nothing was done."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or []).get(b"content-length", b"")
        if length and (not length.isdigit() or int(length) > MAX_FORM_BYTES):
            await self._refuse(scope, send, FormTooLarge())
            return
        if "\x00" in str(scope.get("path", "")) or _has_nul(scope.get("query_string") or b""):
            await self._refuse(scope, send, NulInInput())
            return
        seen = 0
        tail = b""  # the end of the last chunk: a "%00" may be cut in two
        started = False

        async def limited_receive() -> Any:
            nonlocal seen, tail
            message = await receive()
            if message.get("type") == "http.request":
                chunk = message.get("body", b"")
                seen += len(chunk)
                if seen > MAX_FORM_BYTES:
                    raise FormTooLarge
                if _has_nul(tail + chunk):
                    raise NulInInput
                tail = chunk[-2:]
            return message

        async def watched_send(message: Any) -> None:
            nonlocal started
            if message.get("type") == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except (FormTooLarge, NulInInput) as exc:
            if not started:
                await self._refuse(scope, send, exc)

    @staticmethod
    async def _refuse(scope: Any, send: Any, exc: FormTooLarge | NulInInput) -> None:
        async def nothing() -> Any:
            return {"type": "http.disconnect"}

        await _input_refused(Request(scope), exc)(scope, nothing, send)


async def _input_refused_handler(request: Request, exc: Exception) -> Response:
    # Raised while a page reads its form (FastAPI passes HTTP exceptions on from there): the same page.
    assert isinstance(exc, FormTooLarge | NulInInput)
    return _input_refused(request, exc)


def _input_refused(request: Request, exc: FormTooLarge | NulInInput) -> Response:
    """The page for a form too large or a NUL in the input, in the staff member's language; nothing was done."""
    if isinstance(exc, FormTooLarge):
        message = N_("This form is too large to send. Nothing was changed.")
    else:
        message = N_(
            "The address or the form holds a character that cannot be used (an invisible control character). "
            "Please type it again. Nothing was changed."
        )
    text = html.escape(tr(message, request))
    return HTMLResponse(
        f"<!doctype html><meta charset=utf-8><title>{exc.status_code}</title><p>{text}</p>",
        status_code=exc.status_code,
        headers={"Cache-Control": "no-store", "Connection": "close"},
    )


def _has_nul(data: bytes) -> bool:
    """A NUL, raw or percent-encoded, in a query string or form body."""
    return b"\x00" in data or b"%00" in data


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
    get_console(request).keeper.revoke(request, response, None)
    return response


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    console = get_console(request)
    session, _expired = console.keeper.read(request)
    who = console.who(session) if session is not None else None
    return console.page(
        request,
        who,
        "problem.html",
        {"heading": exc.heading, "message": exc.message, "back": exc.back},
        title=exc.heading,
        status_code=exc.status,
    )


def _unknown_page(request: Request, who: Anyone, path: str) -> Response:
    # After the static files: any other console address gets a page a person can read, not JSON.
    raise Refused(
        404,
        tr(N_("Page not found"), request),
        tr(N_("This page does not exist. Please use the menu above."), request),
    )


async def _to_console(_request: Request) -> Response:
    # Someone typing the backend's address they were given expects the console, not a JSON 404.
    return RedirectResponse(PREFIX + "/", status_code=307)


def mount_console(app: FastAPI, database: db.Database | None = None) -> None:
    """Add the staff console to `app` under `/console` (pages, static files and error handling)."""
    app.add_middleware(ConsoleBodyLimit)
    app.add_exception_handler(FormTooLarge, _input_refused_handler)
    app.add_exception_handler(NulInInput, _input_refused_handler)
    app.state.console = Console(app, database)
    for router in ROUTERS:
        app.include_router(router)
    app.mount(PREFIX + "/static", StaticFiles(directory=str(STATIC_DIR)), name="console-static")
    app.add_api_route("/", _to_console, methods=["GET"], include_in_schema=False)
    app.add_api_route(PREFIX + "/{path:path}", _unknown_page, methods=["GET"], include_in_schema=False)
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.add_exception_handler(Refused, _refused)

"""The township backend's HTTP face: `create_app(db_url)` builds the FastAPI app (sync API under `/v1`, the staff
console under `/console` when it is installed, OpenAPI at `/openapi.json`).

Whole-request failures answer `{"error", "message", "server_time"}` with the status SYNC.md gives; bad input of any
kind is a 400/401/403/410/413, never a 500. Request bodies may be gzip (`Content-Encoding: gzip`); responses are
gzip when the client accepts it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import json
import logging
import math
import os
import re
import time
import zlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.gzip import GZipMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from cunzhan import protocol as P
from township import db
from township import sync as S

log = logging.getLogger(__name__)

CLIENT_TIME_HEADER = P.CLIENT_TIME_HEADER  # optional: the kiosk's clock, for the skew shown to staff
RETRY_AFTER_BUSY_S = 5
_PUSH_KEYS = frozenset({"device_id", "ops", "pending_ops", "app_version"})
_STATUS_CODES = {
    400: P.ERROR_MALFORMED,
    401: P.ERROR_UNAUTHORIZED,
    403: P.ERROR_FORBIDDEN,
    404: "not_found",
    405: "method_not_allowed",
    410: P.ERROR_CURSOR_EXPIRED,
    413: P.ERROR_TOO_LARGE,
    429: P.ERROR_BUSY,
    503: P.ERROR_BUSY,
}


def error_response(status: int, code: str, message: str, *, retry_after: int | None = None) -> JSONResponse:
    """The protocol's error body (with `server_time`, like every response)."""
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse(
        {"error": code, "message": message, "server_time": P.utc_now_text()},
        status_code=status,
        headers=headers,
    )


async def read_body(request: Request, limit: int = P.MAX_BODY_BYTES) -> bytes:
    """The request body, gunzipped when `Content-Encoding: gzip`; 413 past `limit` bytes (before or after
    decompression, so a small gzip bomb is refused too), 400 for garbage or truncated gzip."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise S.SyncError(413, P.ERROR_TOO_LARGE, f"request body larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        # The kiosk gave up (its read timeout) or lost the link mid-body: nothing was done, nobody to answer.
        raise S.SyncError(
            400, P.ERROR_MALFORMED, "the client went away before sending its whole body"
        ) from None
    raw = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return raw
    if encoding != "gzip":
        raise S.SyncError(400, P.ERROR_MALFORMED, f"unsupported Content-Encoding {encoding!r}")
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(raw, limit + 1)
    except zlib.error:
        raise S.SyncError(400, P.ERROR_MALFORMED, "the gzip body is corrupt") from None
    if len(out) > limit:
        raise S.SyncError(413, P.ERROR_TOO_LARGE, f"request body larger than {limit} bytes uncompressed")
    if not inflater.eof or inflater.unused_data:
        raise S.SyncError(400, P.ERROR_MALFORMED, "the gzip body is truncated or has trailing bytes")
    return out


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def parse_json(raw: bytes) -> Any:
    """UTF-8 JSON or 400 malformed. A lone surrogate (`"\\ud800"`: valid JSON, not text) is malformed too; a pair
    that makes one character is fine."""
    try:
        value = json.loads(raw.decode("utf-8"))
        if _SURROGATE_ESCAPE.search(raw):  # rare: only then check the whole value
            json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeDecodeError, UnicodeEncodeError, ValueError, RecursionError):
        raise S.SyncError(400, P.ERROR_MALFORMED, "the body is not JSON text") from None
    return value


def client_time(request: Request) -> dt.datetime | None:
    """The kiosk's clock from `X-Cunzhan-Client-Time`, if it sent a readable one."""
    text = request.headers.get(CLIENT_TIME_HEADER)
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


def check_push_envelope(body: Any) -> dict[str, Any]:
    """The push body's outer shape (each op is checked on its own later): 400 when wrong, 413 over 500 ops."""
    if not isinstance(body, dict):
        raise S.SyncError(400, P.ERROR_MALFORMED, "the body must be a JSON object")
    unknown = set(body) - _PUSH_KEYS
    if unknown:
        raise S.SyncError(400, P.ERROR_MALFORMED, f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    if not isinstance(body.get("device_id"), str):
        raise S.SyncError(400, P.ERROR_MALFORMED, "device_id must be a string")
    if not isinstance(body.get("ops"), list):
        raise S.SyncError(400, P.ERROR_MALFORMED, "ops must be a list")
    pending = body.get("pending_ops")
    if pending is not None and (
        not isinstance(pending, int) or isinstance(pending, bool) or not 0 <= pending <= P.MAX_PENDING_OPS
    ):
        raise S.SyncError(
            400, P.ERROR_MALFORMED, f"pending_ops must be an integer from 0 to {P.MAX_PENDING_OPS}"
        )
    version = body.get("app_version")
    if version is not None and not isinstance(version, str):
        raise S.SyncError(400, P.ERROR_MALFORMED, "app_version must be a string")
    if len(body["ops"]) > P.MAX_PUSH_OPS:
        raise S.SyncError(413, P.ERROR_TOO_LARGE, f"at most {P.MAX_PUSH_OPS} ops per push")
    return body


def _seal_old_comments(db_url: str) -> None:
    """Comments stored in clear by an earlier release are sealed once, at the start that migrates."""
    from township.keys import seal_old_comments

    database = db.Database(db_url, pool_size=1)
    try:
        seal_old_comments(database)
    finally:
        database.dispose()


def create_app(db_url: str, *, migrate: bool = True, demo: bool = False, console: bool = True) -> FastAPI:
    """The backend for the database at `db_url` (migrated to the newest schema first unless `migrate=False`;
    `demo=True` seeds township `demo`). The `Database` is on `app.state.db`."""
    if migrate:
        db.migrate(db_url)
        _seal_old_comments(db_url)
    # A request that waits longer than this for the township's write lock is answered 503 + Retry-After: with the
    # admission wait it stays well inside the kiosk's 30 s read timeout.
    database = db.Database(db_url, write_timeout_s=WRITE_WAIT_S)
    if demo:
        from township.seed import seed_demo

        seed_demo(database)
    _warm_up(database)
    app = FastAPI(title="Cunzhan township backend", version="1", docs_url="/docs", redoc_url=None)
    app.state.db = database
    app.state.sync_gate = SyncGate()
    app.add_middleware(GZipMiddleware, minimum_size=500)
    _install_error_handlers(app)
    _install_routes(app, database)
    if console:
        try:
            from township.console import mount_console
        except ImportError:  # the console is optional (a sync-only deployment)
            log.info("staff console not installed")
        else:
            mount_console(app, database)
    _install_openapi(app)
    return app


def _warm_up(database: db.Database) -> None:
    """Load now what a new process's first push would load while it holds a township's lock (which stops that
    township's other pushes): the message catalogues of the townships' languages (about 0.3 s) and the AES
    module of the field cipher (`FieldCipher.encrypt` imports it on first use)."""
    import cryptography.hazmat.primitives.ciphers.aead  # noqa: F401

    from cunzhan.i18n import catalog

    with database.read() as conn:
        locales = conn.execute(sa.select(db.townships.c.locale).distinct()).scalars().all()
    for locale in locales:
        catalog(locale)


WRITE_WAIT_S = 10.0
SYNC_SLOTS = 8  # pushes and pulls one process runs at once (each a write transaction)
# The longest a request waits for a slot. With the write-lock wait (10 s) and the work itself it stays inside the
# kiosk's 30 s read timeout.
ADMISSION_WAIT_S = 12.0
HELD_SMOOTHING = 0.2  # weight of the newest request in the running mean of how long a request holds a slot
RETRY_AFTER_MAX_S = 60


class SyncGate:
    """Admission control for push and pull. Writes to one township run one at a time (its row lock), so a
    request queued behind many others would be answered after the kiosk's 30 s read timeout; the kiosk would then
    send it again, doubling the work. Instead at most `slots` run (or wait on the database) per process, and a
    request waits for one only while it can expect to start within `wait_s`: from the requests already waiting and
    the running mean of how long one holds a slot, a request that would wait longer is answered 503 `busy` at
    once, with that expected wait as `Retry-After`, having changed nothing; one that was expected in time but is
    still waiting after `wait_s` is answered the same way then. A request is never refused while it would have
    been answered in time (each 503 costs the kiosk its wait plus a second upload), nor held past the kiosk's
    timeout. In-process only by design: it bounds this process's queue, it decides nothing about data."""

    def __init__(
        self,
        slots: int = SYNC_SLOTS,
        wait_s: float = ADMISSION_WAIT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slots = slots
        self.wait_s = wait_s
        self._clock = clock
        self._semaphore: asyncio.Semaphore | None = None
        self._waiting = 0
        self.held_s: float | None = (
            None  # running mean of how long a request holds a slot; None before the first
        )

    @property
    def full(self) -> bool:
        """Whether every slot is taken (a new request would wait)."""
        return self._semaphore is not None and self._semaphore.locked()

    @property
    def waiting(self) -> int:
        """Requests waiting for a slot now."""
        return self._waiting

    def expected_wait_s(self) -> float:
        """How long a request arriving now can expect to wait for a slot (0 while one is free or before any
        request has held one)."""
        if not self.full or self.held_s is None:
            return 0.0
        return (self._waiting + 1) * self.held_s / self.slots

    @asynccontextmanager
    async def admit(self) -> AsyncIterator[None]:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.slots)
        expected = self.expected_wait_s()
        if expected > self.wait_s:
            raise db.Busy("the sync queue is longer than a kiosk waits", retry_after_s=expected)
        self._waiting += 1
        try:
            acquiring = asyncio.ensure_future(self._semaphore.acquire())
            done, _pending = await asyncio.wait({acquiring}, timeout=self.wait_s)
            if not done:
                acquiring.cancel()
                try:
                    await acquiring  # it may have got the slot just as we gave up: then we hold it and go on
                except asyncio.CancelledError:
                    raise db.Busy("no sync slot free", retry_after_s=self.expected_wait_s()) from None
        finally:
            self._waiting -= 1
        started = self._clock()
        try:
            yield
        finally:
            self._semaphore.release()
            held = self._clock() - started
            self.held_s = (
                held if self.held_s is None else (1 - HELD_SMOOTHING) * self.held_s + HELD_SMOOTHING * held
            )


def retry_after(seconds: float | None) -> int:
    """The `Retry-After` of a 503 `busy`: the expected wait in whole seconds, at least `RETRY_AFTER_BUSY_S`, at
    most `RETRY_AFTER_MAX_S`."""
    return min(RETRY_AFTER_MAX_S, max(RETRY_AFTER_BUSY_S, math.ceil(seconds or 0)))


WORKER_DB_ENV = "CUNZHAN_TOWNSHIP_WORKER_DB"  # set by `serve --workers N` for its worker processes


def worker_app() -> FastAPI:
    """The app of one `serve --workers N` worker process (uvicorn's factory): the parent has already migrated
    and seeded the database named in `$CUNZHAN_TOWNSHIP_WORKER_DB`."""
    app = create_app(os.environ[WORKER_DB_ENV], migrate=False)
    settle_heap()
    return app


def settle_heap() -> None:
    """Once the app is built and before it serves: collect, then put every object alive (modules, routes,
    templates, the ORM's tables: some 125,000) in the permanent generation (`gc.freeze`), so the collector's full
    collections no longer go through them. A county's 26-week page makes tens of thousands of short-lived objects
    (a row and its figures per village and week), enough to set off a full collection on about every such
    request: 80–100 ms each over the start-up objects on the shared 2-core machine (issue 18, docs/county.md,
    "Speed"), a few ms over what is left. Called by `serve` only (a test run builds many apps: they stay
    collectable)."""
    gc.collect()
    gc.freeze()


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(S.SyncError)
    async def _sync_error(_request: Request, exc: S.SyncError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(db.Busy)
    async def _busy(_request: Request, exc: db.Busy) -> JSONResponse:
        return error_response(
            503,
            P.ERROR_BUSY,
            "the backend is busy; try again shortly",
            retry_after=retry_after(exc.retry_after_s),
        )

    @app.exception_handler(sa.exc.OperationalError)
    async def _db_trouble(_request: Request, exc: sa.exc.OperationalError) -> JSONResponse:
        # A locked SQLite file, a lock or statement timeout, a restarting PostgreSQL: all pass; ask for a retry.
        log.warning("database operational error: %s", type(exc.orig).__name__)
        return error_response(
            503, P.ERROR_BUSY, "the database is busy; try again shortly", retry_after=RETRY_AFTER_BUSY_S
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, _exc: RequestValidationError) -> JSONResponse:
        return error_response(400, P.ERROR_MALFORMED, "the request does not match the protocol")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc.detail))


def _install_routes(app: FastAPI, database: db.Database) -> None:
    prefix = P.API_PREFIX

    @app.get(prefix + "/health", response_model=P.Health, tags=["sync"])
    async def health() -> dict[str, Any]:
        """Cheap connectivity probe."""
        return {"status": "ok", "server_time": P.utc_now_text()}

    @app.post(
        prefix + "/enroll",
        status_code=201,
        response_model=P.EnrollResponse,
        tags=["sync"],
        openapi_extra=_body_schema(P.EnrollRequest),
        responses={403: {"model": P.ErrorBody}, 400: {"model": P.ErrorBody}},
    )
    async def enroll(request: Request) -> JSONResponse:
        """Exchange a single-use enrolment code for a device id and token."""
        body = parse_json(await read_body(request, 64 * 1024))
        try:
            parsed = P.EnrollRequest.model_validate(body)
        except ValidationError:
            raise S.SyncError(
                400, P.ERROR_MALFORMED, "enrol needs enrollment_code, kiosk_name, app_version"
            ) from None
        result = await run_in_threadpool(S.enroll, database, parsed)
        return JSONResponse(result | {"server_time": P.utc_now_text()}, status_code=201)

    @app.post(
        prefix + "/sync/push",
        response_model=P.PushResponse,
        tags=["sync"],
        openapi_extra=_body_schema(P.PushRequest),
        responses={code: {"model": P.ErrorBody} for code in (400, 401, 403, 413, 503)},
    )
    async def push(request: Request) -> JSONResponse:
        """Apply a batch of outbox ops; one result per op, in op order."""
        device = await run_in_threadpool(S.authenticate, database, request.headers.get("authorization"))
        body = check_push_envelope(parse_json(await read_body(request)))
        if body["device_id"] != device.id:
            raise S.SyncError(403, P.ERROR_FORBIDDEN, "device_id does not match the token")
        async with request.app.state.sync_gate.admit():
            results = await run_in_threadpool(
                S.push, database, device, body, client_time=client_time(request)
            )
        # A Response as is: FastAPI would otherwise check and re-serialize every result against `response_model`
        # on the event loop (the results are made to that model; tests check them against it).
        return JSONResponse({"results": results, "server_time": P.utc_now_text()})

    @app.get(
        prefix + "/sync/pull",
        response_model=P.PullResponse,
        tags=["sync"],
        responses={code: {"model": P.ErrorBody} for code in (400, 401, 403, 410, 503)},
    )
    async def pull(request: Request, cursor: str | None = None, limit: str | None = None) -> JSONResponse:
        """One page of changes after `cursor` (none: from the start); `limit` 1–1000, default 500."""
        device = await run_in_threadpool(S.authenticate, database, request.headers.get("authorization"))
        size = P.PULL_DEFAULT_LIMIT
        if limit is not None:
            text = limit.strip()
            # ASCII digits only: "²".isdigit() is True but int("²") fails.
            if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= P.PULL_MAX_LIMIT:
                raise S.SyncError(400, P.ERROR_MALFORMED, f"limit must be 1 to {P.PULL_MAX_LIMIT}")
            size = int(text)
        if cursor is not None and len(cursor) > 512:
            raise S.SyncError(410, P.ERROR_CURSOR_EXPIRED, "unknown cursor")
        async with request.app.state.sync_gate.admit():
            page = await run_in_threadpool(
                S.pull, database, device, cursor or None, size, client_time=client_time(request)
            )
        return JSONResponse(
            page | {"server_time": P.utc_now_text()}
        )  # as push: not re-checked on the event loop

    _install_calls_route(app, database)
    _install_ratings_route(app, database)


def _digits(text: str | None, name: str, default: int, top: int) -> int:
    """A query parameter that must be a whole number 0…top (ASCII digits only), else 400."""
    if text is None:
        return default
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 19 or int(text) > top:
        raise S.SyncError(400, P.ERROR_MALFORMED, f"{name} must be a whole number from 0 to {top}")
    return int(text)


CALLS_RECHECK_S = 2.0  # a held request looks at the table itself this often too (see calls.CallBell)


def _install_calls_route(app: FastAPI, database: db.Database) -> None:
    """`GET /v1/calls` (issue 16): the waiting-room calls for this kiosk, held open until there is one."""
    from township import calls as C

    bell = C.CallBell(lambda: C.top_seq(database))
    app.state.call_bell = bell  # the console rings it after a call

    @app.get(
        P.API_PREFIX + "/calls",
        response_model=P.CallsResponse,
        tags=["sync"],
        responses={code: {"model": P.ErrorBody} for code in (400, 401, 403, 503)},
    )
    async def calls(request: Request, after: str | None = None, wait: str | None = None) -> dict[str, Any]:
        """The calls for this kiosk after seq `after` (default 0: the last hour's); when there are none, the
        request is held up to `wait` seconds (0–25, default 0) until one is made."""
        device = await run_in_threadpool(S.authenticate, database, request.headers.get("authorization"))
        since = _digits(after, "after", 0, 2**63 - 1)
        hold = _digits(wait, "wait", 0, P.CALLS_MAX_WAIT)
        deadline = asyncio.get_running_loop().time() + hold
        while True:
            found, last, top = await run_in_threadpool(C.kiosk_calls, database, device.id, since)
            remaining = deadline - asyncio.get_running_loop().time()
            if found or remaining <= 0 or await request.is_disconnected():
                return {"calls": found, "last_seq": last, "server_time": P.utc_now_text()}
            await bell.wait(top, min(remaining, CALLS_RECHECK_S))


def _install_ratings_route(app: FastAPI, database: db.Database) -> None:
    """`POST /v1/ratings/ask` (issue 16): invite a resident to rate a session booked at another kiosk."""
    from cunzhan.identity import check_id_number
    from township import ratings

    @app.post(
        P.API_PREFIX + "/ratings/ask",
        response_model=P.RatingAskResponse,
        tags=["sync"],
        openapi_extra=_body_schema(P.RatingAsk),
        responses={code: {"model": P.ErrorBody} for code in (400, 401, 403, 429, 503)},
    )
    async def ask_rating(request: Request) -> dict[str, Any]:
        """The attended session, booked at another kiosk of the township, that the resident with this ID number has
        not rated: asked once per booking (docs/sync.md, "Rating at any kiosk")."""
        device = await run_in_threadpool(S.authenticate, database, request.headers.get("authorization"))
        body = parse_json(await read_body(request, 4 * 1024))
        try:
            parsed = P.RatingAsk.model_validate(body)
        except ValidationError:
            raise S.SyncError(400, P.ERROR_MALFORMED, "ask needs id_number (18 characters)") from None
        check = check_id_number(parsed.id_number)
        if not check.ok or check.number is None:
            raise S.SyncError(400, P.ERROR_MALFORMED, "id_number is not a valid ID number")
        try:
            found = await run_in_threadpool(ratings.invite, database, device, check.number)
        except ratings.TooManyInvitations:
            raise S.SyncError(
                429, P.ERROR_BUSY, f"at most {ratings.INVITES_PER_HOUR} rating invitations an hour per kiosk"
            ) from None
        return {"invitation": found, "server_time": P.utc_now_text()}


def _body_schema(model: type[Any]) -> dict[str, Any]:
    """OpenAPI request body for endpoints that read the raw body themselves (for gzip and per-op checks)."""
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}},
        }
    }


def _install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            routes=app.routes,
            description="Kiosk ⇄ township sync protocol v1 (docs/sync.md).",
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (P.PushRequest, P.EnrollRequest, P.RatingAsk):
            full = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, sub in full.pop("$defs", {}).items():
                components.setdefault(name, sub)
            components[model.__name__] = full
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]

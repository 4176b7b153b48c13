"""Staff sign-in: argon2 password checks, signed session cookies, CSRF tokens, lock-out after repeated failures.

Sessions are signed cookies (itsdangerous) holding the staff id, a random session id, the CSRF token and two
timestamps; nothing secret is in them and they cannot be forged without the console secret. A session ends after
30 idle minutes or 12 hours in all. Signing out forgets the cookie and remembers its session id as revoked for the
rest of its life, so a copied cookie stops working too (process memory: the backend runs as one process).

Passwords (argon2id) and lock-out (5 wrong passwords in a row lock the account for 15 minutes) are the backend's
`township.services.authenticate_staff`; the lock lives in the `staff_users` row, so it survives restarts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass

from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeSerializer

SESSION_COOKIE = "cz_session"
PRESIGN_COOKIE = "cz_signin_csrf"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 3600

def idle_seconds() -> int:
    """Idle lifetime of a session; `CUNZHAN_CONSOLE_IDLE_SECONDS` shortens it (tests of expiry use it)."""
    raw = os.environ.get("CUNZHAN_CONSOLE_IDLE_SECONDS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else IDLE_SECONDS


def console_secret(database_secret: str) -> str:
    """The key that signs session cookies: `CUNZHAN_CONSOLE_SECRET`, else derived from a random secret the backend
    already keeps in its database (so it survives restarts, is shared by every worker, and needs no extra file)."""
    from_env = os.environ.get("CUNZHAN_CONSOLE_SECRET")
    if from_env:
        return from_env
    return hmac.new(database_secret.encode(), b"cunzhan-console-session-v1", hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """What a signed session cookie says."""

    staff_id: str
    sid: str
    csrf: str
    started: float
    seen: float


class SessionKeeper:
    """Signs and checks session cookies; remembers revoked session ids until they would have expired anyway."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret, salt="cunzhan-console-session")
        self._presign = URLSafeSerializer(secret, salt="cunzhan-console-signin")
        self._revoked: dict[str, float] = {}
        self._lock = threading.Lock()

    def new(self, staff_id: str) -> ConsoleSession:
        now = time.time()
        return ConsoleSession(staff_id, secrets.token_urlsafe(16), secrets.token_urlsafe(24), now, now)

    def read(self, request: Request) -> tuple[ConsoleSession | None, bool]:
        """(session, expired): the valid session, or None and whether a real session had just run out."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None, False
        try:
            data = self._serializer.loads(raw)
            session = ConsoleSession(str(data["u"]), str(data["s"]), str(data["c"]), float(data["t0"]),
                                     float(data["t"]))
        except (BadSignature, KeyError, TypeError, ValueError):
            return None, False
        with self._lock:
            if session.sid in self._revoked:
                return None, False
        now = time.time()
        if now - session.seen > idle_seconds() or now - session.started > ABSOLUTE_SECONDS:
            return None, True
        return session, False

    def touch(self, session: ConsoleSession) -> ConsoleSession:
        return ConsoleSession(session.staff_id, session.sid, session.csrf, session.started, time.time())

    def write(self, request: Request, response: Response, session: ConsoleSession) -> None:
        """Set the (re-signed) cookie: HttpOnly, SameSite=Lax, Secure when the console is served over https."""
        value = self._serializer.dumps({"u": session.staff_id, "s": session.sid, "c": session.csrf,
                                        "t0": session.started, "t": session.seen})
        response.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="lax", path="/console",
                            secure=request.url.scheme == "https", max_age=ABSOLUTE_SECONDS)

    def revoke(self, request: Request, response: Response, session: ConsoleSession | None) -> None:
        if session is not None:
            now = time.time()
            with self._lock:
                self._revoked = {k: v for k, v in self._revoked.items() if v > now}
                self._revoked[session.sid] = session.started + ABSOLUTE_SECONDS
        response.delete_cookie(SESSION_COOKIE, path="/console", httponly=True, samesite="lax",
                               secure=request.url.scheme == "https")

    # The sign-in form has no session yet: its CSRF token is a double-submit cookie, signed so it can't be planted.
    def signin_token(self, request: Request) -> str:
        raw = request.cookies.get(PRESIGN_COOKIE, "")
        try:
            return str(self._presign.loads(raw))
        except BadSignature:
            return secrets.token_urlsafe(24)

    def write_signin_token(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(PRESIGN_COOKIE, self._presign.dumps(token), httponly=True, samesite="lax",
                            path="/console", secure=request.url.scheme == "https", max_age=3600)

    def check_signin_token(self, request: Request, sent: str) -> bool:
        raw = request.cookies.get(PRESIGN_COOKIE, "")
        try:
            expected = str(self._presign.loads(raw))
        except BadSignature:
            return False
        return bool(sent) and hmac.compare_digest(expected, sent)


def csrf_ok(session: ConsoleSession, sent: str | None) -> bool:
    """The form's token equals the session's (constant-time)."""
    return bool(sent) and hmac.compare_digest(session.csrf, sent or "")

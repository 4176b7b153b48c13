"""Staff sign-in: signed session cookies, CSRF tokens, sign-out that lasts.

Sessions are signed cookies (itsdangerous) holding the staff id, the account's session epoch, a random session id,
the CSRF token and two timestamps; nothing secret is in them and they cannot be forged without the console's signing key, which is kept
outside the database (`township.keys`). A session ends after 30 idle minutes or 12 hours in all. Signing out
forgets the cookie and records its session id as revoked in the database (`console_revoked`) for the rest of its
life, so a copied cookie stops working too, in every backend process and after a restart. A password reset or a
disable raises the account's `staff_users.session_epoch`; a cookie signed with an older epoch is refused
(`Console.who` compares them on every request), so every session the account had ends for good, also after it is
enabled again.

Passwords (argon2id), throttling and lock-out are `township.signin`.
"""

from __future__ import annotations

import datetime as dt
import hmac
import os
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from fastapi import Request
from fastapi.responses import Response
from itsdangerous import BadSignature, URLSafeSerializer

from township import db

SESSION_COOKIE = "cz_session"
PRESIGN_COOKIE = "cz_signin_csrf"
IDLE_SECONDS = 30 * 60
ABSOLUTE_SECONDS = 12 * 3600


def idle_seconds() -> int:
    """Idle lifetime of a session; `CUNZHAN_CONSOLE_IDLE_SECONDS` shortens it (tests of expiry use it)."""
    raw = os.environ.get("CUNZHAN_CONSOLE_IDLE_SECONDS", "")
    return int(raw) if raw.isdigit() and int(raw) > 0 else IDLE_SECONDS


@dataclass(frozen=True, slots=True)
class ConsoleSession:
    """What a signed session cookie says."""

    staff_id: str
    epoch: (
        int  # the account's `session_epoch` when the session began; an older one than the account's is void
    )
    sid: str
    csrf: str
    started: float
    seen: float


class SessionKeeper:
    """Signs and checks session cookies; remembers revoked session ids until they would have expired anyway."""

    def __init__(self, secret: str, database: db.Database) -> None:
        self._serializer = URLSafeSerializer(secret, salt="cunzhan-console-session")
        self._presign = URLSafeSerializer(secret, salt="cunzhan-console-signin")
        self._db = database

    def new(self, staff_id: str, epoch: int) -> ConsoleSession:
        now = time.time()
        return ConsoleSession(staff_id, epoch, secrets.token_urlsafe(16), secrets.token_urlsafe(24), now, now)

    def read(self, request: Request) -> tuple[ConsoleSession | None, bool]:
        """(session, expired): the valid session, or None and whether a real session had just run out."""
        raw = request.cookies.get(SESSION_COOKIE)
        if not raw:
            return None, False
        try:
            data = self._serializer.loads(raw)
            session = ConsoleSession(
                str(data["u"]),
                int(data["e"]),  # a cookie without an epoch (older than migration 0011) is no session
                str(data["s"]),
                str(data["c"]),
                float(data["t0"]),
                float(data["t"]),
            )
        except (BadSignature, KeyError, TypeError, ValueError):
            return None, False
        now = time.time()
        if now - session.seen > idle_seconds() or now - session.started > ABSOLUTE_SECONDS:
            return None, True
        with self._db.read() as conn:
            revoked = conn.execute(
                sa.select(db.console_revoked.c.sid).where(db.console_revoked.c.sid == session.sid)
            ).first()
        if revoked is not None:
            return None, False
        return session, False

    def touch(self, session: ConsoleSession) -> ConsoleSession:
        return ConsoleSession(
            session.staff_id, session.epoch, session.sid, session.csrf, session.started, time.time()
        )

    def write(self, request: Request, response: Response, session: ConsoleSession) -> None:
        """Set the (re-signed) cookie: HttpOnly, SameSite=Lax, Secure when the console is served over https."""
        value = self._serializer.dumps(
            {
                "u": session.staff_id,
                "e": session.epoch,
                "s": session.sid,
                "c": session.csrf,
                "t0": session.started,
                "t": session.seen,
            }
        )
        response.set_cookie(
            SESSION_COOKIE,
            value,
            httponly=True,
            samesite="lax",
            path="/console",
            secure=request.url.scheme == "https",
            max_age=ABSOLUTE_SECONDS,
        )

    def revoke(self, request: Request, response: Response, session: ConsoleSession | None) -> None:
        if session is not None:
            now = db.now_utc()
            until = dt.datetime.fromtimestamp(session.started + ABSOLUTE_SECONDS, dt.UTC)
            t = db.console_revoked
            with self._db.write() as conn:
                conn.execute(sa.delete(t).where(t.c.expires_at < db.naive(now)))  # past their life anyway
                if conn.execute(sa.select(t.c.sid).where(t.c.sid == session.sid)).first() is None:
                    conn.execute(sa.insert(t).values(sid=session.sid, expires_at=db.naive(until)))
        response.delete_cookie(
            SESSION_COOKIE,
            path="/console",
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )

    # The sign-in form has no session yet: its CSRF token is a double-submit cookie, signed so it can't be planted.
    def signin_token(self, request: Request) -> str:
        raw = request.cookies.get(PRESIGN_COOKIE, "")
        try:
            return str(self._presign.loads(raw))
        except BadSignature:
            return secrets.token_urlsafe(24)

    def write_signin_token(self, request: Request, response: Response, token: str) -> None:
        response.set_cookie(
            PRESIGN_COOKIE,
            self._presign.dumps(token),
            httponly=True,
            samesite="lax",
            path="/console",
            secure=request.url.scheme == "https",
            max_age=3600,
        )

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

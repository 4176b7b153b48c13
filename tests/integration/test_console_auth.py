"""Console sign-in against a real backend (uvicorn on 127.0.0.1), on SQLite and PostgreSQL: right and wrong
passwords, lock-out, session cookies, sign-out, expired sessions, CSRF on every form, Chinese by default."""

from __future__ import annotations

import time
from typing import Any

import pytest
import sqlalchemy as sa

from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient, booking_op
from township import db


@pytest.fixture(scope="module")
def staffed(any_backend: Any) -> Any:
    """The backend with an admin and a reviewer."""
    any_backend.create_staff("amei", "admin", STAFF_PASSWORD)
    any_backend.create_staff("xiaoli", "reviewer", STAFF_PASSWORD)
    return any_backend


def test_sign_in_sets_a_safe_session_cookie(staffed: Any) -> None:
    client = ConsoleClient(staffed.url)
    response = client.sign_in("amei")
    assert response.status_code == 200
    assert response.url.endswith("/console/")
    assert "amei" in response.text and "Administrator" in response.text
    set_cookie = response.history[0].headers["set-cookie"]
    assert "cz_session=" in set_cookie
    assert "HttpOnly" in set_cookie
    assert "SameSite=lax" in set_cookie or "samesite=lax" in set_cookie.lower()
    assert "Path=/console" in set_cookie
    assert "Secure" not in set_cookie  # plain http on loopback; https adds Secure
    # The password never appears in any page or cookie.
    assert STAFF_PASSWORD not in response.text and STAFF_PASSWORD not in set_cookie


def test_wrong_password_is_refused_with_a_clear_message(staffed: Any) -> None:
    client = ConsoleClient(staffed.url)
    response = client.sign_in("amei", "not-the-password")
    assert response.status_code == 401
    assert "The username or password is wrong" in response.text
    assert "cz_session" not in client.http.cookies
    # An unknown user gets exactly the same answer (no probing for user names).
    other = ConsoleClient(staffed.url).sign_in("nobody-here", "whatever-1")
    assert other.status_code == 401
    assert "The username or password is wrong" in other.text
    # And pages stay closed.
    page = client.get("/console/review")
    assert "/console/signin" in page.url


def test_five_wrong_passwords_lock_the_account(staffed: Any) -> None:
    staffed.create_staff("lockme", "reviewer", STAFF_PASSWORD)
    client = ConsoleClient(staffed.url)
    for _ in range(4):
        assert client.sign_in("lockme", "wrong-password").status_code == 401
    fifth = client.sign_in("lockme", "wrong-password")  # the fifth wrong password locks, and says so
    assert fifth.status_code == 429
    assert "This account is locked for 15 more minutes" in fifth.text
    locked = client.sign_in("lockme", STAFF_PASSWORD)  # even the right password now waits
    assert locked.status_code == 429
    assert "This account is locked for" in locked.text
    assert "cz_session" not in client.http.cookies
    assert 14 * 60 <= int(locked.headers["Retry-After"]) <= 15 * 60  # says when to try again
    with staffed.database.read() as conn:
        until = conn.execute(sa.select(sa.func.max(db.signin_throttle.c.locked_until))).scalar_one()
        actions = [
            r.action
            for r in conn.execute(
                sa.select(db.staff_audit.c.action).where(db.staff_audit.c.target == "lockme")
            )
        ]
    assert until is not None and db.utc(until) > db.now_utc()  # in the database: every process, restarts
    assert "login_locked" in actions
    # Other accounts are not affected.
    assert ConsoleClient(staffed.url).sign_in("xiaoli").status_code == 200


def test_sign_out_ends_the_session_even_for_a_copied_cookie(staffed: Any) -> None:
    client = ConsoleClient(staffed.url)
    client.sign_in("xiaoli")
    copied = client.http.cookies.get("cz_session", path="/console")
    assert copied
    out = client.post("/console/signout")
    assert out.status_code == 200 and "/console/signin" in out.url
    assert "You have signed out" in out.text
    thief = ConsoleClient(staffed.url)
    thief.http.cookies.set("cz_session", copied, path="/console")
    page = thief.get("/console/review")
    assert "/console/signin" in page.url
    assert "Review queue" not in page.text


def test_expired_session_goes_back_to_sign_in_with_a_message(
    staffed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = ConsoleClient(staffed.url)
    client.sign_in("xiaoli")
    monkeypatch.setenv("CUNZHAN_CONSOLE_IDLE_SECONDS", "1")  # the backend runs in this process
    time.sleep(2.2)
    page = client.get("/console/review")
    assert "/console/signin" in page.url
    assert "Your session has ended" in page.text
    # The page the person wanted is kept, so signing in again takes them back there.
    assert 'name="next" value="/console/review"' in page.text


def test_a_form_after_expiry_changes_nothing(staffed: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    session_id = staffed.new_session(capacity=4, review=True)
    kiosk = staffed.enroll("过期测试")
    result = kiosk.push_ok([booking_op(session_id, device_seq=kiosk.next_seq(), code="EXP0001")])[0]
    booking_id = result["booking"]["id"]
    client = ConsoleClient(staffed.url)
    client.sign_in("xiaoli")
    client.get(f"/console/bookings/{booking_id}")
    monkeypatch.setenv("CUNZHAN_CONSOLE_IDLE_SECONDS", "1")
    time.sleep(2.2)
    response = client.post(f"/console/bookings/{booking_id}/confirm")
    assert "/console/signin" in response.url
    assert "Your session has ended" in response.text
    with staffed.database.read() as conn:
        status = conn.execute(
            sa.select(db.bookings.c.status).where(db.bookings.c.id == booking_id)
        ).scalar_one()
    assert status == "pending_review"


def test_every_form_needs_its_csrf_token(staffed: Any) -> None:
    session_id = staffed.new_session(capacity=4, review=True)
    kiosk = staffed.enroll("CSRF 测试")
    result = kiosk.push_ok([booking_op(session_id, device_seq=kiosk.next_seq(), code="CSRF001")])[0]
    booking_id = result["booking"]["id"]
    client = ConsoleClient(staffed.url)
    client.sign_in("amei")
    client.get(f"/console/bookings/{booking_id}")
    forms: list[tuple[str, dict[str, str]]] = [
        (f"/console/bookings/{booking_id}/confirm", {}),
        (f"/console/bookings/{booking_id}/reject", {"reason": "x"}),
        (f"/console/bookings/{booking_id}/reveal", {}),
        (f"/console/sessions/{session_id}/cancel", {"reason": "x"}),
        ("/console/kiosks/code", {}),
        ("/console/holidays", {"day": "2031-01-01", "name": "元旦"}),
        ("/console/services", {"name": "新服务", "kind": "clinic"}),
        ("/console/signout", {}),
    ]
    for path, data in forms:
        for token in ("", "forged-token"):
            response = client.post(path, data, csrf=token)
            assert response.status_code == 403, (path, token)
            assert "This form could not be accepted" in response.text
            assert "nothing was changed" in response.text
    with staffed.database.read() as conn:
        status = conn.execute(
            sa.select(db.bookings.c.status).where(db.bookings.c.id == booking_id)
        ).scalar_one()
        session_status = conn.execute(
            sa.select(db.sessions.c.status).where(db.sessions.c.id == session_id)
        ).scalar_one()
        holidays = conn.execute(sa.select(sa.func.count()).select_from(db.holidays)).scalar_one()
        reveals = conn.execute(
            sa.select(sa.func.count())
            .select_from(db.staff_audit)
            .where(db.staff_audit.c.action == "reveal_numbers")
        ).scalar_one()
    assert (status, session_status, holidays, reveals) == ("pending_review", "open", 0, 0)
    # Still signed in (the failed sign-out did not sign out), and the real token works.
    assert client.post(f"/console/bookings/{booking_id}/confirm").status_code == 200
    # The sign-in form is protected too.
    fresh = ConsoleClient(staffed.url)
    refused = fresh.http.post(
        staffed.url + "/console/signin", timeout=30, data={"username": "amei", "password": STAFF_PASSWORD}
    )
    assert refused.status_code == 403
    assert "cz_session" not in fresh.http.cookies


def test_chinese_by_default_and_english_on_request(staffed: Any) -> None:
    import requests

    page = requests.get(staffed.url + "/console/signin", timeout=30)
    assert "员工登录" in page.text and 'lang="zh-CN"' in page.text
    client = ConsoleClient(staffed.url, lang="zh_CN")
    client.sign_in("amei")
    switched = client.get("/console/lang/en?next=/console/review")
    assert switched.url.endswith("/console/review")
    assert "Review queue" in switched.text and 'lang="en"' in switched.text
    # A switch never redirects off the console.
    outside = client.http.get(
        staffed.url + "/console/lang/en?next=https://evil.example/", timeout=30, allow_redirects=False
    )
    assert outside.headers["location"] == "/console/"


def test_cookie_is_secure_when_served_over_https(staffed: Any) -> None:
    import requests

    from tests.browser.console_client import csrf_of

    # Behind the hall's TLS proxy on this machine: uvicorn trusts X-Forwarded-Proto from 127.0.0.1. (requests would
    # not send Secure cookies back over plain http, so they are carried by hand here.)
    https = {"X-Forwarded-Proto": "https"}
    form = requests.get(staffed.url + "/console/signin", headers=https, timeout=30)
    assert "Secure" in form.headers["set-cookie"]
    presign = form.headers["set-cookie"].split(";", 1)[0]
    signed_in = requests.post(
        staffed.url + "/console/signin",
        timeout=30,
        allow_redirects=False,
        headers={**https, "Cookie": presign},
        data={"username": "amei", "password": STAFF_PASSWORD, "csrf_token": csrf_of(form.text)},
    )
    assert signed_in.status_code == 303
    cookie = signed_in.headers["set-cookie"]
    assert cookie.startswith("cz_session=") and "Secure" in cookie and "HttpOnly" in cookie


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_each_township_sees_only_its_own(start_backend: Any, kind: str) -> None:
    from township import services

    backend = start_backend(kind)
    services.create_township(backend.database, "baiyun", "白云镇")
    backend.create_staff("qingshan-admin", "admin", STAFF_PASSWORD, township="demo")
    backend.create_staff("baiyun-admin", "admin", STAFF_PASSWORD, township="baiyun")
    session_id = backend.new_session(capacity=3, review=True)
    kiosk = backend.enroll("青山终端")
    booking_id = kiosk.push_ok([booking_op(session_id, device_seq=kiosk.next_seq(), code="TOWN0001")])[0][
        "booking"
    ]["id"]
    # With two townships the sign-in form asks which one; the same name in another township is another account.
    import requests

    assert 'name="township"' in requests.get(backend.url + "/console/signin", timeout=30).text
    wrong_town = ConsoleClient(backend.url).sign_in("qingshan-admin", township="baiyun")
    assert wrong_town.status_code == 401
    other = ConsoleClient(backend.url)
    assert other.sign_in("baiyun-admin", township="baiyun").status_code == 200
    assert other.get(f"/console/bookings/{booking_id}").status_code == 404
    assert other.get(f"/console/sessions/{session_id}").status_code == 404
    assert "TOWN0001" not in other.get("/console/review").text
    other.get("/console/review")
    assert other.post(f"/console/bookings/{booking_id}/confirm").status_code == 409
    assert other.post(f"/console/bookings/{booking_id}/reveal").status_code == 404
    with backend.database.read() as conn:
        status = conn.execute(
            sa.select(db.bookings.c.status).where(db.bookings.c.id == booking_id)
        ).scalar_one()
        reveals = conn.execute(
            sa.select(sa.func.count())
            .select_from(db.staff_audit)
            .where(db.staff_audit.c.action == "reveal_numbers")
        ).scalar_one()
    assert (status, reveals) == ("pending_review", 0)
    home = ConsoleClient(backend.url)
    assert home.sign_in("qingshan-admin", township="demo").status_code == 200
    assert f"booking-{booking_id}" in home.get("/console/review").text


def test_the_audit_page_is_for_administrators(staffed: Any) -> None:
    admin = ConsoleClient(staffed.url)
    admin.sign_in("amei")
    page = admin.get("/console/audit")
    assert page.status_code == 200 and "Staff actions" in page.text
    assert "Wrong password at sign-in" in page.text  # from the wrong-password test above
    reviewer = ConsoleClient(staffed.url)
    reviewer.sign_in("xiaoli")
    refused = reviewer.get("/console/audit")
    assert refused.status_code == 403 and "Your account is a reviewer account" in refused.text


def test_the_backend_address_alone_opens_the_console(staffed: Any) -> None:
    import requests

    first = requests.get(staffed.url + "/", allow_redirects=False, timeout=10)
    assert first.status_code == 307 and first.headers["location"] == "/console/"
    followed = requests.get(staffed.url + "/", timeout=10)  # signed out: on to the sign-in page, in Chinese
    assert followed.status_code == 200 and followed.url.endswith("/console/signin?next=%2Fconsole%2F")
    assert "登录" in followed.text

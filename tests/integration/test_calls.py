"""The waiting-room call (#16), backend side, on SQLite and PostgreSQL: queue numbers at check-in, the kiosk's
`call`/`announce` op, the console's calls and the `GET /v1/calls` long-poll that brings them to the right kiosk."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient
from tests.integration.conftest import Backend, Enrolled, op
from township import calls as C
from township import db
from township.services import (
    ADMIN,
    PROVIDER,
    REVIEWER,
    ServiceError,
    StaffUser,
    create_staff,
    revoke_device,
)


def _staff(backend: Backend, role: str = ADMIN, provider_id: str | None = None) -> StaffUser:
    """A console staff member: a real provider account when `provider_id` is given (a provider account without a
    provider cannot exist in the database, so that case is a reviewer row seen through the provider role)."""
    name = f"s{uuid.uuid4().hex[:8]}"
    if role == PROVIDER and provider_id:
        staff_id = create_staff(
            backend.database, "demo", name, PROVIDER, STAFF_PASSWORD, provider_id=provider_id
        )
    else:
        staff_id = backend.create_staff(name, ADMIN if role == ADMIN else REVIEWER)
    return StaffUser(staff_id, backend.township_id(), "demo", name, role, provider_id)


def _checked_in(kiosk: Enrolled, session_id: str, number: int | None) -> str:
    """Book a fresh resident on `session_id` at `kiosk` and check them in with queue number `number`."""
    booking = kiosk.book(session_id)
    assert booking["outcome"] == "applied", booking
    booking_id = booking["booking"]["id"]
    payload = {} if number is None else {"queue_number": number}
    result = kiosk.push_ok([op("booking", "check_in", booking_id, payload, device_seq=kiosk.next_seq())])[0]
    assert result["outcome"] == "applied", result
    return str(booking_id)


def _announce(
    kiosk: Enrolled, booking_id: str, session_id: str, number: int, action: str = "call"
) -> dict[str, Any]:
    payload = {
        "session_id": session_id,
        "queue_number": number,
        "action": action,
        "at": "2026-12-03T05:00:00+00:00",
    }
    return op("call", "announce", booking_id, payload, device_seq=kiosk.next_seq())


def _poll(kiosk: Enrolled, **params: Any) -> requests.Response:
    return requests.get(kiosk.backend.url + "/v1/calls", headers=kiosk.headers, params=params, timeout=60)


def _provider_of(backend: Backend, session_id: str) -> str:
    with backend.database.read() as conn:
        return str(
            conn.execute(
                sa.select(db.sessions.c.provider_id).where(db.sessions.c.id == session_id)
            ).scalar_one()
        )


def test_calls_endpoint_refuses_bad_tokens_and_parameters(any_backend: Backend) -> None:
    kiosk = any_backend.enroll("参数")
    url = any_backend.url + "/v1/calls"
    assert requests.get(url, timeout=10).status_code == 401
    assert requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10).status_code == 401
    for params in (
        {"after": "-1"},
        {"after": "abc"},
        {"after": "²"},
        {"after": "9" * 40},
        {"after": "1.5"},
        {"wait": "26"},
        {"wait": "-3"},
        {"wait": "soon"},
        {"wait": ""},
    ):
        response = _poll(kiosk, **params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["error"] == "malformed"
    ok = _poll(kiosk, after="0", wait="0")
    assert ok.status_code == 200, ok.text
    assert ok.json()["calls"] == [] and ok.json()["last_seq"] == 0
    revoked = any_backend.enroll("撤销")
    revoke_device(any_backend.database, revoked.device_id, staff_id=None)
    assert _poll(revoked, wait="5").status_code == 403


def test_check_in_keeps_the_queue_number_and_replays(any_backend: Backend) -> None:
    kiosk = any_backend.enroll("排号")
    session_id = any_backend.new_session(capacity=5)
    booking = kiosk.book(session_id)["booking"]
    check_in = op("booking", "check_in", booking["id"], {"queue_number": 7}, device_seq=kiosk.next_seq())
    first = kiosk.push_ok([check_in])[0]
    again = kiosk.push_ok([check_in])[0]
    assert first["outcome"] == "applied" and again["replayed"] is True
    other = op("booking", "check_in", booking["id"], {"queue_number": 9}, device_seq=kiosk.next_seq())
    assert kiosk.push_ok([other])[0]["outcome"] == "applied"  # already checked in: the first number stays
    bad = op("booking", "check_in", booking["id"], {"queue_number": 0}, device_seq=kiosk.next_seq())
    assert kiosk.push_ok([bad])[0]["reason"] == "invalid"
    with any_backend.database.read() as conn:
        number = conn.execute(sa.select(db.bookings.c.queue_number).where(db.bookings.c.id == booking["id"]))
        assert number.scalar_one() == 7


def test_console_calls_in_queue_order_reach_only_the_addressed_kiosk(any_backend: Backend) -> None:
    village_a, village_b = any_backend.enroll("甲村"), any_backend.enroll("乙村")
    session_id = any_backend.new_session(capacity=10)
    a1 = _checked_in(village_a, session_id, 1)
    a2 = _checked_in(village_a, session_id, 2)
    b1 = _checked_in(village_b, session_id, 1)
    old = _checked_in(village_b, session_id, None)  # a kiosk from before queue numbers: not called by number
    staff = _staff(any_backend)
    order = [C.call_next(any_backend.database, staff, session_id).booking_id for _ in range(3)]
    assert order == [a1, b1, a2]  # every village's No. 1 (lower kiosk number first), then the No. 2s
    with pytest.raises(ServiceError) as nobody:
        C.call_next(any_backend.database, staff, session_id)
    assert nobody.value.code == "status"
    with pytest.raises(ServiceError):
        C.recall(any_backend.database, staff, old)

    got_a = _poll(village_a, after="0").json()
    got_b = _poll(village_b, after="0").json()
    assert [(c["booking_id"], c["queue_number"], c["action"]) for c in got_a["calls"]] == [
        (a1, 1, "call"),
        (a2, 2, "call"),
    ]
    assert [c["booking_id"] for c in got_b["calls"]] == [b1]
    assert got_a["last_seq"] == got_a["calls"][-1]["seq"]
    assert _poll(village_a, after=str(got_a["last_seq"])).json()["calls"] == []
    with any_backend.database.read() as conn:
        actions = conn.execute(
            sa.select(db.staff_audit.c.action).where(db.staff_audit.c.staff_id == staff.id)
        ).scalars()
        assert sorted(actions) == ["resident_called"] * 3


def test_long_poll_returns_when_a_call_is_made_elsewhere(
    any_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Only the bell may wake the held request (not its fallback re-check), so that this fails if the bell does not.
    monkeypatch.setattr("township.app.CALLS_RECHECK_S", 60.0)
    kiosk = any_backend.enroll("候诊")
    session_id = any_backend.new_session(capacity=5)
    booking_id = _checked_in(kiosk, session_id, 3)
    after = _poll(kiosk).json()["last_seq"]
    got: dict[str, Any] = {}

    def hold() -> None:
        started = time.monotonic()
        got["response"] = _poll(kiosk, after=str(after), wait="20")
        got["waited"] = time.monotonic() - started

    waiter = threading.Thread(target=hold)
    waiter.start()
    time.sleep(1.0)
    assert waiter.is_alive()  # held: nothing to say yet
    # Made through another engine (as another `serve --workers` process would): nothing rings this process's bell.
    made = time.monotonic()
    C.call_next(any_backend.database, _staff(any_backend), session_id)
    waiter.join(timeout=15)
    delay = time.monotonic() - made
    body = got["response"].json()
    assert [(c["booking_id"], c["queue_number"]) for c in body["calls"]] == [(booking_id, 3)]
    assert delay < 3, delay  # the bell looks every 0.25 s
    assert 1.0 <= got["waited"] < 10


def test_long_poll_gives_up_after_wait(backend: Backend) -> None:
    kiosk = backend.enroll("空等")
    started = time.monotonic()
    response = _poll(kiosk, wait="1")
    assert response.status_code == 200 and response.json()["calls"] == []
    assert 0.9 <= time.monotonic() - started < 5


def test_kiosk_call_op_is_recorded_once_and_not_sent_back(any_backend: Backend) -> None:
    kiosk, other = any_backend.enroll("自叫"), any_backend.enroll("别村")
    session_id = any_backend.new_session(capacity=5)
    booking_id = _checked_in(kiosk, session_id, 4)
    not_in = kiosk.book(session_id)["booking"]["id"]
    call = _announce(kiosk, booking_id, session_id, 4)
    first, replay = kiosk.push_ok([call, call])
    assert first["outcome"] == "applied" and replay["replayed"] is True
    assert kiosk.push_ok([call])[0]["replayed"] is True
    refused = kiosk.push_ok([_announce(kiosk, not_in, session_id, 5)])[0]
    assert refused["outcome"] == "rejected" and refused["reason"] == "invalid"
    assert other.push_ok([_announce(other, booking_id, session_id, 4)])[0]["reason"] == "not_found"
    wrong_session = kiosk.push_ok([_announce(kiosk, booking_id, str(uuid.uuid4()), 4)])[0]
    assert wrong_session["reason"] == "not_found"
    junk = _announce(kiosk, booking_id, session_id, 4, action="shout")
    assert kiosk.push_ok([junk])[0]["reason"] == "invalid"
    with any_backend.database.read() as conn:
        rows = conn.execute(sa.select(db.calls).where(db.calls.c.booking_id == booking_id)).all()
        assert [(r.action, r.source, r.device_id, r.queue_number) for r in rows] == [
            ("call", "kiosk", kiosk.device_id, 4)
        ]
        state = {r["id"]: r["state"] for r in C.roster(conn, session_id)}
    assert state[booking_id] == C.CALLED and state[not_in] == "confirmed"
    own = _poll(kiosk, after="0").json()
    assert own["calls"] == [] and own["last_seq"] == 0  # already shown there; its seq orders nothing


def test_console_roster_actions_and_the_provider_filter(any_backend: Backend) -> None:
    kiosk = any_backend.enroll("诊室")
    session_id = any_backend.new_session(capacity=10)
    other_session = any_backend.new_session(capacity=10)
    first = _checked_in(kiosk, session_id, 1)
    second = _checked_in(kiosk, session_id, 2)
    third = _checked_in(kiosk, session_id, 3)
    elsewhere = _checked_in(kiosk, other_session, 1)
    doctor = _staff(any_backend, PROVIDER, _provider_of(any_backend, session_id))
    database = any_backend.database

    assert C.call_next(database, doctor, session_id).booking_id == first
    C.skip(database, doctor, first)  # 过号: next passes over them
    assert C.call_next(database, doctor, session_id).booking_id == second
    C.mark_seen(database, doctor, second, attended=True)
    C.recall(database, doctor, first)  # back after all
    C.mark_seen(database, doctor, third, attended=False)
    with database.read() as conn:
        state = {r["id"]: r["state"] for r in C.roster(conn, session_id)}
        kinds = [r.action for r in conn.execute(sa.select(db.calls).where(db.calls.c.booking_id == first))]
    assert state == {first: C.CALLED, second: "attended", third: "no_show"}
    assert kinds == ["call", "skip", "recall"]
    calls = _poll(kiosk, after="0").json()["calls"]
    assert [(c["queue_number"], c["action"]) for c in calls] == [
        (1, "call"),
        (1, "skip"),
        (2, "call"),
        (1, "recall"),
    ]

    # A provider sees and calls only their own sessions; another township's staff nothing.
    for action in (
        lambda: C.call_next(database, doctor, other_session),
        lambda: C.recall(database, doctor, elsewhere),
        lambda: C.mark_seen(database, doctor, elsewhere, attended=True),
    ):
        with pytest.raises(ServiceError) as refused:
            action()
        assert refused.value.code == "not_found"
    no_provider = _staff(any_backend, PROVIDER, None)
    with pytest.raises(ServiceError):
        C.call_next(database, no_provider, session_id)
    admin = _staff(any_backend)
    assert C.call_next(database, admin, other_session).booking_id == elsewhere


def _local_day(backend: Backend, session_id: str) -> str:
    from cunzhan.demo import ZONE

    with backend.database.read() as conn:
        starts = conn.execute(
            sa.select(db.sessions.c.starts_at).where(db.sessions.c.id == session_id)
        ).scalar_one()
    return str(db.utc(starts).astimezone(ZONE).date().isoformat())


def test_console_roster_page_calls_and_marks(any_backend: Backend) -> None:
    kiosk = any_backend.enroll("控制台")
    session_id = any_backend.new_session(capacity=10)
    first = _checked_in(kiosk, session_id, 1)
    second = _checked_in(kiosk, session_id, 2)
    confirmed = kiosk.book(session_id)["booking"]["id"]
    day = _local_day(any_backend, session_id)
    name = f"r{uuid.uuid4().hex[:8]}"
    any_backend.create_staff(name, REVIEWER, STAFF_PASSWORD)
    staff = ConsoleClient(any_backend.url)
    assert staff.sign_in(name).status_code == 200

    page = staff.get(f"/console/roster?day={day}")
    assert page.status_code == 200, page.text
    html = page.text
    assert f'id="session-{session_id}"' in html and f'id="booking-{confirmed}"' in html
    assert "测***" in html and "测试居民" not in html  # names masked
    assert "**********" not in html and "1101" not in html  # no ID numbers (nor their masks), no phones
    assert (
        html.index(f"booking-{first}") < html.index(f"booking-{second}") < html.index(f"booking-{confirmed}")
    )

    refused = staff.post(f"/console/roster/sessions/{session_id}/next", {"day": day}, csrf="")
    assert refused.status_code == 403
    assert _poll(kiosk).json()["calls"] == []

    called = staff.post(f"/console/roster/sessions/{session_id}/next", {"day": day})
    assert called.status_code == 200 and "Number 1 called" in called.text, called.text
    assert [(c["booking_id"], c["action"]) for c in _poll(kiosk).json()["calls"]] == [(first, "call")]
    for action in ("skip", "recall", "seen"):
        response = staff.post(
            f"/console/roster/bookings/{first}/{action}", {"day": day, "session_id": session_id}
        )
        assert response.status_code == 200, (action, response.text)
    absent = staff.post(
        f"/console/roster/bookings/{confirmed}/absent", {"day": day, "session_id": session_id}
    )
    assert absent.status_code == 200
    assert staff.post(f"/console/roster/bookings/{second}/shout", {"day": day}).status_code == 404
    assert staff.post(f"/console/roster/bookings/{uuid.uuid4()!s}/recall", {"day": day}).status_code == 409
    with any_backend.database.read() as conn:
        status = dict(
            conn.execute(
                sa.select(db.bookings.c.id, db.bookings.c.status).where(
                    db.bookings.c.session_id == session_id
                )
            ).all()
        )
    assert status == {first: "attended", second: "checked_in", confirmed: "no_show"}
    assert [c["action"] for c in _poll(kiosk).json()["calls"]] == ["call", "skip", "recall"]
    assert staff.get("/console/roster?day=not-a-day").status_code == 200


def test_roster_sessions_of_a_provider_are_their_own(any_backend: Backend) -> None:
    mine = any_backend.new_session(capacity=3)
    theirs = any_backend.new_session(capacity=3)
    provider = _provider_of(any_backend, mine)
    start, end = db.naive(db.now_utc()), db.naive(db.now_utc() + dt.timedelta(days=30))
    doctor = _staff(any_backend, PROVIDER, provider)
    with any_backend.database.read() as conn:
        seen_by_doctor = {s["id"] for s in C.roster_sessions(conn, doctor, start, end)}
        seen_by_admin = {s["id"] for s in C.roster_sessions(conn, _staff(any_backend), start, end)}
        seen_by_none = C.roster_sessions(conn, _staff(any_backend, PROVIDER, None), start, end)
    assert mine in seen_by_doctor and theirs not in seen_by_doctor
    assert {mine, theirs} <= seen_by_admin
    assert seen_by_none == []


def test_the_room_link_is_checked_stored_and_sent_to_kiosks(any_backend: Backend) -> None:
    """The remote room's link is the session's `video_url` (#16): up to the column's 500 characters, https:// or
    http://; anything else is a form error naming the field, never a 500."""
    from cunzhan.demo import ZONE
    from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient

    kiosk = any_backend.enroll("房间")
    kiosk.pull_all()
    template = any_backend.new_session(capacity=3)
    with any_backend.database.read() as conn:
        row = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == template)).one()
    name = f"a{uuid.uuid4().hex[:8]}"
    any_backend.create_staff(name, ADMIN, STAFF_PASSWORD)
    admin = ConsoleClient(any_backend.url)
    assert admin.sign_in(name).status_code == 200
    admin.get("/console/sessions/new")
    form = {
        "service_id": row.service_id,
        "provider_id": row.provider_id,
        "day": (dt.datetime.now(ZONE).date() + dt.timedelta(days=20)).isoformat(),
        "start": "09:00",
        "minutes": "30",
        "capacity": "4",
        "room": "远程诊室二",
        "repeat_weeks": "1",
    }
    longest = "https://meet.example/" + "a" * (500 - len("https://meet.example/"))
    for bad, message in (
        (longest + "b", "at most 500 characters"),
        ("ftp://meet.example/x", "must start with https://"),
        ("https://meet.example/a b", "must start with https://"),
    ):
        response = admin.post("/console/sessions", {**form, "video_url": bad})
        assert response.status_code == 400 and message in response.text, (bad, response.status_code)
    made = admin.post("/console/sessions", {**form, "video_url": longest})
    assert made.status_code == 200, made.text
    session_id = made.url.split("?")[0].rstrip("/").split("/")[-1]
    sent = [c for c in kiosk.pull_all() if c["entity"] == "session" and c["entity_id"] == session_id]
    assert sent and sent[-1]["data"]["video_url"] == longest and sent[-1]["data"]["room"] == "远程诊室二"


def test_a_provider_signs_in_to_their_own_roster_and_calls_only_there(any_backend: Backend) -> None:
    """A real provider account (#18 levels) in the console: starts on the roster, sees and calls its own sessions;
    another provider's session is refused and nothing is called there."""
    kiosk = any_backend.enroll("医生")
    mine = any_backend.new_session(capacity=5)
    theirs = any_backend.new_session(capacity=5)
    assert _provider_of(any_backend, mine) != _provider_of(any_backend, theirs)
    own = _checked_in(kiosk, mine, 1)
    _checked_in(kiosk, theirs, 1)
    doctor = _staff(any_backend, PROVIDER, _provider_of(any_backend, mine))
    client = ConsoleClient(any_backend.url)
    signed = client.sign_in(doctor.username)
    assert signed.history and signed.history[0].headers["location"] == "/console/roster"
    page = client.get(f"/console/roster?day={_local_day(any_backend, mine)}")
    assert page.status_code == 200
    assert f'id="session-{mine}"' in page.text and f'id="session-{theirs}"' not in page.text
    assert client.get("/console/review").status_code == 403
    refused = client.post(f"/console/roster/sessions/{theirs}/next", {"day": _local_day(any_backend, theirs)})
    assert refused.status_code in (403, 404, 409)
    assert _poll(kiosk).json()["calls"] == []
    called = client.post(f"/console/roster/sessions/{mine}/next", {"day": _local_day(any_backend, mine)})
    assert called.status_code == 200, called.text
    assert [c["booking_id"] for c in _poll(kiosk).json()["calls"]] == [own]
    seen = client.post(
        f"/console/roster/bookings/{own}/seen", {"day": _local_day(any_backend, mine), "session_id": mine}
    )
    assert seen.status_code == 200
    with any_backend.database.read() as conn:
        status = conn.execute(sa.select(db.bookings.c.status).where(db.bookings.c.id == own)).scalar_one()
    assert status == "attended"

"""Console actions and their refusals against a real backend, on SQLite and PostgreSQL: reviewers refused admin
actions, capacity below the booked count, overlapping sessions, HTML in names, masking and audited reveal, review
decisions reaching the kiosk through the change log, enrolment codes and revocation, weekly repeats and holidays,
cancelling a session, reports."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa

from cunzhan.demo import ZONE
from tests.browser.console_client import STAFF_PASSWORD, ConsoleClient, booking_op, id_number
from township import db


@pytest.fixture(scope="module")
def staffed(any_backend: Any) -> Any:
    any_backend.create_staff("guanli", "admin", STAFF_PASSWORD)
    any_backend.create_staff("shenhe", "reviewer", STAFF_PASSWORD)
    return any_backend


@pytest.fixture
def admin(staffed: Any) -> ConsoleClient:
    client = ConsoleClient(staffed.url)
    assert client.sign_in("guanli").status_code == 200
    return client


@pytest.fixture
def reviewer(staffed: Any) -> ConsoleClient:
    client = ConsoleClient(staffed.url)
    assert client.sign_in("shenhe").status_code == 200
    return client


def _one(backend: Any, query: sa.Select[Any]) -> Any:
    with backend.database.read() as conn:
        return conn.execute(query).scalar_one()


def _session_row(backend: Any, session_id: str) -> Any:
    with backend.database.read() as conn:
        return conn.execute(sa.select(db.sessions).where(db.sessions.c.id == session_id)).one()


def _session_in(url: str) -> str:
    """The session id of a `/console/sessions/<id>?done=…` address."""
    return urlsplit(url).path.rstrip("/").split("/")[-1]


def _future_day(days: int) -> str:
    return (dt.datetime.now(ZONE).date() + dt.timedelta(days=days)).isoformat()


def _count_sessions(backend: Any) -> int:
    return int(_one(backend, sa.select(sa.func.count()).select_from(db.sessions)))


def _ids(backend: Any, session_id: str) -> tuple[str, str]:
    row = _session_row(backend, session_id)
    return row.service_id, row.provider_id


def test_reviewer_is_refused_every_admin_action(staffed: Any, reviewer: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=3)
    kiosk = staffed.enroll("审核员测试")
    service_id, provider_id = _ids(staffed, session_id)
    before = _count_sessions(staffed)
    reviewer.get("/console/schedule")
    for path in ("/console/sessions/new", f"/console/sessions/{session_id}/edit"):
        page = reviewer.get(path)
        assert page.status_code == 403, path
        assert "Only an administrator can do this" in page.text
    refused: list[tuple[str, dict[str, str]]] = [
        (
            "/console/sessions",
            {
                "service_id": service_id,
                "provider_id": provider_id,
                "day": _future_day(9),
                "start": "10:00",
                "minutes": "30",
                "capacity": "5",
                "repeat_weeks": "1",
            },
        ),
        (
            f"/console/sessions/{session_id}/edit",
            {"day": _future_day(9), "start": "10:00", "minutes": "30", "capacity": "9"},
        ),
        (f"/console/sessions/{session_id}/cancel", {"reason": "医生出差"}),
        ("/console/services", {"name": "审核员加的服务", "kind": "clinic"}),
        ("/console/providers", {"name": "审核员加的医生"}),
        ("/console/holidays", {"day": _future_day(40), "name": "假日"}),
        ("/console/kiosks/code", {}),
        (f"/console/kiosks/{kiosk.device_id}/revoke", {}),
    ]
    for path, data in refused:
        response = reviewer.post(path, data)
        assert response.status_code == 403, path
        assert "Your account is a reviewer account" in response.text, path
    row = _session_row(staffed, session_id)
    assert (row.status, row.capacity) == ("open", 3)
    assert _count_sessions(staffed) == before
    with staffed.database.read() as conn:
        assert (
            conn.execute(
                sa.select(db.devices.c.revoked_at).where(db.devices.c.id == kiosk.device_id)
            ).scalar_one()
            is None
        )
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(db.services)
                .where(db.services.c.name == "审核员加的服务")
            ).scalar_one()
            == 0
        )
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(db.enrollment_codes)
                .where(db.enrollment_codes.c.created_by.is_not(None))
            ).scalar_one()
            == 0
        )
    # The kiosk still syncs.
    assert kiosk.pull().status_code == 200
    # Reviewers do not even see the admin buttons.
    assert "/console/sessions/new" not in reviewer.get("/console/schedule").text
    assert "Create an enrolment code" not in reviewer.get("/console/kiosks").text


def test_capacity_cannot_go_below_the_booked_count(staffed: Any, admin: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=4)
    kiosk = staffed.enroll("名额测试")
    for n in range(3):
        result = kiosk.push_ok(
            [
                booking_op(
                    session_id, device_seq=kiosk.next_seq(), code=f"CAP{n:04d}", number=id_number(100 + n)
                )
            ]
        )[0]
        assert result["booking"]["status"] == "confirmed"
    row = _session_row(staffed, session_id)
    local = db.utc(row.starts_at).astimezone(ZONE)
    admin.get(f"/console/sessions/{session_id}/edit")
    form = {
        "day": local.date().isoformat(),
        "start": local.strftime("%H:%M"),
        "minutes": "30",
        "capacity": "2",
        "room": "二楼",
        "video_url": "",
    }
    response = admin.post(f"/console/sessions/{session_id}/edit", form)
    assert response.status_code == 400
    assert "3 seats are already taken" in response.text
    assert "Nothing was saved" in response.text
    assert 'value="2"' in response.text  # what was typed is kept on the page
    assert _session_row(staffed, session_id).capacity == 4
    # Exactly the booked count is fine, and kiosks learn it.
    cursor_changes = kiosk.pull_all()
    response = admin.post(f"/console/sessions/{session_id}/edit", {**form, "capacity": "3"})
    assert response.status_code == 200 and "Session saved" in response.text
    assert _session_row(staffed, session_id).capacity == 3
    later = [c for c in kiosk.pull_all() if c["entity"] == "session" and c["entity_id"] == session_id]
    assert cursor_changes and later and later[-1]["data"]["capacity"] == 3
    assert later[-1]["data"]["seats_left"] == 0 and later[-1]["data"]["room"] == "二楼"


def test_overlapping_sessions_for_one_provider_are_refused(staffed: Any, admin: ConsoleClient) -> None:
    first = staffed.new_session(capacity=5)
    service_id, provider_id = _ids(staffed, first)
    local = db.utc(_session_row(staffed, first).starts_at).astimezone(ZONE)
    before = _count_sessions(staffed)
    admin.get("/console/sessions/new")
    overlap = {
        "service_id": service_id,
        "provider_id": provider_id,
        "day": local.date().isoformat(),
        "start": (local + dt.timedelta(minutes=15)).strftime("%H:%M"),
        "minutes": "30",
        "capacity": "5",
        "room": "",
        "video_url": "",
        "repeat_weeks": "1",
    }
    response = admin.post("/console/sessions", overlap)
    assert response.status_code == 400
    assert "This provider already has a session from" in response.text
    assert local.strftime("%H:%M") in response.text
    assert _count_sessions(staffed) == before
    # Right after it is fine.
    later = {
        **overlap,
        "start": (local + dt.timedelta(minutes=31)).strftime("%H:%M"),
    }  # starts_at has seconds
    response = admin.post("/console/sessions", later)
    assert response.status_code == 200, response.text
    assert "Sessions created" in response.text
    assert _count_sessions(staffed) == before + 1
    # Moving the new one back onto the first is refused as well.
    new_id = _session_in(response.url)
    admin.get(f"/console/sessions/{new_id}/edit")
    moved = {k: overlap[k] for k in ("day", "start", "minutes", "capacity", "room", "video_url")}
    response = admin.post(f"/console/sessions/{new_id}/edit", moved)
    assert response.status_code == 400
    assert "This provider already has a session from" in response.text
    starts = db.utc(_session_row(staffed, new_id).starts_at).astimezone(ZONE)
    assert starts.strftime("%H:%M") == later["start"]


def test_bad_session_forms_name_each_problem(staffed: Any, admin: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=5)
    service_id, provider_id = _ids(staffed, session_id)
    before = _count_sessions(staffed)
    admin.get("/console/sessions/new")
    response = admin.post(
        "/console/sessions",
        {
            "service_id": service_id,
            "provider_id": provider_id,
            "day": "not-a-day",
            "start": "25:99",
            "minutes": "0",
            "capacity": "-3",
            "room": "",
            "video_url": "javascript:alert(1)",
            "repeat_weeks": "99",
        },
    )
    assert response.status_code == 400
    for text in (
        "Please choose a day.",
        "Please give the start time",
        "The length must be",
        "The number of seats must be",
        "The video link must start with https://",
        "Repeat for 1 to 26",
    ):
        assert text in response.text
    assert _count_sessions(staffed) == before


def test_html_in_names_is_shown_as_text(staffed: Any, admin: ConsoleClient) -> None:
    evil = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    admin.get("/console/services")
    assert admin.post("/console/services", {"name": "服务" + evil, "kind": "clinic", "review": "1"}).ok
    assert admin.post("/console/providers", {"name": "医生" + evil, "title": evil}).ok
    with staffed.database.read() as conn:
        service_id = conn.execute(
            sa.select(db.services.c.id).where(db.services.c.name == "服务" + evil)
        ).scalar_one()
        provider_id = conn.execute(
            sa.select(db.providers.c.id).where(db.providers.c.name == "医生" + evil)
        ).scalar_one()
    admin.get("/console/sessions/new")
    made = admin.post(
        "/console/sessions",
        {
            "service_id": service_id,
            "provider_id": provider_id,
            "day": _future_day(5),
            "start": "09:00",
            "minutes": "30",
            "capacity": "4",
            "room": evil,
            "video_url": "",
            "repeat_weeks": "1",
        },
    )
    assert made.status_code == 200, made.text
    session_id = _session_in(made.url)
    kiosk = staffed.enroll("转义测试" + evil)
    result = kiosk.push_ok(
        [
            booking_op(
                session_id,
                device_seq=kiosk.next_seq(),
                code="HTML0001",
                name="居民" + evil,
                village="村" + evil,
                number=id_number(300),
            )
        ]
    )[0]
    assert result["outcome"] == "applied"
    pages = [
        admin.get(p).text
        for p in (
            "/console/review",
            "/console/services",
            f"/console/sessions/{session_id}",
            f"/console/bookings/{result['booking']['id']}",
            "/console/kiosks",
            f"/console/schedule?start={_future_day(5)}",
        )
    ]
    for page in pages:
        assert "<script>alert" not in page
        assert "<img src=x" not in page
    assert sum("&lt;script&gt;" in p for p in pages) == len(pages)


def test_numbers_are_masked_and_a_reveal_is_audited(staffed: Any, reviewer: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=4, review=True)
    kiosk = staffed.enroll("隐私测试")
    number = id_number(401)
    result = kiosk.push_ok(
        [
            booking_op(
                session_id, device_seq=kiosk.next_seq(), code="MASK0001", number=number, phone="13800138000"
            )
        ]
    )[0]
    booking_id = result["booking"]["id"]
    for path in (
        "/console/review",
        f"/console/sessions/{session_id}",
        f"/console/bookings/{booking_id}",
        "/console/reports",
        "/console/waitlist",
        "/console/",
    ):
        page = reviewer.get(path).text
        assert number not in page and "13800138000" not in page, path
    assert "138****8000" in reviewer.get("/console/review").text
    assert number[:4] + "*" * 10 + number[-4:] in reviewer.get("/console/review").text
    revealed = reviewer.post(f"/console/bookings/{booking_id}/reveal")
    assert revealed.status_code == 200
    assert number in revealed.text and "13800138000" in revealed.text
    with staffed.database.read() as conn:
        rows = conn.execute(
            sa.select(db.staff_audit).where(
                db.staff_audit.c.action == "reveal_numbers", db.staff_audit.c.target == booking_id
            )
        ).all()
    assert len(rows) == 1 and rows[0].who == "shenhe"
    assert number not in str(rows[0].detail)
    # The next visit is masked again, and the history shows who looked.
    again = reviewer.get(f"/console/bookings/{booking_id}").text
    assert number not in again and "Viewed full ID and phone number" in again and "shenhe" in again


def test_review_decisions_reach_the_kiosk(staffed: Any, reviewer: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=4, review=True)
    service_id, _provider = _ids(staffed, session_id)
    other = staffed.new_session(capacity=4, service_id=service_id, starts_in=dt.timedelta(days=4))
    kiosk = staffed.enroll("审核测试")
    codes = ["REV0001", "REV0002", "REV0003"]
    results = kiosk.push_ok(
        [
            booking_op(session_id, device_seq=kiosk.next_seq(), code=c, number=id_number(500 + i))
            for i, c in enumerate(codes)
        ]
    )
    ids = [r["booking"]["id"] for r in results]
    assert {r["booking"]["status"] for r in results} == {"pending_review"}
    kiosk.pull_all()
    queue = reviewer.get(f"/console/review?service={service_id}")
    assert all(f"booking-{i}" in queue.text for i in ids)
    # The filters narrow the queue.
    assert "booking-" not in reviewer.get(f"/console/review?service={service_id}&village=nowhere").text
    assert (
        reviewer.post(f"/console/bookings/{ids[0]}/confirm", {"back": "/console/review"}).status_code == 200
    )
    refused = reviewer.post(f"/console/bookings/{ids[1]}/reject", {"reason": "  "})
    assert refused.status_code == 400 and "Please give a reason" in refused.text
    assert reviewer.post(f"/console/bookings/{ids[1]}/reject", {"reason": "请先去卫生院抽血"}).ok
    moved = reviewer.post(f"/console/bookings/{ids[2]}/reassign", {"session_id": other})
    assert moved.status_code == 200 and "Booking moved" in moved.text
    # Deciding twice is refused with a message, and changes nothing.
    twice = reviewer.post(f"/console/bookings/{ids[0]}/confirm")
    assert twice.status_code == 409 and "This could not be done" in twice.text
    seen = {c["entity_id"]: c["data"] for c in kiosk.pull_all() if c["entity"] == "booking"}
    assert seen[ids[0]]["status"] == "confirmed"
    assert seen[ids[1]]["status"] == "rejected" and "请先去卫生院抽血" in seen[ids[1]]["message"]
    assert seen[ids[2]]["status"] == "confirmed" and seen[ids[2]]["session_id"] == other
    trail = reviewer.get(f"/console/bookings/{ids[1]}").text
    assert "Rejected" in trail and "请先去卫生院抽血" in trail and "shenhe" in trail


def test_attendance_and_check_ins_in_the_day_view(staffed: Any, reviewer: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=4, starts_in=dt.timedelta(minutes=50))
    kiosk = staffed.enroll("签到测试")
    results = kiosk.push_ok(
        [
            booking_op(session_id, device_seq=kiosk.next_seq(), code=f"DAY000{i}", number=id_number(600 + i))
            for i in range(2)
        ]
    )
    first, second = (r["booking"]["id"] for r in results)
    check_in = {
        "op_id": "8f0b2c1e-0000-4000-8000-000000000001",
        "device_seq": kiosk.next_seq(),
        "entity": "booking",
        "entity_id": first,
        "kind": "check_in",
        "base_version": None,
        "payload": {},
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    assert kiosk.push_ok([check_in])[0]["booking"]["status"] == "checked_in"
    page = reviewer.get(f"/console/sessions/{session_id}").text
    assert "Checked in at kiosk" in page
    assert reviewer.post(f"/console/bookings/{first}/attendance", {"outcome": "attended"}).ok
    assert reviewer.post(f"/console/bookings/{second}/attendance", {"outcome": "no_show"}).ok
    bad = reviewer.post(f"/console/bookings/{second}/attendance", {"outcome": "maybe"})
    assert bad.status_code == 400
    with staffed.database.read() as conn:
        statuses = dict(
            conn.execute(
                sa.select(db.bookings.c.id, db.bookings.c.status).where(
                    db.bookings.c.session_id == session_id
                )
            ).all()
        )
    assert statuses == {first: "attended", second: "no_show"}


def test_enrolment_code_as_text_and_qr_then_revoke(staffed: Any, admin: ConsoleClient) -> None:
    admin.get("/console/kiosks")
    page = admin.post("/console/kiosks/code")
    assert page.status_code == 200
    code = re.search(r'id="code-text">([0-9-]+)<', page.text)
    assert code is not None
    assert '<svg role="img" aria-label="QR"' in page.text
    assert code.group(1) not in page.url  # never in a URL
    enrolled = requests.post(
        staffed.url + "/v1/enroll",
        timeout=30,
        json={"enrollment_code": code.group(1), "kiosk_name": "新终端", "app_version": "1.2.3"},
    )
    assert enrolled.status_code == 201
    device = enrolled.json()
    listing = admin.get("/console/kiosks").text
    assert "新终端" in listing and "1.2.3" in listing
    assert admin.post(f"/console/kiosks/{device['device_id']}/revoke").status_code == 200
    pulled = requests.get(
        staffed.url + "/v1/sync/pull",
        timeout=30,
        headers={"Authorization": "Bearer " + device["device_token"]},
    )
    assert pulled.status_code == 403
    assert "Revoked" in admin.get("/console/kiosks").text


def test_clock_skew_and_pending_ops_are_shown(staffed: Any, reviewer: ConsoleClient) -> None:
    kiosk = staffed.enroll("时钟测试")
    slow = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=12)).isoformat()
    response = requests.post(
        staffed.url + "/v1/sync/push",
        timeout=30,
        headers={**kiosk.headers, "X-Cunzhan-Client-Time": slow},
        json={"device_id": kiosk.device_id, "ops": [], "pending_ops": 7, "app_version": "0.9.1"},
    )
    assert response.status_code == 200
    page = reviewer.get("/console/kiosks").text
    row = page[page.index(f'id="kiosk-{kiosk.device_id}"') :]
    row = row[: row.index("</tr>")]
    assert "Clock is wrong by more than 5 minutes" in row and "12 minutes" in row
    assert ">7<" in row and "0.9.1" in row


def test_weekly_repeat_skips_holidays(staffed: Any, admin: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=2, starts_in=dt.timedelta(days=60))
    service_id, provider_id = _ids(staffed, session_id)
    start_day = dt.datetime.now(ZONE).date() + dt.timedelta(days=20)
    holiday = start_day + dt.timedelta(weeks=1)
    admin.get("/console/holidays")
    assert admin.post("/console/holidays", {"day": holiday.isoformat(), "name": "测试假日"}).ok
    again = admin.post("/console/holidays", {"day": holiday.isoformat(), "name": "又一个"})
    assert again.status_code == 400 and "is already a holiday" in again.text
    before = _count_sessions(staffed)
    made = admin.post(
        "/console/sessions",
        {
            "service_id": service_id,
            "provider_id": provider_id,
            "day": start_day.isoformat(),
            "start": "07:10",
            "minutes": "20",
            "capacity": "6",
            "room": "一楼",
            "video_url": "https://meet.example/abc",
            "repeat_weeks": "3",
        },
    )
    assert made.status_code == 200, made.text
    assert _count_sessions(staffed) == before + 2
    with staffed.database.read() as conn:
        days = sorted(
            db.utc(r.starts_at).astimezone(ZONE).date()
            for r in conn.execute(
                sa.select(db.sessions.c.starts_at).where(
                    db.sessions.c.provider_id == provider_id, db.sessions.c.capacity == 6
                )
            )
        )
    assert days == [start_day, start_day + dt.timedelta(weeks=2)]
    on_holiday = admin.post(
        "/console/sessions",
        {
            "service_id": service_id,
            "provider_id": provider_id,
            "day": holiday.isoformat(),
            "start": "07:10",
            "minutes": "20",
            "capacity": "6",
            "room": "",
            "video_url": "",
            "repeat_weeks": "1",
        },
    )
    assert on_holiday.status_code == 400 and "is a holiday" in on_holiday.text


def test_cancelling_a_session_tells_its_residents(staffed: Any, admin: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=3)
    service_id, _provider = _ids(staffed, session_id)
    alternative = staffed.new_session(capacity=3, service_id=service_id, starts_in=dt.timedelta(days=5))
    other_time = (
        db.utc(_session_row(staffed, alternative).starts_at).astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    )
    kiosk = staffed.enroll("取消测试")
    booking_id = kiosk.push_ok(
        [booking_op(session_id, device_seq=kiosk.next_seq(), code="CAN0001", number=id_number(700))]
    )[0]["booking"]["id"]
    kiosk.pull_all()
    admin.get(f"/console/sessions/{session_id}")
    no_reason = admin.post(f"/console/sessions/{session_id}/cancel", {"reason": ""})
    assert no_reason.status_code == 400 and _session_row(staffed, session_id).status == "open"
    done = admin.post(f"/console/sessions/{session_id}/cancel", {"reason": "医生下乡义诊"})
    assert done.status_code == 200 and "Session cancelled" in done.text
    changes = kiosk.pull_all()
    booking = [c for c in changes if c["entity"] == "booking" and c["entity_id"] == booking_id][-1]["data"]
    session = [c for c in changes if c["entity"] == "session" and c["entity_id"] == session_id][-1]["data"]
    assert booking["status"] == "cancelled" and "医生下乡义诊" in booking["message"]
    assert other_time in booking["message"]  # offered another time of the same service
    assert session["status"] == "cancelled"
    # A cancelled session cannot be edited any more.
    assert admin.get(f"/console/sessions/{session_id}/edit").status_code == 409
    # An unknown console address is a readable page, and the stylesheet still loads.
    missing = admin.get("/console/no-such-page")
    assert missing.status_code == 404 and "Page not found" in missing.text
    assert admin.get("/console/static/console.css").headers["content-type"].startswith("text/css")


def test_reports_and_csv(staffed: Any, reviewer: ConsoleClient) -> None:
    session_id = staffed.new_session(capacity=5, starts_in=dt.timedelta(hours=3))
    kiosk = staffed.enroll("报表测试")
    results = kiosk.push_ok(
        [
            booking_op(
                session_id,
                device_seq=kiosk.next_seq(),
                code=f"RPT000{i}",
                number=id_number(800 + i),
                village="河口村",
            )
            for i in range(3)
        ]
    )
    ids = [r["booking"]["id"] for r in results]
    reviewer.get("/console/reports")
    reviewer.post(f"/console/bookings/{ids[0]}/attendance", {"outcome": "attended"})
    reviewer.post(f"/console/bookings/{ids[1]}/attendance", {"outcome": "no_show"})
    feedback = {
        "op_id": "8f0b2c1e-0000-4000-8000-0000000000f1",
        "device_seq": kiosk.next_seq(),
        "entity": "feedback",
        "entity_id": "8f0b2c1e-0000-4000-8000-0000000000f2",
        "kind": "submit",
        "base_version": None,
        "payload": {
            "booking_id": ids[0],
            "rating": 4,
            "reasons": ["The doctor or teacher explained clearly"],
            "comment": None,
        },
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    assert kiosk.push_ok([feedback])[0]["outcome"] == "applied"
    today = dt.datetime.now(ZONE).date()
    period = (
        f"start={(today - dt.timedelta(days=1)).isoformat()}&end={(today + dt.timedelta(days=2)).isoformat()}"
    )
    page = reviewer.get(f"/console/reports?{period}&by=village").text
    assert (
        "河口村" in page
        and "50%" in page
        and "<svg" in page
        and "The doctor or teacher explained clearly" in page
    )
    csv_response = reviewer.get(f"/console/reports.csv?{period}&by=village")
    assert csv_response.headers["content-type"].startswith("text/csv")
    lines = csv_response.content.decode("utf-8-sig").splitlines()
    assert lines[0].startswith("Village,Bookings,Attended,No-show")
    row = next(line for line in lines if line.startswith("河口村"))
    assert row.split(",")[1:5] == ["3", "1", "1", "0"]


def test_services_and_providers_reach_kiosks_and_bad_names_are_refused(
    staffed: Any, admin: ConsoleClient
) -> None:
    kiosk = staffed.enroll("目录测试")
    kiosk.pull_all()
    admin.get("/console/services")
    before = int(_one(staffed, sa.select(sa.func.count()).select_from(db.services)))
    for data in (
        {"name": "   ", "kind": "clinic"},
        {"name": "x" * 201, "kind": "clinic"},
        {"name": "牙科", "kind": "dentist"},
    ):
        refused = admin.post("/console/services", data)
        assert refused.status_code == 400 and "Please give the service a name" in refused.text
    refused = admin.post("/console/providers", {"name": ""})
    assert refused.status_code == 400 and "Please give the provider" in refused.text
    # Kiosks show and read these out: a page of text is refused, not published (it kept a blind kiosk silent).
    for field in ("description", "what_to_bring"):
        refused = admin.post("/console/services", {"name": "长文", "kind": "clinic", field: "长" * 1_000})
        assert refused.status_code == 400 and "at most 300 characters" in refused.text
    for field in ("title", "organisation"):
        refused = admin.post("/console/providers", {"name": "长文", field: "长" * 1_000})
        assert refused.status_code == 400 and "at most 100 characters each" in refused.text
    providers = int(
        _one(
            staffed, sa.select(sa.func.count()).select_from(db.providers).where(db.providers.c.name == "长文")
        )
    )
    assert providers == 0
    assert int(_one(staffed, sa.select(sa.func.count()).select_from(db.services))) == before
    made = admin.post(
        "/console/services",
        {
            "name": "康复理疗",
            "kind": "clinic",
            "description": "腰腿痛康复指导",
            "what_to_bring": "身份证",
            "review": "1",
        },
    )
    assert made.status_code == 200 and "Service saved" in made.text
    service_id = _one(staffed, sa.select(db.services.c.id).where(db.services.c.name == "康复理疗"))
    changes = [c for c in kiosk.pull_all() if c["entity"] == "service" and c["entity_id"] == service_id]
    assert changes and changes[-1]["op"] == "upsert" and changes[-1]["data"]["review"] is True
    # Hiding it tells the kiosks to drop it.
    hidden = admin.post("/console/services", {"service_id": service_id, "name": "康复理疗", "kind": "clinic"})
    assert hidden.status_code == 200
    changes = [c for c in kiosk.pull_all() if c["entity"] == "service" and c["entity_id"] == service_id]
    assert changes and changes[-1]["op"] == "delete"
    # Another township's id (or a made-up one) is not found, and nothing is created.
    ghost = admin.post(
        "/console/providers",
        {"provider_id": "00000000-0000-4000-8000-000000000000", "name": "不存在", "active": "1"},
    )
    assert ghost.status_code == 400 and "Not found." in ghost.text


def test_times_are_in_the_townships_own_zone(start_backend: Any) -> None:
    """A township far from Beijing time (Europe/London: UTC+0 in December, 8 hours behind Asia/Shanghai) sees its
    sessions at its own clock time, and a session typed in for 09:00 starts at 09:00 there."""
    from township import services

    backend = start_backend("sqlite", demo=False)
    services.create_township(backend.database, "london", "London", zone="Europe/London")
    backend.create_staff("warden", "admin", STAFF_PASSWORD, township="london")
    london, shanghai = ZoneInfo("Europe/London"), ZoneInfo("Asia/Shanghai")
    session_id = backend.new_session(township="london")
    row = _session_row(backend, session_id)
    starts, ends = db.utc(row.starts_at), db.utc(row.ends_at)
    admin = ConsoleClient(backend.url)
    assert admin.sign_in("warden").status_code == 200

    page = admin.get(f"/console/sessions/{session_id}").text
    there = f"{starts.astimezone(london):%H:%M}–{ends.astimezone(london):%H:%M}"
    assert there in page
    assert f"{starts.astimezone(shanghai):%H:%M}–" not in page
    schedule = admin.get(f"/console/schedule?start={starts.astimezone(london).date().isoformat()}").text
    assert f"/console/sessions/{session_id}" in schedule

    day = (dt.datetime.now(london).date() + dt.timedelta(days=2)).isoformat()
    service_id, provider_id = _ids(backend, session_id)
    admin.get("/console/sessions/new")
    made = admin.post(
        "/console/sessions",
        {
            "service_id": service_id,
            "provider_id": provider_id,
            "day": day,
            "start": "09:00",
            "minutes": "30",
            "capacity": "4",
            "room": "",
            "video_url": "",
            "repeat_weeks": "1",
        },
    )
    assert made.status_code == 200 and "Sessions created" in made.text, made.text
    created = db.utc(_session_row(backend, _session_in(made.url)).starts_at)
    assert created.astimezone(london).strftime("%Y-%m-%d %H:%M") == f"{day} 09:00"
    assert "09:00–09:30" in made.text

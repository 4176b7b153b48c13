"""The sync API over real HTTP (uvicorn on 127.0.0.1): enrolment, auth, push/pull, idempotency, bad input, gzip."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import uuid
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from cunzhan import protocol as P
from tests.integration.conftest import Backend, create_op, op, valid_id_number


@pytest.fixture(scope="module")
def backend(any_backend: Backend) -> Backend:
    """Every test here runs against SQLite and against PostgreSQL."""
    return any_backend


# --- enrolment and auth ----------------------------------------------------------------------------------------------


def test_health_and_openapi(backend: Backend) -> None:
    health = requests.get(backend.url + "/v1/health", timeout=10)
    assert health.status_code == 200
    P.Health.model_validate(health.json())
    spec = requests.get(backend.url + "/openapi.json", timeout=10).json()
    assert {"/v1/health", "/v1/enroll", "/v1/sync/push", "/v1/sync/pull"} <= set(spec["paths"])
    assert "Op" in spec["components"]["schemas"] and "PushRequest" in spec["components"]["schemas"]


def test_enrol_gives_a_token_once(backend: Backend) -> None:
    code = backend.enrollment_code()
    body = {"enrollment_code": code, "kiosk_name": "上坪村服务站", "app_version": "0.1.0"}
    first = requests.post(backend.url + "/v1/enroll", json=body, timeout=10)
    assert first.status_code == 201
    parsed = P.EnrollResponse.model_validate(first.json())
    assert parsed.township_id == "demo" and 1 <= parsed.kiosk_number <= 99
    assert "server_time" in first.json()
    again = requests.post(backend.url + "/v1/enroll", json=body, timeout=10)
    assert again.status_code == 403 and again.json()["error"] == "forbidden"
    # Only a hash of the token is stored.
    from township import db

    with backend.database.read() as conn:
        stored = conn.execute(
            sa.select(db.devices.c.token_hash).where(db.devices.c.id == parsed.device_id)
        ).scalar_one()
    assert parsed.device_token not in stored and len(stored) == 64


def test_enrol_with_bad_or_expired_code_is_403(any_backend: Backend) -> None:
    backend = any_backend
    from township import db
    from township.services import create_enrollment_code

    bad = requests.post(
        backend.url + "/v1/enroll",
        timeout=10,
        json={"enrollment_code": "0000-0000-0000", "kiosk_name": "k", "app_version": "1"},
    )
    assert bad.status_code == 403
    expired = create_enrollment_code(backend.database, "demo", ttl=dt.timedelta(seconds=-1))
    response = requests.post(
        backend.url + "/v1/enroll",
        timeout=10,
        json={"enrollment_code": expired, "kiosk_name": "k", "app_version": "1"},
    )
    assert response.status_code == 403
    malformed = requests.post(backend.url + "/v1/enroll", timeout=10, json={"enrollment_code": 5})
    assert malformed.status_code == 400 and malformed.json()["error"] == "malformed"
    nul = requests.post(
        backend.url + "/v1/enroll",
        timeout=10,
        json={"enrollment_code": backend.enrollment_code(), "kiosk_name": "k\x00", "app_version": "1"},
    )
    assert nul.status_code == 400
    with backend.database.read() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count()).select_from(db.devices).where(db.devices.c.name == "k")
            ).scalar_one()
            == 0
        )


def test_kiosk_numbers_are_distinct(backend: Backend) -> None:
    numbers = {backend.enroll(f"k{i}").kiosk_number for i in range(4)}
    assert len(numbers) == 4


def test_missing_unknown_and_revoked_tokens(backend: Backend) -> None:
    from township.services import revoke_device

    kiosk = backend.enroll()
    url = backend.url + "/v1/sync/pull"
    assert requests.get(url, timeout=10).status_code == 401
    unknown = requests.get(url, headers={"Authorization": "Bearer nope"}, timeout=10)
    assert unknown.status_code == 401 and unknown.json()["error"] == "unauthorized"
    assert kiosk.pull().status_code == 200
    revoke_device(backend.database, kiosk.device_id, staff_id=None)
    revoked = kiosk.pull()
    assert revoked.status_code == 403 and revoked.json()["error"] == "forbidden"
    assert kiosk.push([]).status_code == 403


def test_foreign_device_id_is_403(backend: Backend) -> None:
    a, b = backend.enroll("a"), backend.enroll("b")
    session = backend.new_session()
    response = requests.post(
        backend.url + "/v1/sync/push",
        headers=a.headers,
        timeout=10,
        json={"device_id": b.device_id, "ops": [create_op(session, device_seq=1)]},
    )
    assert response.status_code == 403
    assert b.pull_all() is not None  # b's view holds no booking from that request
    assert not [c for c in b.pull_all() if c["entity"] == "booking"]


# --- push: results, idempotency, ordering ---------------------------------------------------------------------------


def test_push_applies_in_device_seq_order_and_answers_in_op_order(backend: Backend) -> None:
    kiosk = backend.enroll()
    session = backend.new_session(capacity=3)
    create = create_op(session, device_seq=1)
    cancel = op("booking", "cancel", create["entity_id"], {"reason": None}, device_seq=2)
    # Sent out of order: the cancel first. The backend applies the create (seq 1) first anyway.
    results = kiosk.push_ok([cancel, create])
    assert [r["op_id"] for r in results] == [cancel["op_id"], create["op_id"]]
    assert results[1]["outcome"] == "applied" and results[1]["booking"]["status"] == "confirmed"
    assert results[0]["outcome"] == "applied" and results[0]["booking"]["status"] == "cancelled"
    for result in results:
        P.Result.model_validate(result)


def test_replay_returns_the_stored_result_and_changes_nothing(backend: Backend) -> None:
    kiosk = backend.enroll()
    session = backend.new_session(capacity=1)
    create = create_op(session, device_seq=1)
    first = kiosk.push_ok([create])[0]
    seats_before = _seats_left(backend, session)
    again = kiosk.push_ok([create])[0]
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }
    assert _seats_left(backend, session) == seats_before == 0
    assert _count_bookings(backend, session) == 1
    # The same op twice in one batch: applied once, the second copy is a replay.
    other = create_op(backend.new_session(capacity=2), device_seq=2)
    twice = kiosk.push_ok([other, other])
    assert twice[0]["outcome"] == "applied" and twice[1]["replayed"] is True


def test_reused_op_id_with_other_content_is_rejected(backend: Backend) -> None:
    kiosk = backend.enroll()
    session = backend.new_session(capacity=2)
    create = create_op(session, device_seq=1)
    kiosk.push_ok([create])
    impostor = create_op(session, device_seq=2)
    impostor["op_id"] = create["op_id"]
    result = kiosk.push_ok([impostor])[0]
    assert result["outcome"] == "rejected" and result["reason"] == "op_id_reused"
    assert _count_bookings(backend, session) == 1
    # The original is still replayed unchanged.
    assert kiosk.push_ok([create])[0]["replayed"] is True


def test_invalid_ops_never_block_later_ones(backend: Backend) -> None:
    kiosk = backend.enroll()
    session = backend.new_session(capacity=5)
    bad_id = create_op(session, device_seq=1, id_number="110101195001010000")  # wrong check digit
    unknown_entity = op("parcel", "create", str(uuid.uuid4()), {}, device_seq=2)
    unknown_kind = op("booking", "explode", str(uuid.uuid4()), {}, device_seq=3)
    wrong_types = create_op(session, device_seq=4)
    wrong_types["payload"]["lease"] = {"not": "a bool"}
    extra_field = create_op(session, device_seq=5)
    extra_field["payload"]["surprise"] = 1
    not_uuid = create_op(session, device_seq=6)
    not_uuid["entity_id"] = "not-a-uuid"
    no_op_id = create_op(session, device_seq=7)
    del no_op_id["op_id"]
    not_object: Any = ["just", "a", "list"]
    good = create_op(session, device_seq=8)
    ops = [
        bad_id,
        unknown_entity,
        unknown_kind,
        wrong_types,
        extra_field,
        not_uuid,
        no_op_id,
        not_object,
        good,
    ]
    results = kiosk.push_ok(ops)
    assert len(results) == len(ops)
    assert [r["reason"] for r in results[:-1]] == ["invalid"] * 8
    assert all(r["outcome"] == "rejected" for r in results[:-1])
    assert results[-1]["outcome"] == "applied" and results[-1]["booking"]["status"] == "confirmed"
    assert results[0]["message"]  # the resident is told what is wrong with the ID number
    # Rejections are final too: replaying the invalid op gives the same answer.
    assert kiosk.push_ok([bad_id])[0] == results[0] | {"replayed": True}


def test_business_outcomes(backend: Backend) -> None:
    from township.services import cancel_session, edit_session

    kiosk = backend.enroll()
    session = backend.new_session(capacity=1)
    person = valid_id_number(7)
    assert kiosk.book(session, id_number=person)["outcome"] == "applied"
    dup = kiosk.book(session, id_number=person)
    assert dup["reason"] == "duplicate_booking"
    # The same resident may book for a grandchild in the same session (if there is a seat).
    roomy = backend.new_session(capacity=3)
    assert kiosk.book(roomy, id_number=person)["outcome"] == "applied"
    grandchild = {"name": "小明", "relation": "孙子", "birth_year": 2018}
    assert kiosk.book(roomy, id_number=person, dependent=grandchild)["outcome"] == "applied"
    assert kiosk.book(str(uuid.uuid4()))["reason"] == "not_found"
    past = backend.new_session(starts_in=dt.timedelta(minutes=-5), minutes=60)
    assert kiosk.book(past)["reason"] == "too_late"
    closed = backend.new_session()
    edit_session(backend.database, closed, staff_id=None, closed=True)
    assert kiosk.book(closed)["reason"] == "session_closed"
    gone = backend.new_session()
    cancel_session(backend.database, gone, "医生出差", staff_id=None)
    assert kiosk.book(gone)["reason"] == "session_cancelled"
    unknown_cancel = op("booking", "cancel", str(uuid.uuid4()), {"reason": None}, device_seq=kiosk.next_seq())
    assert kiosk.push_ok([unknown_cancel])[0]["reason"] == "not_found"


def test_slot_full_offers_up_to_three_alternatives(backend: Backend) -> None:
    kiosk = backend.enroll()
    full = backend.new_session(capacity=1, starts_in=dt.timedelta(days=5))
    service = _service_of(backend, full)
    others = [
        backend.new_session(capacity=2, service_id=service, starts_in=dt.timedelta(days=5, hours=h))
        for h in (1, 2, 3, 30)
    ]
    assert kiosk.book(full)["outcome"] == "applied"
    result = kiosk.book(full)
    assert result["outcome"] == "rejected" and result["reason"] == "slot_full" and result["booking"] is None
    alternatives = result["alternatives"]
    assert [a["session_id"] for a in alternatives] == others[:3]  # the nearest three in time
    assert all(a["seats_left"] == 2 for a in alternatives)


def test_other_kiosks_never_see_my_bookings_or_cancel_them(backend: Backend) -> None:
    mine, theirs = backend.enroll("mine"), backend.enroll("theirs")
    session = backend.new_session(capacity=4)
    booking = mine.book(session)["booking"]
    cancel = op("booking", "cancel", booking["id"], {"reason": None}, device_seq=theirs.next_seq())
    assert theirs.push_ok([cancel])[0]["reason"] == "not_found"
    their_view = theirs.pull_all()
    assert booking["id"] not in {c["entity_id"] for c in their_view}
    assert not [
        c
        for c in their_view
        if c["entity"] in ("booking", "lease")
        and c.get("data", {}).get("session_id") == session
        and c["entity"] == "booking"
    ]
    my_view = mine.pull_all()
    mine_bookings = [c for c in my_view if c["entity"] == "booking" and c["entity_id"] == booking["id"]]
    assert mine_bookings and mine_bookings[-1]["data"]["status"] == "confirmed"
    assert "id_number" not in json.dumps(my_view) and "测试居民" not in json.dumps(my_view)


def test_feedback_and_check_in(backend: Backend) -> None:
    kiosk = backend.enroll()
    session = backend.new_session(capacity=2)
    booking = kiosk.book(session)["booking"]
    check_in = op("booking", "check_in", booking["id"], {}, device_seq=kiosk.next_seq())
    rate = op(
        "feedback",
        "submit",
        str(uuid.uuid4()),
        {
            "booking_id": booking["id"],
            "rating": 5,
            "reasons": ["I waited too long", "clear", "I waited too long", "自由文本理由"],
            "comment": "好",
        },
        device_seq=kiosk.next_seq(),
    )
    bad_rating = op(
        "feedback",
        "submit",
        str(uuid.uuid4()),
        {"booking_id": booking["id"], "rating": 9},
        device_seq=kiosk.next_seq(),
    )
    results = kiosk.push_ok([check_in, rate, bad_rating])
    assert results[0]["booking"]["status"] == "checked_in"
    assert results[1]["outcome"] == "applied"
    assert results[2]["reason"] == "invalid"
    from township import db

    with backend.database.read() as conn:
        kept = conn.execute(
            sa.select(db.feedback.c.reasons).where(db.feedback.c.id == rate["entity_id"])
        ).one()
    assert kept.reasons == [
        "I waited too long"
    ]  # only the fixed phrases (cunzhan.models.FEEDBACK_REASONS), once
    late_cancel = op("booking", "cancel", booking["id"], {"reason": None}, device_seq=kiosk.next_seq())
    assert kiosk.push_ok([late_cancel])[0]["reason"] == "too_late"


# --- bad requests: statuses, never 500 --------------------------------------------------------------------------------


def test_bad_requests_get_documented_statuses(any_backend: Backend) -> None:
    backend = any_backend
    kiosk = backend.enroll()
    url = backend.url + "/v1/sync/push"
    h = kiosk.headers | {"Content-Type": "application/json"}

    def post(data: bytes, headers: dict[str, str] | None = None) -> requests.Response:
        return requests.post(url, data=data, headers=h | (headers or {}), timeout=30)

    cases: list[tuple[bytes, dict[str, str] | None, int]] = [
        (b"{not json", None, 400),
        (b"\xff\xfe\x00garbage", None, 400),
        (b"[]", None, 400),
        (b'"text"', None, 400),
        (json.dumps({"device_id": kiosk.device_id}).encode(), None, 400),
        (json.dumps({"device_id": kiosk.device_id, "ops": "nope"}).encode(), None, 400),
        (json.dumps({"device_id": 5, "ops": []}).encode(), None, 400),
        (json.dumps({"device_id": kiosk.device_id, "ops": [], "pending_ops": "x"}).encode(), None, 400),
        (json.dumps({"device_id": kiosk.device_id, "ops": [], "unknown": 1}).encode(), None, 400),
        (b"[" * 100000 + b"]" * 100000, None, 400),
        (b"not gzip at all", {"Content-Encoding": "gzip"}, 400),
        (
            gzip.compress(json.dumps({"device_id": kiosk.device_id, "ops": []}).encode())[:-9],
            {"Content-Encoding": "gzip"},
            400,
        ),
        (b"x", {"Content-Encoding": "br"}, 400),
        (json.dumps({"device_id": kiosk.device_id, "ops": [{}] * 501}).encode(), None, 413),
        (b" " * (P.MAX_BODY_BYTES + 10), None, 413),
        (gzip.compress(b" " * (P.MAX_BODY_BYTES + 10)), {"Content-Encoding": "gzip"}, 413),
    ]
    for data, headers, status in cases:
        response = post(data, headers)
        assert response.status_code == status, (data[:40], response.status_code, response.text[:200])
        body = response.json()
        assert set(body) >= {"error", "message", "server_time"}
    # A request that was refused whole leaves the kiosk able to carry on.
    assert kiosk.push_ok([]) == []


def test_pull_bad_limits_and_unknown_routes(backend: Backend) -> None:
    kiosk = backend.enroll()
    for limit in ("0", "1001", "-1", "abc", "1.5"):
        response = requests.get(
            backend.url + "/v1/sync/pull", params={"limit": limit}, headers=kiosk.headers, timeout=10
        )
        assert response.status_code == 400, limit
    missing = requests.get(backend.url + "/v1/nothing", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong_method = requests.get(backend.url + "/v1/sync/push", timeout=10)
    assert wrong_method.status_code == 405


# --- gzip both ways ---------------------------------------------------------------------------------------------------


def test_gzip_request_and_response(backend: Backend) -> None:
    kiosk = backend.enroll()
    session = backend.new_session(capacity=30)
    ops = [create_op(session, device_seq=kiosk.next_seq()) for _ in range(20)]
    body = gzip.compress(json.dumps({"device_id": kiosk.device_id, "ops": ops}).encode())
    response = requests.post(
        backend.url + "/v1/sync/push",
        data=body,
        timeout=30,
        headers=kiosk.headers
        | {"Content-Encoding": "gzip", "Content-Type": "application/json", "Accept-Encoding": "gzip"},
    )
    assert response.status_code == 200
    assert response.headers.get("Content-Encoding") == "gzip"
    assert [r["outcome"] for r in response.json()["results"]] == ["applied"] * 20
    pulled = requests.get(
        backend.url + "/v1/sync/pull", headers=kiosk.headers | {"Accept-Encoding": "gzip"}, timeout=30
    )
    assert pulled.headers.get("Content-Encoding") == "gzip" and pulled.json()["changes"]


# --- pull and cursors ------------------------------------------------------------------------------------------------


def test_pull_pages_in_seq_order_and_cursor_moves_forward(backend: Backend) -> None:
    kiosk = backend.enroll()
    seqs: list[int] = []
    cursor = None
    while True:
        page = kiosk.pull(cursor, limit=7).json()
        P.PullResponse.model_validate(page)
        seqs.extend(c["seq"] for c in page["changes"])
        assert len(page["changes"]) <= 7
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert seqs == sorted(seqs) and len(seqs) == len(set(seqs))
    entities = {c["entity"] for c in kiosk.pull(None, limit=1000).json()["changes"]}
    assert {"service", "provider", "session"} <= entities
    # Quiet: the same cursor gives nothing new, and the cursor does not move backwards.
    again = kiosk.pull(cursor).json()
    assert again["changes"] == [] and again["has_more"] is False


def test_foreign_garbage_or_future_cursor_is_410(backend: Backend) -> None:
    a, b = backend.enroll("a"), backend.enroll("b")
    a_cursor = a.pull(None, limit=5).json()["next_cursor"]
    for cursor in (a_cursor[:-2] + "xx", "garbage", "a.b.c", a_cursor.split(".")[0]):
        response = a.pull(cursor)
        assert response.status_code == 410 and response.json()["error"] == "cursor_expired", cursor
    foreign = b.pull(a_cursor)
    assert foreign.status_code == 410
    # A cursor from another backend (say, before a restore) is unknown here too.
    from township import db
    from township.sync import make_cursor

    with backend.database.read() as conn:
        town = conn.execute(sa.select(db.townships).where(db.townships.c.slug == "demo")).one()
    future = make_cursor(town.cursor_secret, town.id, a.device_id, town.last_seq + 1000)
    assert a.pull(future).status_code == 410


# --- device records ---------------------------------------------------------------------------------------------------


def test_device_sync_state_is_recorded(backend: Backend) -> None:
    from township import db

    kiosk = backend.enroll()
    skewed = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).isoformat()
    response = requests.post(
        backend.url + "/v1/sync/push",
        timeout=10,
        headers=kiosk.headers | {"X-Cunzhan-Client-Time": skewed},
        json={"device_id": kiosk.device_id, "ops": [], "pending_ops": 42, "app_version": "9.9.9"},
    )
    assert response.status_code == 200
    with backend.database.read() as conn:
        row = conn.execute(sa.select(db.devices).where(db.devices.c.id == kiosk.device_id)).one()
    assert row.pending_ops == 42 and row.app_version == "9.9.9" and row.last_sync_at is not None
    assert abs(row.clock_skew_s - 3 * 86400) < 120


# --- helpers ----------------------------------------------------------------------------------------------------------


def _seats_left(backend: Backend, session_id: str) -> int:
    from township import booking as B
    from township import db

    with backend.database.read() as conn:
        row = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == session_id)).one()
        return B.seats_left(conn, row)


def _count_bookings(backend: Backend, session_id: str) -> int:
    from township import db

    with backend.database.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(db.bookings)
                .where(db.bookings.c.session_id == session_id)
            ).scalar_one()
        )


def _service_of(backend: Backend, session_id: str) -> str:
    from township import db

    with backend.database.read() as conn:
        return str(
            conn.execute(
                sa.select(db.sessions.c.service_id).where(db.sessions.c.id == session_id)
            ).scalar_one()
        )


# --- language, notices, fuzz ------------------------------------------------------------------------------------------


def test_messages_are_in_the_townships_language(backend: Backend) -> None:
    kiosk = backend.enroll()
    session = backend.new_session(capacity=1)
    confirmed = kiosk.book(session)
    assert confirmed["message"] == "您的预约已确认，请按时来。"
    full = kiosk.book(session)
    assert "约满" in full["message"]
    bad = kiosk.book(session, id_number="110101195001010000")
    assert bad["reason"] == "invalid"
    from cunzhan.i18n import gettext, use_locale
    from cunzhan.identity import ID_MESSAGES, IdProblem

    with use_locale("zh_CN"):
        expected = gettext(ID_MESSAGES[IdProblem.BAD_CHECK])
    assert bad["message"] == expected and expected != ID_MESSAGES[IdProblem.BAD_CHECK]


def test_notices_reach_every_kiosk_and_can_be_withdrawn(backend: Backend) -> None:
    from township.services import post_notice, withdraw_notice

    a, b = backend.enroll("a"), backend.enroll("b")
    a.pull_all()
    b.pull_all()
    notice = post_notice(
        backend.database,
        staff_id=None,
        township_slug="demo",
        title="周五停电",
        body="周五上午卫生院停电，远程门诊暂停。",
    )
    for kiosk in (a, b):
        seen = [c for c in kiosk.pull_all() if c["entity_id"] == notice]
        assert seen and seen[-1]["op"] == "upsert" and seen[-1]["data"]["title"] == "周五停电"
    withdraw_notice(backend.database, notice, staff_id=None)
    assert [c for c in a.pull_all() if c["entity_id"] == notice][-1]["op"] == "delete"


def test_fuzzed_ops_are_answered_one_by_one_never_500(any_backend: Backend) -> None:
    backend = any_backend
    import random

    rng = random.Random(20261128)
    kiosk = backend.enroll()
    session = backend.new_session(capacity=50)
    junk: list[Any] = [
        None,
        True,
        -1,
        2**70,
        1.5,
        "",
        "x" * 300,
        [],
        {},
        {"a": [1, {"b": None}]},
        "😀",
        "\x00",
    ]
    ops: list[Any] = []
    for i in range(300):
        base = create_op(session, device_seq=i + 1)
        victim = rng.choice(["op", "payload", "resident", "drop"])
        if victim == "op":
            base[rng.choice(list(base))] = rng.choice(junk)
        elif victim == "payload":
            base["payload"][rng.choice(list(base["payload"]))] = rng.choice(junk)
        elif victim == "resident":
            base["payload"]["resident"][rng.choice(list(base["payload"]["resident"]))] = rng.choice(junk)
        else:
            del base[rng.choice(list(base))]
        ops.append(base)
    response = kiosk.push(ops, app_version="bad\x00version")
    assert response.status_code == 200, response.text[:300]
    results = response.json()["results"]
    assert len(results) == len(ops)
    assert all(r["outcome"] in ("applied", "rejected") for r in results)
    assert any(r["outcome"] == "rejected" and r["reason"] == "invalid" for r in results)
    # The backend is still healthy and the session's seats add up.
    assert kiosk.push_ok([create_op(session, device_seq=10_000)])[0]["outcome"] in ("applied", "rejected")
    from township import booking as B
    from township import db

    with backend.database.read() as conn:
        row = conn.execute(sa.select(db.sessions).where(db.sessions.c.id == session)).one()
        taken, leased = B.seat_counts(conn, session)
    assert taken + leased <= row.capacity


def test_kiosk_clocks_days_off_change_nothing(backend: Backend) -> None:
    """The backend orders and decides by its own clock and device_seq; `created_at` is for display only."""
    kiosk = backend.enroll()
    session = backend.new_session(capacity=2)
    future = create_op(session, device_seq=1)
    future["created_at"] = (dt.datetime.now(dt.UTC) + dt.timedelta(days=9)).isoformat()
    past = op("booking", "cancel", future["entity_id"], {"reason": None}, device_seq=2)
    past["created_at"] = (dt.datetime.now(dt.UTC) - dt.timedelta(days=30)).isoformat()
    results = kiosk.push_ok([past, future])
    assert results[1]["booking"]["status"] == "confirmed" and results[0]["booking"]["status"] == "cancelled"
    # A retry with another created_at (a kiosk that re-serialised its clock) is still the same op.
    future["created_at"] = "2001-01-01T00:00:00+00:00"
    assert kiosk.push_ok([future])[0]["replayed"] is True

"""Invariant 1 under real concurrency: 50 kiosks race for the 10 seats of one session, on SQLite and PostgreSQL.

Each booker is its own enrolled device on its own thread and HTTP connection; they are released together by a
barrier. Whatever the interleaving, exactly 10 bookings end up confirmed and 40 are told `slot_full`.
"""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
import sqlalchemy as sa

from tests.integration.conftest import Backend, Enrolled, create_op

BOOKERS = 50
SEATS = 10


def _race(
    backend: Backend, session_id: str, kiosks: list[Enrolled], *, waitlist: bool = False, replay: bool = False
) -> list[dict[str, Any]]:
    barrier = threading.Barrier(len(kiosks))

    def book(kiosk: Enrolled) -> dict[str, Any]:
        body = {"device_id": kiosk.device_id, "ops": [create_op(session_id, device_seq=1, waitlist=waitlist)]}

        def push(http: requests.Session) -> requests.Response:
            # As a kiosk does: a saturated backend answers 503 with Retry-After (nothing applied); come back then.
            for _ in range(60):
                response = http.post(
                    backend.url + "/v1/sync/push", json=body, headers=kiosk.headers, timeout=120
                )
                if response.status_code != 503:
                    return response
                time.sleep(float(response.headers.get("retry-after", "1")) * random.random())
            return response

        with requests.Session() as http:
            barrier.wait(timeout=60)
            response = push(http)
            if replay:  # the same request again, as after a lost response
                again = push(http)
                assert again.status_code == 200
                assert again.json()["results"][0]["replayed"] is True
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()["results"][0]
        return result

    with ThreadPoolExecutor(max_workers=len(kiosks)) as pool:
        return list(pool.map(book, kiosks))


def _confirmed_in_db(backend: Backend, session_id: str) -> int:
    from township import db

    with backend.database.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(db.bookings)
                .where(
                    db.bookings.c.session_id == session_id,
                    db.bookings.c.status.in_(("confirmed", "checked_in", "attended")),
                )
            ).scalar_one()
        )


def test_fifty_bookers_ten_seats(any_backend: Backend) -> None:
    session = any_backend.new_session(capacity=SEATS)
    kiosks = [any_backend.enroll(f"racer-{i}") for i in range(BOOKERS)]
    results = _race(any_backend, session, kiosks, replay=True)
    applied = [r for r in results if r["outcome"] == "applied"]
    assert len(applied) == SEATS
    assert all(r["booking"]["status"] == "confirmed" for r in applied)
    assert sorted({r["reason"] for r in results if r["outcome"] == "rejected"}) == ["slot_full"]
    assert _confirmed_in_db(any_backend, session) == SEATS
    # What the kiosks are told about the session agrees: no seat left.
    seats = [
        c["data"]["seats_left"]
        for c in kiosks[0].pull_all()
        if c["entity"] == "session" and c["entity_id"] == session
    ]
    assert seats[-1] == 0
    # The change log stayed a strict sequence under the race, and the township's counter matches it.
    from township import db

    with any_backend.database.read() as conn:
        town = conn.execute(sa.select(db.townships).where(db.townships.c.slug == "demo")).one()
        top = conn.execute(
            sa.select(sa.func.max(db.changes.c.seq)).where(db.changes.c.township_id == town.id)
        ).scalar_one()
    assert town.last_seq == top


def test_racing_onto_the_waitlist_keeps_capacity_and_order(any_backend: Backend) -> None:
    session = any_backend.new_session(capacity=SEATS)
    kiosks = [any_backend.enroll(f"wait-{i}") for i in range(30)]
    results = _race(any_backend, session, kiosks, waitlist=True)
    statuses = [r["booking"]["status"] for r in results]
    assert statuses.count("confirmed") == SEATS and statuses.count("waitlisted") == 30 - SEATS
    assert _confirmed_in_db(any_backend, session) == SEATS
    from township import db

    with any_backend.database.read() as conn:
        positions = [
            r.waitlist_position
            for r in conn.execute(
                sa.select(db.bookings.c.waitlist_position).where(
                    db.bookings.c.session_id == session, db.bookings.c.status == "waitlisted"
                )
            )
        ]
    assert len(set(positions)) == len(positions) == 30 - SEATS  # a strict queue, no ties


def test_a_writer_held_too_long_gives_503_with_retry_after(any_backend: Backend) -> None:
    """When another writer holds the lock past the limit, the push is refused whole (503, Retry-After) and
    changes nothing; once the lock is free the same push succeeds."""
    from township import db

    kiosk = any_backend.enroll()
    session = any_backend.new_session(capacity=3)
    body = create_op(session, device_seq=1)
    server_db = any_backend.app.state.db
    previous = server_db.write_timeout_s
    server_db.write_timeout_s = 0.5
    try:
        with any_backend.database.write() as conn:
            db.lock_township(conn, any_backend.township_id())
            response = kiosk.push([body])
        assert response.status_code == 503, response.text
        assert response.json()["error"] == "busy" and int(response.headers["Retry-After"]) > 0
    finally:
        server_db.write_timeout_s = previous
    result = kiosk.push_ok([body])[0]
    assert result["outcome"] == "applied" and result["replayed"] is False

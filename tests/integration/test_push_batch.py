"""A push's booking creates decided from a look-ahead (issue 15: a few set-based look-ups per push instead of one
query per op per look-up, rows inserted together) answer exactly as the op-by-op path does, on SQLite and
PostgreSQL: the same batch of tricky creates, cancels and replays is pushed once through `push` and once, to fresh
sessions, through the op-by-op transaction, and every result and seat count must agree."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Backend, create_op, op, unique_id_number

pytestmark = pytest.mark.usefixtures("keyring_ready")


def _batch(s1: str, s2: str, device_seq: int) -> tuple[list[dict[str, Any]], str]:
    """Ops exercising every way a create can leave the fast path; returns (ops, id number booked beforehand)."""
    r = [unique_id_number() for _ in range(8)]
    seq = iter(range(device_seq, device_seq + 100))
    first = create_op(s1, device_seq=next(seq), id_number=r[1])
    second = create_op(s1, device_seq=next(seq), id_number=r[2])
    ops = [
        first,
        second,
        create_op(s1, device_seq=next(seq), id_number=r[1]),  # same person, same session: duplicate_booking
        create_op(
            s1,
            device_seq=next(seq),
            id_number=r[1],
            dependent={"name": "小明", "relation": "子女", "birth_year": 2018},
        ),
        create_op(s1, device_seq=next(seq), id_number=r[3]),  # full now: slot_full with alternatives
        create_op(s1, device_seq=next(seq), id_number=r[4], waitlist=True),  # waitlisted
        create_op(s1, device_seq=next(seq), id_number=r[5], code=second["payload"]["code"]),  # code taken
        create_op(
            s1,
            device_seq=next(seq),
            id_number=r[1],
            code=first["payload"]["code"],
            booking_id=first["entity_id"],
        ),  # the same booking again: applied, unchanged
        create_op(s2, device_seq=next(seq), id_number=r[0]),  # booked before this push: duplicate_booking
        create_op(s2, device_seq=next(seq), id_number=r[6]),
        create_op(s2, device_seq=next(seq), id_number=r[7]),  # full: slot_full
        create_op(s1, device_seq=next(seq), id_number="110101199003070000"),  # bad check digit: invalid
    ]
    ops.append(copy.deepcopy(ops[1]))  # a replay inside the batch
    ops.append(op("booking", "cancel", second["entity_id"], {"reason": None}, device_seq=next(seq)))
    ops.append(
        create_op(s1, device_seq=next(seq), id_number=r[2])
    )  # after the cancel: the waitlist has the seat
    ops.append(create_op(s2, device_seq=next(seq), id_number=r[3]))
    return ops, r[0]


def _summary(results: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (
            x["outcome"],
            x["reason"],
            x["replayed"],
            (x.get("booking") or {}).get("status"),
            len(x.get("alternatives") or []),
        )
        for x in results
    ]


def _held(backend: Backend, session_id: str) -> list[str]:
    from township import db

    with backend.database.read() as conn:
        return sorted(
            conn.execute(sa.select(db.bookings.c.status).where(db.bookings.c.session_id == session_id))
        )


def test_batched_creates_answer_as_op_by_op(any_backend: Backend) -> None:
    from township import sync

    kiosk = any_backend.enroll()
    device = sync.authenticate(any_backend.database, f"Bearer {kiosk.token}")
    outcomes = []
    for fast in (True, False):
        s1 = any_backend.new_session(capacity=3)
        s2 = any_backend.new_session(capacity=2)
        ops, early = _batch(s1, s2, kiosk.next_seq())
        kiosk.seq += 100
        assert kiosk.book(s2, id_number=early)["booking"]["status"] == "confirmed"
        body = {"device_id": kiosk.device_id, "ops": ops}
        if fast:
            results = kiosk.push_ok(ops)  # over HTTP, as kiosks push
        else:
            results = sync._push_transaction(any_backend.database, device, body, client_time=None, fast=False)
        outcomes.append((_summary(results), _held(any_backend, s1), _held(any_backend, s2)))
        again = kiosk.push_ok(ops)  # every op replayed with its stored result
        assert [x["replayed"] for x in again] == [True] * len(ops)
        assert _summary(
            [x | {"replayed": y["replayed"]} for x, y in zip(again, results, strict=True)]
        ) == _summary(results)
    assert outcomes[0] == outcomes[1]
    summary = outcomes[0][0]
    assert [x[:2] for x in summary] == [
        ("applied", None),
        ("applied", None),
        ("rejected", "duplicate_booking"),
        ("applied", None),
        ("rejected", "slot_full"),
        ("applied", None),
        ("rejected", "invalid"),
        ("applied", None),
        ("rejected", "duplicate_booking"),
        ("applied", None),
        ("rejected", "slot_full"),
        ("rejected", "invalid"),
        ("applied", None),
        ("applied", None),
        ("rejected", "slot_full"),
        ("rejected", "slot_full"),
    ]
    assert summary[5][3] == "waitlisted" and summary[12][2] is True and summary[13][3] == "cancelled"


def test_a_create_batch_inserts_its_rows_together(any_backend: Backend) -> None:
    """50 creates over 5 sessions: a handful of statements per push, not several per op (PostgreSQL's round trips
    were most of a push's time)."""
    kiosk = any_backend.enroll()
    sessions = [any_backend.new_session(capacity=20) for _ in range(5)]
    ops = [create_op(sessions[i % 5], device_seq=kiosk.next_seq()) for i in range(50)]
    statements: list[str] = []
    assert any_backend.app is not None, "the backend runs in this process: its engine is the one to listen on"
    engine = any_backend.app.state.db.engine

    def count(_c: Any, _cur: Any, statement: str, *_a: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        results = kiosk.push_ok(ops)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert [x["outcome"] for x in results] == ["applied"] * 50
    assert len({x["booking"]["id"] for x in results}) == 50
    assert len(statements) < 100, len(statements)  # was about 400 (6.8 per op and a savepoint pair)
    assert uuid.UUID(results[0]["booking"]["id"])

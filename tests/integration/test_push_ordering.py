"""The change log's order under overlapping writers (docs/sync.md, "Change log and pull"; invariant 4).

A kiosk must never miss a change whose seq is below a cursor it already holds. Seqs are handed out inside a push's
transaction, so if a later writer could commit (and a pull read past it) while an earlier one, holding lower seqs,
had not yet committed, the puller's cursor would pass those seqs before they existed and it would never see them.
Here one push is held just before its commit while a second push of the same township and a third kiosk's pull
are started; whatever the backend lets them do meanwhile, every change the puller may see, up to its last cursor,
must have reached it. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import pytest
import sqlalchemy as sa

from tests.integration.conftest import Backend, create_op


def test_a_pull_between_two_overlapping_pushes_misses_no_change(
    any_backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    from township import db, sync

    database = any_backend.database
    first, second, puller = (any_backend.enroll(f"order-{i}") for i in range(3))
    device = {k.device_id: sync.authenticate(database, f"Bearer {k.token}") for k in (first, second, puller)}
    sessions = {
        first.device_id: any_backend.new_session(capacity=20),
        second.device_id: any_backend.new_session(),
    }

    held, release = threading.Event(), threading.Event()
    record_device = sync._record_device

    def hold_first(conn: Any, dev: sync.Device, **kw: Any) -> None:
        """The first push stops here, its changes written and their seqs handed out, not yet committed."""
        record_device(conn, dev, **kw)
        if dev.id == first.device_id and not release.is_set():
            held.set()
            release.wait(20)

    monkeypatch.setattr(sync, "_record_device", hold_first)

    def push(kiosk_id: str) -> list[dict[str, Any]]:
        # Two creates (the batched path), each push for its own session: they share no session row, so a lock per
        # session would not order them.
        ops = [create_op(sessions[kiosk_id], device_seq=n) for n in (1, 2)]
        return sync.push(database, device[kiosk_id], {"device_id": kiosk_id, "ops": ops})

    page = sync.pull(database, device[puller.device_id], None, 1000)
    seen = [c["seq"] for c in page["changes"]]
    with ThreadPoolExecutor(max_workers=3) as pool:
        pushed_first = pool.submit(push, first.device_id)
        assert held.wait(20), "the first push never reached its commit"
        # The second push, then the pull, each go as far as the backend lets them before the first commits.
        pushed_second = pool.submit(push, second.device_id)
        wait([pushed_second], timeout=1.0)
        pulled = pool.submit(sync.pull, database, device[puller.device_id], page["next_cursor"], 1000)
        wait([pulled], timeout=1.0)
        release.set()
        results = pushed_first.result() + pushed_second.result()
        page = pulled.result()
    assert all(r["outcome"] == "applied" for r in results), results
    seen += [c["seq"] for c in page["changes"]]
    township = any_backend.township_id()
    held_seq, _floor = sync.read_cursor(
        _secret(database, township), township, puller.device_id, page["next_cursor"]
    )
    later = sync.pull(database, device[puller.device_id], page["next_cursor"], 1000)  # on to the end
    assert not later["has_more"]

    with database.read() as conn:
        visible = set(
            conn.execute(
                sa.select(db.changes.c.seq).where(
                    db.changes.c.township_id == township,
                    db.changes.c.seq <= held_seq,
                    sa.or_(db.changes.c.scope.is_(None), db.changes.c.scope == puller.device_id),
                )
            ).scalars()
        )
        pushed = set(
            conn.execute(
                sa.select(db.changes.c.seq).where(
                    db.changes.c.entity == "session", db.changes.c.entity_id.in_(list(sessions.values()))
                )
            ).scalars()
        )
    missed = visible - set(seen)
    assert not missed, (
        f"changes below the puller's cursor {held_seq} that it never received: {sorted(missed)}"
    )
    assert len(pushed) >= 4, "each session logged when made and by the push that booked it"
    assert pushed <= set(seen) | {c["seq"] for c in later["changes"]}


def _secret(database: Any, township_id: str) -> str:
    from township import db

    with database.read() as conn:
        return str(
            conn.execute(
                sa.select(db.townships.c.cursor_secret).where(db.townships.c.id == township_id)
            ).scalar_one()
        )

"""A Hypothesis stateful test of the sync protocol against a real backend (uvicorn on 127.0.0.1, SQLite and
PostgreSQL): interleavings of kiosk actions (book, cancel, move, check in), sync attempts through the fault proxy
(each with one scripted fault or none), and township staff decisions (confirm, reject).

After every step it checks SYNC.md's invariants that hold at any moment, plus "every status a kiosk shows was once
the township's status for that booking, or is a local change still to be pushed, or is the refusal of a create the
township refused". At the end of each example the link is made good, every kiosk syncs until quiet, and each kiosk's
view must equal the township's (invariant 4).

Deterministic and bounded: `derandomize=True`, a fixed number of examples and steps (about 10–20 s per backend).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from cunzhan.models import BookingStatus
from kiosk.booking import BookingRefused, Bookings
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim, cursor_seq
from tests.integration.test_sync_invariants import backend_sessions, kiosk_sessions
from tests.proxy import FAULTS, FaultPlan, FaultProxy

pytestmark = pytest.mark.usefixtures("keyring_ready")

KIOSKS = 2
RESIDENTS = 2  # few, so that the same person books at two kiosks
_names = itertools.count()


def _machine(backend: Backend, root: Path) -> type[RuleBasedStateMachine]:
    from township import db
    from township import services as S

    class SyncMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            n = next(_names)
            # A township of its own per example: fresh kiosk numbers (99 per township) and nothing shared.
            town = f"prop-{uuid.uuid4().hex[:10]}"
            S.create_township(backend.database, town, "性质测试镇")

            def new_session(**kw: Any) -> str:
                return backend.new_session(township=town, **kw)

            lease_service_session = new_session(capacity=2, starts_in=dt.timedelta(hours=30))
            service = self._service(lease_service_session)
            # Four sessions: two of one auto-confirm service inside the lease horizon (kiosks get seat leases; moves
            # between them), a reviewed one with one seat, and one starting within the hour (check-in is open).
            self.sessions = [
                lease_service_session,
                new_session(capacity=2, starts_in=dt.timedelta(hours=31), service_id=service),
                new_session(capacity=1, review=True, starts_in=dt.timedelta(days=3)),
                new_session(capacity=2, starts_in=dt.timedelta(hours=1)),
            ]
            self.town = town
            self.people = [unique_id_number() for _ in range(RESIDENTS)]
            self.proxy = FaultProxy(int(backend.url.rsplit(":", 1)[1]), FaultPlan(), seed=1).start()
            self.kiosks = [KioskSim(root, f"prop{n}-{i}") for i in range(KIOSKS)]
            self.engines = []
            for k in self.kiosks:
                k.enroll(self.proxy.url, backend.enrollment_code(town))
                self.engines.append(k.engine(self.proxy.url, seed=1))
            self.booked: list[list[str]] = [[] for _ in self.kiosks]
            self.cursors = [0 for _ in self.kiosks]

        @staticmethod
        def _service(session_id: str) -> str:
            with backend.database.read() as conn:
                return str(
                    conn.execute(
                        sa.select(db.sessions.c.service_id).where(db.sessions.c.id == session_id)
                    ).scalar_one()
                )

        def _pick(self, k: int, i: int) -> str | None:
            mine = self.booked[k]
            return mine[-1 - i % len(mine)] if mine else None  # the newest first: changes before a sync

        @initialize()
        def first_contact(self) -> None:
            """Both kiosks take the catalogue (and their seat leases) over a good link first."""
            for engine in self.engines:
                assert engine.sync_once().ok

        # --- kiosk actions -------------------------------------------------------------------------------------------

        @rule(
            k=st.integers(0, KIOSKS - 1),
            s=st.integers(0, 3),
            person=st.integers(0, RESIDENTS - 1),
            waitlist=st.booleans(),
        )
        def book(self, k: int, s: int, person: int, waitlist: bool) -> None:
            booking = self.kiosks[k].book(self.sessions[s], self.people[person], waitlist=waitlist)
            if booking is not None:
                self.booked[k].append(booking.id)

        @rule(
            s=st.integers(0, 3),
            person=st.integers(0, RESIDENTS - 1),
            synced_between=st.sampled_from([True, False]),
        )
        def book_at_both(self, s: int, person: int, synced_between: bool) -> None:
            """The same resident books the same session at both kiosks within seconds (the chaos run saw it), the
            first kiosk perhaps syncing in between."""
            self.book(0, s, person, waitlist=False)
            if synced_between:
                self.sync(0)
            self.book(1, s, person, waitlist=False)

        @precondition(lambda self: any(self.booked))
        @rule(
            k=st.sampled_from([1, 0]),
            i=st.integers(0, 3),
            change=st.sampled_from(["cancel", "check_in", "reschedule"]),
            s=st.integers(0, 3),
        )
        def change_booking(self, k: int, i: int, change: str, s: int) -> None:
            """The resident cancels, checks in, or moves one of this kiosk's bookings (the newest most often)."""
            booking_id = self._pick(k, i)
            if booking_id is None:
                return
            desk, now = Bookings(self.kiosks[k].store), self.kiosks[k].clock()
            try:
                if change == "cancel":
                    desk.cancel(booking_id, now=now)
                elif change == "check_in":
                    desk.check_in(booking_id, now=now)
                else:
                    desk.reschedule(booking_id, self.sessions[s], now=now)
            except BookingRefused:
                pass

        # --- sync through a faulty link ------------------------------------------------------------------------------

        @rule(k=st.integers(0, KIOSKS - 1), fault=st.sampled_from(FAULTS))
        def sync_through_a_fault(self, k: int, fault: str) -> None:
            self.proxy.plan = FaultPlan(retry_after_s=0, script=[fault])
            self.sync(k)

        @rule(k=st.integers(0, KIOSKS - 1))
        def sync(self, k: int) -> None:
            self.engines[k].sync_once()
            self.proxy.plan = FaultPlan()
            seq = cursor_seq(self.kiosks[k].store.state("catalogue_cursor"))
            assert seq >= self.cursors[k], "a cursor moved backwards"  # invariant 4, first half
            self.cursors[k] = seq

        # --- township staff ------------------------------------------------------------------------------------------

        @precondition(lambda self: any(self.booked))
        @rule(i=st.integers(0, 3), confirm=st.booleans())
        def staff_decides(self, i: int, confirm: bool) -> None:
            with backend.database.read() as conn:
                waiting = (
                    conn.execute(
                        sa.select(db.bookings.c.id)
                        .where(
                            db.bookings.c.session_id.in_(self.sessions),
                            db.bookings.c.status.in_(("pending_review", "waitlisted")),
                        )
                        .order_by(db.bookings.c.code)
                    )
                    .scalars()
                    .all()
                )
            if not waiting:
                return
            chosen = waiting[i % len(waiting)]
            try:
                if confirm:
                    S.confirm_booking(backend.database, chosen, staff_id=None)
                else:
                    S.reject_booking(backend.database, chosen, "名额已满", staff_id=None)
            except S.ServiceError:
                pass

        # --- invariants after every step -----------------------------------------------------------------------------

        @invariant()
        def capacity_never_exceeded(self) -> None:  # invariant 1
            with backend.database.read() as conn:
                for session_id in self.sessions:
                    capacity = conn.execute(
                        sa.select(db.sessions.c.capacity).where(db.sessions.c.id == session_id)
                    ).scalar_one()
                    held = conn.execute(
                        sa.select(sa.func.count())
                        .select_from(db.bookings)
                        .where(
                            db.bookings.c.session_id == session_id,
                            db.bookings.c.status.in_(("confirmed", "checked_in", "attended")),
                        )
                    ).scalar_one()
                    assert held <= capacity

        @invariant()
        def every_finished_op_has_its_one_result(self) -> None:  # invariants 2 and 5
            for k in self.kiosks:
                finished = [op for op in k.all_ops() if op["state"] != "pending"]
                with backend.database.read() as conn:
                    stored = {
                        r.op_id: r.result
                        for r in conn.execute(
                            sa.select(db.op_results).where(
                                db.op_results.c.device_id == k.store.state("device_id")
                            )
                        ).all()
                    }
                for op in finished:
                    assert op["op_id"] in stored, "the kiosk holds a result the township never stored"
                    theirs = stored[op["op_id"]]
                    assert (theirs["outcome"], theirs["reason"]) == (
                        op["result"]["outcome"],
                        op["result"]["reason"],
                    )
                    if op["kind"] == "create" and op["payload"].get("lease"):
                        assert op["result"]["reason"] != "slot_full", "a lease confirmation was overturned"

        @invariant()
        def every_kiosk_status_was_the_townships(self) -> None:
            with backend.database.read() as conn:
                history: dict[str, set[str]] = {}
                for entity_id, data in conn.execute(
                    sa.select(db.changes.c.entity_id, db.changes.c.data).where(
                        db.changes.c.entity == "booking"
                    )
                ).all():
                    history.setdefault(entity_id, set()).add(str(data["status"]))
                present = set(conn.execute(sa.select(db.bookings.c.id)).scalars().all())
            for k in self.kiosks:
                pending = {
                    r["entity_id"]
                    for r in k.store.query("SELECT entity_id FROM outbox WHERE state = 'pending'")
                }
                refused = {
                    r["entity_id"]
                    for r in k.store.query(
                        "SELECT entity_id FROM outbox WHERE kind = 'create' AND state = 'rejected'"
                    )
                }
                for row in k.store.query("SELECT id, status, message FROM bookings"):
                    if row["id"] in pending:
                        continue  # a local change still to be pushed
                    if row["id"] in refused:
                        assert row["id"] not in present
                        assert row["status"] == BookingStatus.REJECTED.value and row["message"], row
                        continue
                    assert row["id"] in present, "a booking the kiosk made is lost"  # invariant 3
                    assert row["status"] in history[row["id"]], (row, history[row["id"]])

        # --- at the end: quiet, and equal -------------------------------------------------------------------------------

        def teardown(self) -> None:
            try:
                self.proxy.plan = FaultPlan()
                self._quiesce()
                expected = backend_sessions(backend, self.town)
                for k in self.kiosks:
                    device = k.store.state("device_id")
                    with backend.database.read() as conn:
                        theirs = {
                            r.id: (r.status, r.version, r.session_id)
                            for r in conn.execute(
                                sa.select(db.bookings).where(db.bookings.c.device_id == device)
                            ).all()
                        }
                    mine = {
                        r["id"]: (r["status"], r["version"], r["session_id"])
                        for r in k.store.query("SELECT * FROM bookings")
                        if r["id"] in theirs
                    }
                    assert mine == theirs, k.name
                    shown = {s: v for s, v in kiosk_sessions(k).items() if s in self.sessions}
                    assert shown == expected, (k.name, _diff(shown, expected))
            finally:
                self.proxy.close()
                for k in self.kiosks:
                    k.close()

        def _quiesce(self) -> None:
            for _ in range(6):
                moved = 0
                for engine in self.engines:
                    report = engine.sync_once()
                    assert report.ok, report.error
                    moved += report.pushed + report.pulled
                if moved == 0:
                    return
            raise AssertionError("the kiosks never became quiet")

    return SyncMachine


def _diff(a: dict[str, Any], b: dict[str, Any]) -> str:
    return json.dumps(
        {key: [str(a.get(key)), str(b.get(key))] for key in a.keys() | b.keys() if a.get(key) != b.get(key)},
        ensure_ascii=False,
    )


def test_sync_properties(any_backend: Backend, tmp_path: Path) -> None:
    machine = _machine(any_backend, tmp_path)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=10,
            stateful_step_count=25,
            derandomize=True,
            database=None,
            deadline=None,
            phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck),
            print_blob=False,
        ),
    )

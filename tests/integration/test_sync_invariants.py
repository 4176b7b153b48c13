"""SYNC.md's five invariants, shown with several kiosk stores against one real backend (SQLite and PostgreSQL)
through the fault-injecting proxy: dropped requests, lost responses, duplicates, stale replays, truncated and
corrupted bodies, 502/503/429 — and kiosk clocks days off.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import sqlalchemy as sa

from cunzhan.models import BookingStatus
from kiosk.store import from_text
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from tests.proxy import FAULTS, FaultPlan, FaultProxy

pytestmark = pytest.mark.usefixtures("keyring_ready")

FAULTY = dict(
    drop_request=0.08,
    drop_response=0.08,
    duplicate=0.08,
    reorder=0.05,
    truncate_response=0.05,
    corrupt_response=0.04,
    truncate_request=0.03,
    corrupt_request=0.03,
    error_status=0.08,
    retry_after_s=0,
    delay_s=0.005,
)


@pytest.fixture
def proxy(any_backend: Backend) -> Iterator[FaultProxy]:
    port = int(any_backend.url.rsplit(":", 1)[1])
    with FaultProxy(port, FaultPlan(), seed=20261128) as p:
        yield p


def backend_rows(backend: Backend, table: sa.Table, *where: Any) -> list[Any]:
    with backend.database.read() as conn:
        return list(conn.execute(sa.select(table).where(*where)).all())


def backend_sessions(backend: Backend, township: str = "demo") -> dict[str, tuple[Any, ...]]:
    from township import booking as B
    from township import db

    tid = backend.township_id(township)
    with backend.database.read() as conn:
        rows = conn.execute(sa.select(db.sessions).where(db.sessions.c.township_id == tid)).all()
        return {
            r.id: (
                r.service_id,
                r.provider_id,
                from_text(db.iso(r.starts_at) or ""),
                from_text(db.iso(r.ends_at) or ""),
                r.capacity,
                B.seats_left(conn, r),
                r.status,
            )
            for r in rows
        }


def kiosk_sessions(k: KioskSim) -> dict[str, tuple[Any, ...]]:
    return {
        r["id"]: (
            r["service_id"],
            r["provider_id"],
            from_text(r["starts_at"]),
            from_text(r["ends_at"]),
            r["capacity"],
            r["seats_left"],
            r["status"],
        )
        for r in k.store.query("SELECT * FROM sessions WHERE deleted = 0")
    }


def sync_all_concurrently(kiosks: list[KioskSim], url: str, *, batch_size: int = 200) -> None:
    errors: list[BaseException] = []

    def run(k: KioskSim, seed: int) -> None:
        try:
            k.sync_until_ok(k.engine(url, seed=seed, batch_size=batch_size))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k, i)) for i, k in enumerate(kiosks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors


def quiesce(kiosks: list[KioskSim], url: str) -> None:
    """Sync every kiosk, round after round, until a whole round brings nothing new."""
    for _ in range(6):
        moved = 0
        for k in kiosks:
            reports = k.sync_until_ok(k.engine(url))
            moved += sum(r.pulled + r.pushed for r in reports)
        if moved == 0:
            return
    raise AssertionError("the kiosks never became quiet")


def test_invariants_under_faults(any_backend: Backend, proxy: FaultProxy, tmp_path: Path) -> None:
    backend = any_backend
    soon = dt.timedelta(hours=30)  # inside the backend's lease horizon: kiosks get seat leases for these
    full = backend.new_session(capacity=3, starts_in=soon)
    roomy = backend.new_session(capacity=6, starts_in=soon + dt.timedelta(hours=2))
    reviewed = backend.new_session(capacity=2, review=True, starts_in=soon)
    later = backend.new_session(capacity=2, starts_in=dt.timedelta(days=6))
    kiosks = [
        KioskSim(tmp_path, "k-on-time"),
        KioskSim(tmp_path, "k-ahead", skew=dt.timedelta(days=1)),
        KioskSim(tmp_path, "k-behind", skew=-dt.timedelta(days=3)),
    ]
    for k in kiosks:
        k.enroll(proxy.url, backend.enrollment_code())

    # 1. First contact through a bad link: every kiosk gets the catalogue and its leases.
    proxy.plan = FaultPlan(**FAULTY)  # type: ignore[arg-type]
    sync_all_concurrently(kiosks, proxy.url)
    for k in kiosks:
        assert k.store.session(full) is not None and k.store.session(later) is not None
    assert abs(float(kiosks[1].store.state("clock_skew_s") or 0) + 86400) < 120
    assert abs(float(kiosks[2].store.state("clock_skew_s") or 0) - 3 * 86400) < 120

    # 2. Offline, every kiosk books more than there are seats; some on leases, some requested, some waitlisted.
    made: dict[str, list[str]] = {k.name: [] for k in kiosks}
    on_lease: set[str] = set()
    cancelled: set[str] = set()
    for k in kiosks:
        for session, count, waitlist in (
            (full, 3, False),
            (roomy, 2, False),
            (reviewed, 2, False),
            (later, 2, False),
            (later, 1, True),
        ):
            for _ in range(count):
                booking = k.book(session, unique_id_number(), waitlist=waitlist)
                if booking is None:
                    continue
                made[k.name].append(booking.id)
                if booking.lease:
                    assert booking.status is BookingStatus.CONFIRMED
                    on_lease.add(booking.id)
        # A resident changes their mind before the kiosk ever synced: create and cancel travel together.
        victim = next(b for b in made[k.name] if b not in on_lease)
        from kiosk.booking import Bookings

        Bookings(k.store).cancel(victim, now=k.clock())
        cancelled.add(victim)
    assert on_lease, "no kiosk confirmed anything on a lease"
    # The kiosk whose clock is a day ahead still uses its leases: their expiry is kept in its own clock's frame.
    assert any(b in on_lease for b in made["k-ahead"])

    # 3. All kiosks push and pull at once through the faulty link (each kind of fault at least once, then random).
    proxy.plan = FaultPlan(**FAULTY, script=list(FAULTS))  # type: ignore[arg-type]
    sync_all_concurrently(kiosks, proxy.url, batch_size=3)  # small batches: more requests to hit
    for fault in FAULTS:
        assert proxy.stats[fault] > 0, f"the proxy never injected {fault}"

    # 4. Quiet: the link is good again and nothing new happens.
    proxy.plan = FaultPlan()
    quiesce(kiosks, proxy.url)

    from township import db

    # Invariant 1: capacity never exceeded, for any session.
    with backend.database.read() as conn:
        over = conn.execute(
            sa.select(db.sessions.c.id, db.sessions.c.capacity, sa.func.count(db.bookings.c.id))
            .join(db.bookings, db.bookings.c.session_id == db.sessions.c.id)
            .where(db.bookings.c.status.in_(("confirmed", "checked_in", "attended")))
            .group_by(db.sessions.c.id, db.sessions.c.capacity)
            .having(sa.func.count(db.bookings.c.id) > db.sessions.c.capacity)
        ).all()
    assert over == []
    confirmed_full = backend_rows(
        backend, db.bookings, db.bookings.c.session_id == full, db.bookings.c.status == "confirmed"
    )
    assert len(confirmed_full) <= 3

    # Invariant 2: one final result per op, stored once at the backend; replays return it unchanged.
    for k in kiosks:
        device = k.store.state("device_id")
        ops = k.all_ops()
        assert ops and all(op["state"] in ("done", "rejected") for op in ops)
        stored = {
            r.op_id: r for r in backend_rows(backend, db.op_results, db.op_results.c.device_id == device)
        }
        assert set(stored) == {op["op_id"] for op in ops}
        for op in ops:
            assert stored[op["op_id"]].result["outcome"] == op["result"]["outcome"]
            assert stored[op["op_id"]].result.get("reason") == op["result"]["reason"]
    before = {r.id: (r.status, r.version, r.session_id) for r in backend_rows(backend, db.bookings)}
    with backend.database.read() as conn:
        last_seq = conn.execute(sa.select(db.townships.c.last_seq)).scalars().all()
    for k in kiosks:
        wire = [
            {
                key: op[key]
                for key in (
                    "op_id",
                    "device_seq",
                    "entity",
                    "entity_id",
                    "kind",
                    "base_version",
                    "payload",
                    "created_at",
                )
            }
            for op in k.all_ops()
        ]
        token = __import__("kiosk.sync.credentials", fromlist=["x"]).load_token(k.data_dir)
        response = requests.post(
            backend.url + "/v1/sync/push",
            headers={"Authorization": f"Bearer {token}"},
            json={"device_id": k.store.state("device_id"), "ops": wire},
            timeout=60,
        )
        assert response.status_code == 200
        replies = response.json()["results"]
        assert [r["op_id"] for r in replies] == [op["op_id"] for op in wire]
        assert all(r["replayed"] for r in replies)
        for reply, op in zip(replies, k.all_ops(), strict=True):
            assert (reply["outcome"], reply["reason"]) == (op["result"]["outcome"], op["result"]["reason"])
    assert {r.id: (r.status, r.version, r.session_id) for r in backend_rows(backend, db.bookings)} == before
    with backend.database.read() as conn:
        assert conn.execute(sa.select(db.townships.c.last_seq)).scalars().all() == last_seq

    # Invariant 3: no booking lost: each exists at the backend, or its create was answered `rejected`.
    at_backend = {r.id: r for r in backend_rows(backend, db.bookings)}
    for k in kiosks:
        creates = {op["entity_id"]: op for op in k.all_ops() if op["kind"] == "create"}
        for booking_id in made[k.name]:
            if creates[booking_id]["result"]["outcome"] == "applied":
                assert booking_id in at_backend
            else:
                # Never accepted: shown as not accepted with the reason, even when the resident had cancelled it
                # (the township never had it, so "cancelled" would be a status it never gave).
                row = k.store.booking(booking_id)
                assert row is not None
                assert row.status is BookingStatus.REJECTED and row.message
        assert all(at_backend[b].status == "cancelled" for b in cancelled if b in at_backend)

    # Invariant 4: cursors only moved forward, and each kiosk's quiet view equals the backend's.
    expected_sessions = backend_sessions(backend)
    for k in kiosks:
        assert k.cursor_seqs == sorted(k.cursor_seqs), k.name
        assert kiosk_sessions(k) == expected_sessions, k.name
        device = k.store.state("device_id")
        theirs = {
            r.id: (r.status, r.version, r.session_id)
            for r in backend_rows(backend, db.bookings, db.bookings.c.device_id == device)
        }
        accepted = {
            op["entity_id"]
            for op in k.all_ops()
            if op["kind"] == "create" and op["result"]["outcome"] == "applied"
        }
        mine = {
            r["id"]: (r["status"], r["version"], r["session_id"])
            for r in k.store.query("SELECT * FROM bookings")
            if r["id"] in accepted
        }
        assert mine == theirs, k.name
        leases = {
            r.id: (r.session_id, r.seats - r.used)
            for r in backend_rows(
                backend, db.leases, db.leases.c.device_id == device, db.leases.c.state == "active"
            )
        }
        assert {
            r["id"]: (r["session_id"], r["seats"]) for r in k.store.query("SELECT * FROM leases")
        } == leases
        services = {r.id for r in backend_rows(backend, db.services, db.services.c.active.is_(True))}
        assert {r["id"] for r in k.store.query("SELECT id FROM services WHERE deleted = 0")} == services

    # Invariant 5: every lease-backed offline confirmation stood.
    for booking_id in on_lease:
        expected = "cancelled" if booking_id in cancelled else "confirmed"
        assert at_backend[booking_id].status == expected
        assert at_backend[booking_id].lease
    for k in kiosks:
        k.close()


def test_expired_cursor_repulls_and_keeps_the_outbox(backend: Backend, tmp_path: Path) -> None:
    k = KioskSim(tmp_path, "k410")
    k.enroll(backend.url, backend.enrollment_code())
    engine = k.engine()
    k.sync_until_ok(engine)
    session = backend.new_session(capacity=4, starts_in=dt.timedelta(days=4))
    k.sync_until_ok(engine)
    booking = k.book(session, unique_id_number())
    assert booking is not None
    # A cursor the backend does not know (a restored backup, another database): 410 on the next pull.
    k.store.set_state("catalogue_cursor", "bm90LWEtY3Vyc29y.AAAAAAAAAAAAAAAAAAAAAA")
    with k.store.transaction() as conn:
        conn.execute("INSERT INTO services (id, kind, name) VALUES ('stale-service', 'clinic', 'gone')")
    report = engine.sync_once()
    assert report.ok and report.repulled
    assert report.applied == 1  # the outbox was pushed, not dropped
    assert k.store.booking(booking.id).status is BookingStatus.CONFIRMED  # type: ignore[union-attr]
    assert k.store.query("SELECT deleted FROM services WHERE id = 'stale-service'")[0]["deleted"] == 1
    assert kiosk_sessions(k) == backend_sessions(backend)
    k.close()


def test_pull_never_overwrites_a_booking_with_pending_ops(backend: Backend, tmp_path: Path) -> None:
    from kiosk.booking import Bookings
    from kiosk.sync.engine import SyncReport
    from township import booking as B

    k = KioskSim(tmp_path, "kpending")
    k.enroll(backend.url, backend.enrollment_code())
    engine = k.engine()
    session = backend.new_session(capacity=4, starts_in=dt.timedelta(days=4))
    k.sync_until_ok(engine)
    booking = k.book(session, unique_id_number())
    assert booking is not None
    k.sync_until_ok(engine)
    Bookings(k.store).cancel(booking.id, now=k.clock())  # pending, not yet pushed
    with backend.database.write() as conn:  # meanwhile township staff change the booking's message
        B.update_booking(conn, booking.id, message="员工备注")
    engine._pull_all(SyncReport())  # a pull alone (as if the push had failed): must not touch the row
    row = k.store.booking(booking.id)
    assert row is not None and row.status is BookingStatus.CANCELLED and row.message != "员工备注"
    k.sync_until_ok(engine)  # push then pull: the backend's answer to the cancel now sets the row
    row = k.store.booking(booking.id)
    assert row is not None and row.status is BookingStatus.CANCELLED
    assert k.store.pending_count() == 0
    k.close()


def test_slot_full_keeps_alternatives_and_waitlist_is_promoted(backend: Backend, tmp_path: Path) -> None:
    from kiosk.booking import Bookings
    from kiosk.sync.apply import booking_alternatives
    from township import db

    full = backend.new_session(capacity=1, starts_in=dt.timedelta(days=5))
    service = backend_rows(backend, db.sessions, db.sessions.c.id == full)[0].service_id
    other = backend.new_session(capacity=3, starts_in=dt.timedelta(days=6), service_id=service)
    a, b = KioskSim(tmp_path, "ka"), KioskSim(tmp_path, "kb")
    c = KioskSim(tmp_path, "kc", skew=-dt.timedelta(days=2))
    for k in (a, b, c):
        k.enroll(backend.url, backend.enrollment_code())
        k.sync_until_ok(k.engine())
    first = a.book(full, unique_id_number())
    second = b.book(full, unique_id_number())  # offline, both saw the one free seat
    assert first is not None and second is not None
    a.sync_until_ok(a.engine())
    b.sync_until_ok(b.engine())
    row = a.store.booking(first.id)
    assert row is not None and row.status is BookingStatus.CONFIRMED
    row = b.store.booking(second.id)
    assert row is not None and row.status is BookingStatus.REJECTED and row.message
    offered = booking_alternatives(b.store, second.id)
    assert other in [alt.session_id for alt in offered] and len(offered) <= 3
    assert booking_alternatives(a.store, first.id) == []
    # A third kiosk (its clock two days behind) joins the waiting list; a seat frees; it is promoted.
    waiting = c.book(full, unique_id_number(), waitlist=True)
    assert waiting is not None
    c.sync_until_ok(c.engine())
    row = c.store.booking(waiting.id)
    assert row is not None and row.status is BookingStatus.WAITLISTED
    Bookings(a.store).cancel(first.id, now=a.clock())
    a.sync_until_ok(a.engine())
    c.sync_until_ok(c.engine())
    row = c.store.booking(waiting.id)
    assert row is not None and row.status is BookingStatus.CONFIRMED and row.message
    # The backend saw the kiosk's clock through the client-time header.
    device = backend_rows(backend, db.devices, db.devices.c.id == c.store.state("device_id"))[0]
    assert device.clock_skew_s is not None and abs(device.clock_skew_s - 2 * 86400) < 120
    for k in (a, b, c):
        k.close()


def test_interrupted_snapshot_still_sweeps_what_is_gone(backend: Backend, tmp_path: Path) -> None:
    k = KioskSim(tmp_path, "ksnap")
    k.enroll(backend.url, backend.enrollment_code())
    k.sync_until_ok(k.engine())
    with k.store.transaction() as conn:
        conn.execute("INSERT INTO services (id, kind, name) VALUES ('gone-service', 'clinic', 'gone')")
    k.store.set_state("catalogue_cursor", "bm90LWEtY3Vyc29y.AAAAAAAAAAAAAAAAAAAAAA")
    port = int(backend.url.rsplit(":", 1)[1])
    # 410, then the first page of the snapshot, then the link fails.
    with FaultProxy(port, FaultPlan(script=["pass", "pass", "drop_request"]), seed=5) as proxy:
        engine = k.engine(proxy.url)
        engine.pull_limit = 10
        report = engine.sync_once()
        assert not report.ok and report.repulled and report.pages == 1
        assert k.store.state("snapshot_seen")
        assert k.store.query("SELECT deleted FROM services WHERE id = 'gone-service'")[0]["deleted"] == 0
        report = engine.sync_once()  # resumes from its cursor, and still knows it is finishing a snapshot
        assert report.ok and not report.repulled
    assert k.store.query("SELECT deleted FROM services WHERE id = 'gone-service'")[0]["deleted"] == 1
    assert k.store.state("snapshot_seen") == ""
    assert kiosk_sessions(k) == backend_sessions(backend)
    k.close()

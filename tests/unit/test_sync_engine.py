"""The sync engine's own rules, on a real store, without a backend: offline state, backoff, skew, leases, bad data."""

from __future__ import annotations

import datetime as dt
import random
import socket

from cunzhan import protocol
from kiosk.store import Store, from_text, to_text, utc_now
from kiosk.sync.client import Busy, TownshipClient
from kiosk.sync.engine import SyncEngine, SyncReport


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = int(s.getsockname()[1])
    s.close()
    return port


def _engine(store: Store, *, skew: dt.timedelta = dt.timedelta(0)) -> SyncEngine:
    client = TownshipClient(f"http://127.0.0.1:{_closed_port()}", "token")
    return SyncEngine(store, client, "device-1", clock=lambda: utc_now() + skew, rng=random.Random(1))


def test_offline_attempt_is_recorded_and_backs_off(store: Store) -> None:
    engine = _engine(store)
    delays = []
    for _ in range(6):
        report = engine.sync_once()
        assert report.error is not None and report.error.kind == "offline"
        delays.append(engine.next_delay(report, 60))
    assert store.state("link") == "offline"
    assert (store.state("last_error") or "").startswith("offline: ")
    assert store.state("last_success_at") is None and store.state("last_attempt_at")
    assert engine.failures == 6
    assert all(0 <= d <= 2 * 2**i for i, d in enumerate(delays))


def test_retry_after_is_honoured_and_success_resets(store: Store) -> None:
    engine = _engine(store)
    engine.failures = 3
    busy = SyncReport(error=Busy("busy", status=503, retry_after=40.0))
    assert all(engine.next_delay(busy, 60) >= 40.0 for _ in range(20))
    assert engine.next_delay(SyncReport(), 60) == 60


def _change(entity: str, data: dict[str, object], *, op: str = "upsert", seq: int = 1) -> protocol.Change:
    return protocol.Change(seq=seq, entity=entity, entity_id="e-" + entity, op=op, version=2, data=data)  # type: ignore[arg-type]


def test_skew_is_measured_against_the_kiosk_clock(store: Store) -> None:
    engine = _engine(store, skew=-dt.timedelta(days=3))
    report = SyncReport()
    engine._note_skew(to_text(utc_now()), engine.clock(), report)
    assert report.clock_skew_s is not None and abs(report.clock_skew_s - 3 * 86400) < 5
    assert abs(float(store.state("clock_skew_s") or 0) - 3 * 86400) < 5


def test_lease_expiry_is_kept_in_the_kiosk_clock_frame(store: Store) -> None:
    engine = _engine(store, skew=dt.timedelta(days=1))  # the kiosk clock runs a day ahead
    store.set_state("clock_skew_s", str(-86400.0))
    expires = utc_now() + dt.timedelta(hours=6)
    with store.transaction() as conn:
        assert engine._apply_change(
            conn, _change("lease", {"session_id": "s1", "seats": 2, "expires_at": to_text(expires)})
        )
    row = store.query("SELECT * FROM leases")[0]
    assert row["seats"] == 2
    assert abs((from_text(row["expires_at"]) - (expires + dt.timedelta(days=1))).total_seconds()) < 2
    # …so the kiosk, on its own clock, still holds the seats.
    assert store.lease_seats_free("s1", now=engine.clock()) == 2


def test_unusable_changes_are_skipped_not_fatal(store: Store) -> None:
    engine = _engine(store)
    with store.transaction() as conn:
        assert not engine._apply_change(conn, _change("session", {"service_id": "x"}))
        assert not engine._apply_change(conn, _change("service", {"kind": "spaceship", "name": "x"}))
        assert engine._apply_change(conn, _change("service", {"kind": "clinic", "name": "义诊"}))
        assert engine._apply_change(conn, _change("notice", {"title": "停电通知"}))
        assert engine._apply_change(conn, _change("notice", {}, op="delete"))
    assert [r["name"] for r in store.query("SELECT name FROM services")] == ["义诊"]
    assert store.query("SELECT count(*) AS n FROM notices")[0]["n"] == 0
    assert store.query("SELECT count(*) AS n FROM sessions")[0]["n"] == 0

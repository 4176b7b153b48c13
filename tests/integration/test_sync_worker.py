"""The sync worker: its own thread and connection, "sync now", retry when the link returns, prompt stop."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QLabel

from cunzhan.models import BookingStatus
from kiosk.store import Store
from kiosk.sync.enroll import enroll
from kiosk.sync.status import SyncStatus
from kiosk.sync.worker import SyncWorker
from tests.integration.conftest import Backend, unique_id_number
from tests.integration.sync_kiosks import KioskSim
from tests.proxy import FaultPlan, FaultProxy

pytestmark = pytest.mark.usefixtures("keyring_ready")


def test_sync_now_and_prompt_stop(backend: Backend, tmp_path: Path) -> None:
    kiosk = KioskSim(tmp_path, "w1")
    kiosk.enroll(backend.url, backend.enrollment_code())
    session = backend.new_session(capacity=5, starts_in=dt.timedelta(days=3))
    seen: list[SyncStatus] = []
    worker = SyncWorker(kiosk.store.path, on_change=seen.append, interval_s=3600).start()
    try:
        assert worker.wait_for_attempts(1, timeout=60)
        booking = kiosk.book(session, unique_id_number())  # the UI's connection; the worker has its own
        assert booking is not None and booking.status is BookingStatus.REQUESTED
        worker.sync_now()  # the timer is an hour away: only "sync now" can push this
        assert worker.wait_for_attempts(2, timeout=60)
        row = kiosk.store.booking(booking.id)
        assert row is not None and row.status is BookingStatus.CONFIRMED
        assert seen[-1].pending_ops == 0 and seen[-1].online and seen[-1].last_success_at is not None
    finally:
        worker.stop(timeout=10)
    assert not worker.running
    kiosk.close()


def test_worker_syncs_when_the_link_returns(backend: Backend, tmp_path: Path) -> None:
    port = int(backend.url.rsplit(":", 1)[1])
    kiosk = KioskSim(tmp_path, "w2")
    kiosk.enroll(backend.url, backend.enrollment_code())
    session = backend.new_session(capacity=5, starts_in=dt.timedelta(days=3))
    kiosk.sync_until_ok(kiosk.engine())
    with FaultProxy(port, FaultPlan(drop_request=1.0, paths=("/v1/",)), seed=3) as proxy:
        kiosk.store.set_state("township_url", proxy.url)
        booking = kiosk.book(session, unique_id_number())
        assert booking is not None
        worker = SyncWorker(kiosk.store.path, interval_s=3600, probe_interval_s=0.1).start()
        try:
            assert worker.wait_for_attempts(1, timeout=60)
            assert worker.last_report is not None and worker.last_report.error is not None
            assert kiosk.store.state("link") == "offline"
            assert kiosk.store.state("last_error", "").startswith("offline:")  # type: ignore[union-attr]
            proxy.plan = FaultPlan()  # the link comes back
            attempts = worker.attempts
            while not (worker.last_report is not None and worker.last_report.ok):
                attempts += 1
                assert worker.wait_for_attempts(attempts, timeout=60), "no sync after the link came back"
        finally:
            worker.stop(timeout=10)
        assert proxy.stats["path:/v1/health"] >= 1  # it noticed through the cheap probe
    row = kiosk.store.booking(booking.id)
    assert row is not None and row.status is BookingStatus.CONFIRMED
    assert kiosk.store.state("link") == "online" and kiosk.store.state("last_error") == ""
    kiosk.close()


def test_not_enrolled_worker_does_nothing_harmful(store: Store) -> None:
    from kiosk.sync.worker import start_if_enrolled

    assert start_if_enrolled(store.path) is None


def test_enrol_and_worker_share_the_store_file(backend: Backend, store: Store) -> None:
    enroll(backend.url, backend.enrollment_code(), "k", store=store)
    worker = SyncWorker(store.path, interval_s=3600).start()
    try:
        assert worker.wait_for_attempts(1, timeout=60)
    finally:
        worker.stop()
    assert store.query("SELECT count(*) AS n FROM sessions")[0]["n"] > 0


def test_the_kiosk_window_hears_from_its_sync_worker(backend: Backend, tmp_path: Path, qtbot: Any) -> None:
    """`run` starts the worker with the window's sync signal: each finished sync refreshes home's link state."""
    from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice
    from kiosk.ui.app import _start_sync, build_window
    from kiosk.ui.context import KioskContext
    from kiosk.ui.ops import SyncOps

    kiosk = KioskSim(tmp_path, "w9")
    kiosk.enroll(backend.url, backend.enrollment_code())
    ctx = KioskContext(store=kiosk.store, speech=CaptionOnlySpeech(), voice=NoVoice("none"), ops=SyncOps())
    window = build_window(ctx, staff=False)
    qtbot.addWidget(window)
    window.go_home()
    window.show()
    with qtbot.waitSignal(window.sync_changed, timeout=60_000):
        worker = _start_sync(kiosk.store, window)
    try:
        assert worker is not None

        def home_says_online() -> (
            bool
        ):  # home rebuilds its status label on each refresh: look it up every time
            label = window.findChild(QLabel, "sync_status")
            return label is not None and label.isVisible() and label.text().startswith("已联网")

        qtbot.waitUntil(home_says_online, timeout=10_000)
    finally:
        if worker is not None:
            worker.stop(timeout=10)
        window.unlock_and_close()
        kiosk.close()

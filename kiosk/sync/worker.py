"""The sync worker: a thread with its own store connection that runs the engine on a timer, on "sync now", and when
the link comes back.

While the link is down it probes `GET /v1/health` every few seconds (a few hundred bytes) and syncs as soon as the
township answers, instead of sleeping out the whole backoff. After other failures (busy, server errors) it waits the
full-jitter backoff, honouring `Retry-After`.

`on_change(SyncStatus)` is called from the worker thread after every attempt; a Qt UI must forward it to the main
thread (a queued signal) before touching widgets.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from kiosk.store import Store, SyncKey, utc_now
from kiosk.sync.client import LinkDown, SyncError
from kiosk.sync.engine import Clock, SyncEngine, SyncReport
from kiosk.sync.status import SyncStatus, read_status

log = logging.getLogger("kiosk.sync")

OnChange = Callable[[SyncStatus], None]
PROBE_INTERVAL_S = 5.0


class SyncWorker:
    """Runs `SyncEngine.sync_once()` on its own thread. `start()`, `sync_now()`, `stop()`."""

    def __init__(
        self,
        store_path: Path,
        *,
        on_change: OnChange | None = None,
        interval_s: float | None = None,
        probe_interval_s: float = PROBE_INTERVAL_S,
        clock: Clock = utc_now,
        ca_bundle: str | None = None,
    ) -> None:
        self.store_path = Path(store_path)
        self.on_change = on_change
        self._interval_override = interval_s
        self.probe_interval_s = probe_interval_s
        self.clock = clock
        self.ca_bundle = ca_bundle
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.last_report: SyncReport | None = None
        self.attempts = 0
        self._done = threading.Condition()

    # --- control ----------------------------------------------------------------------------------------------------

    def start(self) -> SyncWorker:
        """Start the thread (it syncs at once)."""
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="cunzhan-sync", daemon=True)
                self._thread.start()
        return self

    def sync_now(self) -> None:
        """Ask for a sync as soon as possible (staff "sync now", or a new booking)."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread and wait for it (an exchange in flight is abandoned after `timeout`)."""
        self._stop.set()
        self._wake.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_for_attempts(self, count: int, timeout: float) -> bool:
        """Block until at least `count` attempts have finished (for tools and tests); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self.attempts < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    # --- thread -----------------------------------------------------------------------------------------------------

    def _interval(self, store: Store) -> float:
        if self._interval_override is not None:
            return self._interval_override
        from kiosk import settings as s

        return float(s.Settings(store.stored_settings()).get(s.SYNC_INTERVAL_S))

    def _run(self) -> None:
        try:
            store = Store.open(self.store_path)
        except Exception:  # the UI keeps working offline; the reason is logged without data
            log.exception("sync worker could not open the store")
            return
        engine: SyncEngine | None = None
        try:
            while not self._stop.is_set():
                self._wake.clear()
                if engine is None:
                    self._provision(store)
                    try:
                        engine = SyncEngine.from_store(store, clock=self.clock, ca_bundle=self.ca_bundle)
                    except Exception as exc:  # e.g. a locked keyring: told to staff, retried
                        store.set_state(SyncKey.LAST_ERROR, f"keyring: {type(exc).__name__}")
                        engine = None
                if engine is None:
                    self._finish(store)
                    self._wake.wait(self._interval(store))
                    continue
                report = engine.sync_once()
                self.last_report = report
                self._finish(store)
                delay = engine.next_delay(report, self._interval(store))
                if isinstance(report.error, LinkDown):
                    self._probe_until(engine, delay)
                else:
                    self._wake.wait(delay)
        finally:
            if engine is not None:
                engine.client.close()
            store.close()

    def _provision(self, store: Store) -> None:
        """Enrol from a waiting provisioning file (here, off the UI thread; retried while the township is away)."""
        from kiosk.sync.enroll import EnrollError, provision_from_file

        try:
            provision_from_file(store, ca_bundle=self.ca_bundle)
        except EnrollError as exc:
            store.set_state(SyncKey.LAST_ERROR, f"enrol: {exc.message()}")
            log.warning("provisioning failed: %s", exc.kind)

    def _finish(self, store: Store) -> None:
        with self._done:
            self.attempts += 1
            self._done.notify_all()
        if self.on_change is not None:
            try:
                self.on_change(read_status(store))
            except Exception:  # a UI callback bug must not stop syncing
                log.exception("sync on_change callback failed")

    def _probe_until(self, engine: SyncEngine, delay: float) -> None:
        """Offline: probe the township every few seconds; return when it answers, on wake/stop, or after `delay`."""
        deadline = time.monotonic() + delay
        while not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._wake.wait(min(self.probe_interval_s, left)):
                return
            try:
                engine.client.health()
            except SyncError:
                continue
            log.info("township reachable again")
            return


def start_if_enrolled(store_path: Path, on_change: OnChange | None = None) -> SyncWorker | None:
    """At UI start-up: start syncing when the kiosk is enrolled, or when a provisioning file waits to enrol it (the
    worker enrols from it on its own thread, so the UI never waits for the network). None otherwise."""
    from kiosk.sync import credentials
    from kiosk.sync.enroll import provision_path

    try:
        store = Store.open(store_path)
    except Exception:  # the UI reports store problems itself
        log.exception("sync: store could not be opened")
        return None
    try:
        if not provision_path(store.path.parent).exists():
            if not store.state(SyncKey.DEVICE_ID):
                return None
            try:
                if not credentials.load_token(store.path.parent):
                    store.set_state(SyncKey.LAST_ERROR, "enrol: no device token in the keyring")
                    return None
            except credentials.CredentialError as exc:
                store.set_state(SyncKey.LAST_ERROR, f"keyring: {exc.message()}")
                return None
    finally:
        store.close()
    return SyncWorker(store_path, on_change=on_change).start()

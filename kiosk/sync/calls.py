"""The waiting-room call listener: a thread that long-polls the township for this kiosk's calls (#16).

`GET /v1/calls?after=SEQ&wait=25` is held open by the township until a call is made for this kiosk (in the console,
by the doctor or teacher), so a call reaches the waiting-room display within a second or two instead of at the next
sync. The last seq answered is kept in `sync_state` (`SyncKey.CALLS_AFTER`): after a restart the kiosk asks from
there, and a call is announced once. Each call also marks its booking as called in the store, so the staff's
叫下一位 passes over a number the console called.

Offline, or when the township answers with an error, the listener waits a full-jitter backoff (at most
`RETRY_CAP_S`: a waiting room must hear of the link's return soon) and asks again; it stops at the end of the
poll in flight on `stop()` (a poll still held open is abandoned: the thread is a daemon, as the sync worker's).

`on_calls(list[Call])` is called on the listener's thread; a Qt UI forwards it to the main thread with a queued
signal (`kiosk.ui.display.CallRelay`).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from cunzhan import protocol
from kiosk.store import Store, SyncKey, from_text
from kiosk.sync.client import Busy, SyncError, TownshipClient
from kiosk.sync.engine import backoff_delay

log = logging.getLogger("kiosk.sync.calls")

OnCalls = Callable[[list[protocol.Call]], None]
RETRY_CAP_S = 30.0
NOT_ENROLLED_WAIT_S = 60.0
# A call older than this when it arrives (a kiosk back after an outage, or one asking for the first time) is kept
# as seen but not shown or announced: the resident it called has long gone in or gone home.
FRESH_S = 600.0


def is_fresh(call: protocol.Call, server_time: str) -> bool:
    """Whether `call` was made at most `FRESH_S` before the township's answer (both on the township's clock)."""
    try:
        age = (from_text(server_time) - from_text(call.at)).total_seconds()
    except (TypeError, ValueError):
        return True
    return age <= FRESH_S


class CallListener:
    """Long-polls `/v1/calls` on its own thread with its own store connection. `start()`, `stop()`."""

    def __init__(
        self,
        store_path: Path,
        *,
        on_calls: OnCalls,
        wait_s: int = protocol.CALLS_MAX_WAIT,
        retry_cap_s: float = RETRY_CAP_S,
        ca_bundle: str | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.store_path = Path(store_path)
        self.on_calls = on_calls
        self.wait_s = max(0, min(wait_s, protocol.CALLS_MAX_WAIT))
        self.retry_cap_s = retry_cap_s
        self.ca_bundle = ca_bundle
        self.rng = rng or random.Random()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._done = threading.Condition()
        self.polls = 0  # polls finished, answered or not (for tools and tests)
        self.failures = 0  # failed polls in a row
        self._last_transient = True  # whether the last failure may pass by itself (else: credentials, TLS)
        self._retry_after: float | None = None

    def start(self) -> CallListener:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="cunzhan-calls", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 2.0) -> None:
        """Stop asking; waits up to `timeout` for the poll in flight (its answer is then dropped)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait_for_polls(self, count: int, timeout: float) -> bool:
        """Block until at least `count` polls have finished; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self.polls < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._done.wait(left)
        return True

    # --- thread -----------------------------------------------------------------------------------------------------

    def _client(self, store: Store) -> TownshipClient | None:
        from kiosk.sync.client import enrolled_client

        return enrolled_client(store, ca_bundle=self.ca_bundle)

    def _run(self) -> None:
        try:
            store = Store.open(self.store_path)
        except Exception:  # the UI keeps working; the reason is logged without data
            log.exception("call listener could not open the store")
            return
        client: TownshipClient | None = None
        try:
            while not self._stop.is_set():
                if client is None:
                    client = self._client(store)
                    if client is None:
                        self._stop.wait(NOT_ENROLLED_WAIT_S)
                        continue
                if not self._poll(store, client):
                    if not self._last_transient:
                        client.close()
                        client = (
                            None  # credentials may have changed (the kiosk enrolled again): read them anew
                        )
                    self._stop.wait(self._delay())
        finally:
            if client is not None:
                client.close()
            store.close()

    def _poll(self, store: Store, client: TownshipClient) -> bool:
        """One long poll; False when it failed."""
        after = int(store.state(SyncKey.CALLS_AFTER, "0") or 0)
        try:
            answer = client.calls(after, self.wait_s)
        except SyncError as exc:
            self.failures += 1
            self._last_transient = exc.transient
            self._retry_after = exc.retry_after if isinstance(exc, Busy) else None
            log.info("calls poll failed: %s", exc.kind)
            self._finished()
            return False
        self.failures = 0
        if self._stop.is_set():
            return True
        fresh = [call for call in answer.calls if is_fresh(call, answer.server_time)]
        if fresh:
            try:
                self.on_calls(fresh)
            except Exception:  # a UI callback bug must not stop the listener
                log.exception("calls on_calls callback failed")
        with store.transaction() as conn:
            for call in answer.calls:
                store.mark_called(conn, call.booking_id, call.action, from_text(call.at))
            store.set_state(SyncKey.CALLS_AFTER, str(answer.last_seq), conn)
        self._finished()
        return True

    def _delay(self) -> float:
        if not self._last_transient:
            return NOT_ENROLLED_WAIT_S
        delay = backoff_delay(self.failures - 1, self.rng, self._retry_after)
        return min(delay, max(self.retry_cap_s, self._retry_after or 0.0))

    def _finished(self) -> None:
        with self._done:
            self.polls += 1
            self._done.notify_all()

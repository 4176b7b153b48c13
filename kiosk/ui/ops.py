"""The ONE helper for background work in the kiosk UI (after Anki's QueryOp / CollectionOp on its task manager).

Anything that may take more than ~10 ms (a booking write with its fsync, printing, a large query) goes through an
`OpRunner`:

    ops.write(lambda: bookings.book(...), on_done=show_done, on_error=show_refusal)   # serial, database writes
    ops.run(lambda: render_pdf(...), on_done=...)                                     # serial, everything else

`ThreadOps` runs each kind on its own serial worker thread (so database writes never interleave) and delivers the
result or the exception back on the Qt main thread through a queued signal. The workers are plain threads reading a
queue, started on first use (`concurrent.futures` and the `logging` it pulls in would cost ~15 ms of start-up).
Tests install `SyncOps`, which runs the function at once on the calling thread, so a click is followed by its result
before the next line of the test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

if TYPE_CHECKING:
    import queue

T = TypeVar("T")
OnError = Callable[[BaseException], None]


class OpRunner(Protocol):
    """Runs work off the main thread and reports back on it."""

    def write(
        self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None
    ) -> None:
        """Run a database write on the serial writer; `on_done(result)` or `on_error(exc)` on the main thread."""

    def run(
        self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None
    ) -> None:
        """Run any other slow work (printing, rendering, large reads) on the serial general worker."""

    def shutdown(self) -> None:
        """Finish queued work and stop the workers."""


def _report(exc: BaseException, on_error: OnError | None) -> None:
    if on_error is None:
        raise exc
    on_error(exc)


class SyncOps:
    """Runs every op at once on the calling thread (tests, screenshots, benchmarks)."""

    def write(
        self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None
    ) -> None:
        self._call(fn, on_done, on_error)

    def run(
        self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None
    ) -> None:
        self._call(fn, on_done, on_error)

    def shutdown(self) -> None:
        return None

    @staticmethod
    def _call(fn: Callable[[], T], on_done: Callable[[T], None], on_error: OnError | None) -> None:
        try:
            result = fn()
        except Exception as exc:
            _report(exc, on_error)
            return
        on_done(result)


class _Bridge(QObject):
    """Carries a finished op's callback from a worker thread to the main thread."""

    finished = Signal(object)

    def __init__(self) -> None:
        super().__init__()
        # Only worker threads emit, so Qt queues the call to the thread this object lives on (the main thread).
        self.finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @staticmethod
    def _deliver(callback: Callable[[], None]) -> None:
        callback()


class SerialWorker:
    """One thread running submitted jobs in order, started by the first job. `shutdown()` runs what is queued, then
    stops the thread. A daemon thread: an exit that skips `shutdown()` cannot hang, and a write cut short there is
    rolled back whole by SQLite (nothing is acknowledged before its commit)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] | None = None  # made by the first job
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, job: Callable[[], None]) -> None:
        with self._lock:
            if self._thread is None or self._jobs is None:
                import queue

                jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
                self._jobs = jobs
                self._thread = threading.Thread(target=self._loop, args=(jobs,), name=self._name, daemon=True)
                self._thread.start()
            self._jobs.put(job)

    @staticmethod
    def _loop(jobs: queue.SimpleQueue[Callable[[], None] | None]) -> None:
        while (job := jobs.get()) is not None:
            job()

    def shutdown(self) -> None:
        with self._lock:
            thread, jobs = self._thread, self._jobs
            self._thread = self._jobs = None
        if thread is not None and jobs is not None:
            jobs.put(None)
            thread.join()


class ThreadOps:
    """Two serial workers: one for database writes, one for everything else; results back by signal."""

    def __init__(self) -> None:
        self._bridge = _Bridge()
        self._writer = SerialWorker("kiosk-db-write")
        self._general = SerialWorker("kiosk-work")

    def write(
        self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None
    ) -> None:
        self._writer.submit(lambda: self._job(fn, on_done, on_error))

    def run(
        self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None
    ) -> None:
        self._general.submit(lambda: self._job(fn, on_done, on_error))

    def _job(self, fn: Callable[[], T], on_done: Callable[[T], None], on_error: OnError | None) -> None:
        try:
            result = fn()
        except Exception as exc:
            error = exc
            self._bridge.finished.emit(lambda: _report(error, on_error))
            return
        self._bridge.finished.emit(lambda: on_done(result))

    def shutdown(self) -> None:
        self._writer.shutdown()
        self._general.shutdown()

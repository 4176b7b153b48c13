"""The ONE helper for background work in the kiosk UI (after Anki's QueryOp / CollectionOp on its task manager).

Anything that may take more than ~10 ms (a booking write with its fsync, printing, a large query) goes through an
`OpRunner`:

    ops.write(lambda: bookings.book(...), on_done=show_done, on_error=show_refusal)   # serial, database writes
    ops.run(lambda: render_pdf(...), on_done=...)                                     # serial, everything else

`ThreadOps` runs each kind on its own single-thread executor (so database writes never interleave) and delivers the
result or the exception back on the Qt main thread through a queued signal. Tests install `SyncOps`, which runs the
function at once on the calling thread, so a click is followed by its result before the next line of the test.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

T = TypeVar("T")
OnDone = Callable[[Any], None]
OnError = Callable[[BaseException], None]


class OpRunner(Protocol):
    """Runs work off the main thread and reports back on it."""

    def write(self, fn: Callable[[], T], *, on_done: Callable[[T], None],
              on_error: OnError | None = None) -> None:
        """Run a database write on the serial writer; `on_done(result)` or `on_error(exc)` on the main thread."""

    def run(self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None) -> None:
        """Run any other slow work (printing, rendering, large reads) on the serial general worker."""

    def shutdown(self) -> None:
        """Finish queued work and stop the workers."""


def _report(exc: BaseException, on_error: OnError | None) -> None:
    if on_error is None:
        raise exc
    on_error(exc)


class SyncOps:
    """Runs every op at once on the calling thread (tests, screenshots, benchmarks)."""

    def write(self, fn: Callable[[], T], *, on_done: Callable[[T], None],
              on_error: OnError | None = None) -> None:
        self._call(fn, on_done, on_error)

    def run(self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None) -> None:
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
        # Queued: the slot runs on the thread this object lives on (the main thread), whoever emits.
        self.finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    @staticmethod
    def _deliver(callback: Callable[[], None]) -> None:
        callback()


class ThreadOps:
    """Two serial executors: one for database writes, one for everything else; results back by signal."""

    def __init__(self) -> None:
        self._bridge = _Bridge()
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-db-write")
        self._general = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-work")

    def write(self, fn: Callable[[], T], *, on_done: Callable[[T], None],
              on_error: OnError | None = None) -> None:
        self._writer.submit(self._job, fn, on_done, on_error)

    def run(self, fn: Callable[[], T], *, on_done: Callable[[T], None], on_error: OnError | None = None) -> None:
        self._general.submit(self._job, fn, on_done, on_error)

    def _job(self, fn: Callable[[], T], on_done: Callable[[T], None], on_error: OnError | None) -> None:
        try:
            result = fn()
        except Exception as exc:
            error = exc
            self._bridge.finished.emit(lambda: _report(error, on_error))
            return
        self._bridge.finished.emit(lambda: on_done(result))

    def shutdown(self) -> None:
        self._writer.shutdown(wait=True)
        self._general.shutdown(wait=True)

"""Practice mode (练习模式): the whole resident journey on the real screens, with nothing stored or synced.

A `PracticeSession` is a throw-away `Store` holding a copy of the kiosk's catalogue (services, providers, upcoming
sessions with their seats, seat leases, settings, the kiosk number). The real booking rules run against it, so a
trainee sees exactly what a resident would: full sessions, alternatives, confirmed or requested. What makes it
throw-away:

- its file lives in a fresh folder in memory-backed storage (`/dev/shm` when there is one, else the system temp
  folder), never under the kiosk's data directory, and the folder is deleted when the session closes;
- personal fields in it are encrypted with a random key that exists only in this process's memory (never in the
  keyring), so even a copy left behind by a crash cannot be read; leftovers of dead processes are removed on the next
  start;
- no sync worker ever opens it, and it is marked (`sync_state.practice = 1`) so code that receives it can tell.

The UI reads `PracticeSession.active` / `banner_text()` to draw the practice banner on every screen.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from cunzhan.i18n import N_, gettext
from kiosk.store import Store, SyncKey, utc_now

if TYPE_CHECKING:
    from kiosk.booking import BookingRules, Bookings

PREFIX = "cunzhan-practice-"
# Sync-state keys a practice store copies so screens read the same (never the device id: a practice store is not
# an enrolled kiosk, and status screens should say so).
_COPIED_STATE = (SyncKey.KIOSK_NUMBER, SyncKey.LINK, SyncKey.LAST_SUCCESS_AT, SyncKey.TOWNSHIP_URL)
BANNER = N_("Practice mode: nothing you do here is saved or sent to the township.")
# Practice store (by object id) → the kiosk's real store, while the practice session is open. Staff PINs, settings
# and the practice switch itself always live in the real store.
_REAL: dict[int, Store] = {}


def banner_text() -> str:
    """The words of the practice banner shown on every screen (translated)."""
    return gettext(BANNER)


def scratch_root() -> Path:
    """Where practice stores live: memory-backed `/dev/shm` when writable, else the system temp folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        return shm
    import tempfile

    return Path(tempfile.gettempdir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_leftovers(root: Path | None = None) -> int:
    """Delete practice folders left by processes that died (their key died with them). Returns how many."""
    removed = 0
    for folder in (root or scratch_root()).glob(PREFIX + "*"):
        try:
            pid = int(folder.name[len(PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        if pid != os.getpid() and not _pid_alive(pid):
            import shutil

            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


class PracticeSession:
    """A throw-away store with a copy of the real store's catalogue. Use as a context manager or call `close()`."""

    def __init__(self, real: Store, *, root: Path | None = None) -> None:
        base = root or scratch_root()
        remove_leftovers(base)
        import secrets
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=base))
        from cunzhan.fieldcrypto import FieldCipher

        self.store = Store(self.folder / "practice.db", FieldCipher.from_master(secrets.token_bytes(32)))
        self._closed = False
        self.real = real
        _REAL[id(self.store)] = real
        try:
            self._copy_catalogue(real)
        except BaseException:
            self.close()
            raise

    active = True  # read by the UI: the app is in practice mode while it works on this session's store

    def _copy_catalogue(self, real: Store) -> None:
        # Reads only: the real file is not written to (a test compares it byte for byte).
        copy = real.catalogue_copy(
            sessions_ending_after=utc_now().replace(hour=0, minute=0, second=0, microsecond=0)
        )
        state = real.states(_COPIED_STATE)
        with self.store.transaction() as conn:
            self.store.load_catalogue_copy(conn, copy)
            for key, value in state.items():
                self.store.set_state(key, value, conn)
            self.store.set_state(SyncKey.PRACTICE, "1", conn)

    def bookings(self, *, rules: BookingRules | None = None) -> Bookings:
        """The real booking rules over the practice store."""
        from kiosk.booking import Bookings

        return Bookings(self.store, rules=rules)

    def close(self) -> None:
        """Forget everything done in practice: close the store and delete its folder."""
        if self._closed:
            return
        self._closed = True
        self.active = False
        _REAL.pop(id(self.store), None)
        try:
            self.store.close()
        finally:
            import shutil

            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> PracticeSession:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def is_practice_store(store: Store) -> bool:
    """Whether `store` is a practice store (the sync engine and slip printing can refuse it)."""
    return store.state(SyncKey.PRACTICE) == "1"


def kiosk_store(store: Store) -> Store:
    """The kiosk's real store behind `store`: itself, or for an open practice store the store it was copied from."""
    return _REAL.get(id(store), store)

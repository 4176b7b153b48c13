"""`run`'s start-up path: the window is shown before staff mode is imported, and the staff key works all along."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QObject, Qt
from pytestqt.qtbot import QtBot

from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice
from kiosk.staff.accounts import StaffAccounts
from kiosk.store import Store
from kiosk.ui.app import build_window, staff_entry_until_installed
from kiosk.ui.context import KioskContext
from kiosk.ui.ops import SyncOps
from kiosk.ui.window import KioskWindow

ROOT = Path(__file__).resolve().parents[2]
STAFF_KEY = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def started(demo_store: Store, qtbot: QtBot) -> Iterator[tuple[KioskWindow, Callable[[], None]]]:
    """A window as `run` builds it: no staff mode yet, the early staff key, home shown."""
    StaffAccounts(demo_store).add("S01", "李春梅", "135790", actor="enrolment")
    ticks = itertools.count(start=100, step=2)
    ctx = KioskContext(store=demo_store, speech=CaptionOnlySpeech(), voice=NoVoice("none"), ops=SyncOps())
    win = build_window(ctx, clock=lambda: float(next(ticks)), staff=False)
    install = staff_entry_until_installed(win)
    qtbot.addWidget(win)
    win.resize(1280, 800)
    win.go_home()
    win.show()
    win.activateWindow()
    qtbot.waitExposed(win)
    yield win, install
    win.unlock_and_close()


def _name(win: KioskWindow) -> str:
    assert win.current is not None
    return win.current.name


def test_staff_key_before_staff_mode_is_installed_opens_the_pin_screen(
    started: tuple[KioskWindow, Callable[[], None]], qtbot: QtBot
) -> None:
    win, install = started
    with pytest.raises(KeyError):
        win.screen_named("staff_pin")  # really not installed yet
    qtbot.keyClick(win, Qt.Key.Key_F11, STAFF_KEY)  # type: ignore[no-untyped-call]
    assert _name(win) == "staff_pin"
    install()  # the deferred install arriving afterwards changes nothing
    win.go_home()
    qtbot.keyClick(win, Qt.Key.Key_F11, STAFF_KEY)  # type: ignore[no-untyped-call]
    assert _name(win) == "staff_pin"


def test_staff_key_after_the_deferred_install_still_works_once(
    started: tuple[KioskWindow, Callable[[], None]], qtbot: QtBot
) -> None:
    win, install = started
    assert win.input_rules.early_staff_key is not None and win.findChild(QObject, "staff_shortcut") is None
    install()
    install()
    assert win.input_rules.early_staff_key is None  # staff mode's own shortcut takes over, and only it
    assert len(win.findChildren(QObject, "staff_shortcut")) == 1
    qtbot.keyClick(win, Qt.Key.Key_F11, STAFF_KEY)  # type: ignore[no-untyped-call]
    assert _name(win) == "staff_pin"
    qtbot.keyClick(win, Qt.Key.Key_Escape)  # type: ignore[no-untyped-call]
    assert _name(win) == "home"


# Run in a fresh interpreter: reports, at the ready line (home shown and taking input), which of the modules that
# start-up leaves for later were imported already: the keyring and cryptography (the store key is read on a worker
# after the first frame, kiosk.crypto.PendingCipher), sqlite-utils and the domain records (kiosk.store), staff mode,
# and every resident screen but home (imported the first time each is shown, kiosk.ui.screens.SCREENS).
_READY_PROBE = """
import builtins, sys
real_print = print
def probe(*args, **kwargs):
    if args and str(args[0]).startswith("ready in"):
        from kiosk.ui.screens import SCREENS
        late = ["keyring", "cryptography", "sqlite_utils", "cunzhan.models", "kiosk.ui.staff"]
        late += sorted({"kiosk.ui.screens." + where.split(":")[0] for where in SCREENS.values()} - {"kiosk.ui.screens.home"})
        made = [name for name in late if name in sys.modules]
        real_print("made before ready: " + (",".join(made) or "none"), file=sys.stderr, flush=True)
        real_print("home imported: " + str("kiosk.ui.screens.home" in sys.modules), file=sys.stderr, flush=True)
    return real_print(*args, **kwargs)
builtins.print = probe
from kiosk.__main__ import main
raise SystemExit(main(["run", "--demo", "--quit-after-ready"]))
"""


def _run(code: str, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full = dict(os.environ, CUNZHAN_HOME=str(home), QT_QPA_PLATFORM="offscreen", **env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=full,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_home_is_ready_before_the_store_key_staff_mode_and_the_other_screens(
    tmp_path: Path, keyring_ready: None
) -> None:
    first = _run(_READY_PROBE, tmp_path)  # creates the store (migrations through sqlite-utils) and the key
    assert first.returncode == 0, first.stderr
    again = _run(_READY_PROBE, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "made before ready: none" in again.stderr, again.stderr
    assert "home imported: True" in again.stderr, again.stderr  # the probe sees the modules it asks about
    assert again.stdout.startswith("ready in ")


def test_a_keyring_failure_found_after_home_is_shown_is_a_plain_message_and_exit_1(
    tmp_path: Path, keyring_ready: None
) -> None:
    done = _run(
        "from kiosk.__main__ import main\nraise SystemExit(main(['run', '--quit-after-ready']))",
        tmp_path,
        PYTHON_KEYRING_BACKEND="keyring.backends.fail.Keyring",
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.startswith("ready in ")  # home was shown; the key is read just after
    assert "Traceback" not in done.stderr
    assert "没有可用的安全密钥库" in done.stderr  # KeyringUnavailable's message, in the kiosk's language

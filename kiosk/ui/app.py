"""`python -m kiosk run [--demo] [--profile NAME] [--fullscreen] [--quit-after-ready] [--practice] [--display]`.

Opens the store (a database or keyring problem is shown as a plain message, never a traceback), loads the demo
catalogue when asked and the store is empty, and opens the kiosk window on the home screen. `--fullscreen` locks the
kiosk down: frameless, full screen, closing ignored; the staff PIN is the only way out (`KioskWindow.request_exit`).
`--practice` runs on a throw-away copy of the catalogue (`kiosk.practice`): nothing is kept or synced.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

_STARTED = time.perf_counter()

if TYPE_CHECKING:
    from kiosk.accessibility.api import SpeechOut, VoiceIn
    from kiosk.accessibility.profiles import Profile
    from kiosk.crypto import PendingCipher
    from kiosk.settings import Settings
    from kiosk.store import Store
    from kiosk.sync.worker import SyncWorker
    from kiosk.ui.context import KioskContext
    from kiosk.ui.ops import OpRunner
    from kiosk.ui.window import KioskWindow


def build_window(
    ctx: KioskContext, *, locked: bool = False, clock: Callable[[], float] | None = None, staff: bool = True
) -> KioskWindow:
    """A kiosk window with every resident screen registered (not yet shown; call `go_home()`).

    `staff=False` leaves staff mode out; `install_staff(window)` adds it later (`run` does so in the first turn of
    the event loop, after home is on screen)."""
    from kiosk.ui.screens import SCREENS, load
    from kiosk.ui.window import KioskWindow

    window = KioskWindow(ctx, locked=locked, **({"clock": clock} if clock else {}))
    for name in SCREENS:
        window.register_lazy(name, load)
    if staff:
        install_staff(window)
    return window


def install_staff(window: KioskWindow) -> None:
    """Staff screens and the Ctrl+Shift+F11 entry (kiosk/ui/staff) on `window`."""
    from kiosk.ui.staff import install_staff_mode

    install_staff_mode(window)


def staff_entry_until_installed(window: KioskWindow) -> Callable[[], None]:
    """A window built with `staff=False` gets the staff key (Ctrl+Shift+F11) at once; the returned function installs
    staff mode (its sixteen screens cost ~0.1 s to import) and may be called any time later, once or more.

    Pressed before that, the key installs staff mode there and then and opens the staff PIN screen, so the staff
    entry works from the moment home is shown. Until then the key is caught by the window's input rules rather than
    a QShortcut (whose Qt types would be made before home is shown); staff mode brings its own shortcut. This key is
    the only way into staff mode from resident screens."""
    installed = False

    def install() -> None:
        nonlocal installed
        if installed:
            return
        installed = True
        window.input_rules.early_staff_key = None
        install_staff(window)

    def enter() -> None:
        install()
        from kiosk.ui.staff import open_staff_mode

        open_staff_mode(window)

    window.input_rules.early_staff_key = enter
    return install


def _qt_app() -> object:
    from PySide6.QtGui import QFont
    from PySide6.QtWidgets import QApplication

    from kiosk.ui.theme import FONT_FAMILY

    app = QApplication.instance() or QApplication(sys.argv[:1])
    QApplication.setFont(QFont(FONT_FAMILY))
    return app


def _show_problem(text: str) -> None:
    """A start-up problem: printed, and shown in a plain window when there is a display to show it on."""
    import os

    print(text, file=sys.stderr)
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        return
    from PySide6.QtWidgets import QApplication

    _qt_app()
    _problem_window(text)
    QApplication.exec()


def _problem_window(text: str) -> object:
    """A plain window with the problem's words, filling the screen (there is no window manager in the kiosk
    session to place it), shown; keep the returned object alive while it is."""
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QLabel

    message = QLabel(text)
    message.setObjectName("startup_problem")
    message.setWordWrap(True)
    message.setMargin(60)
    message.setStyleSheet("font-size: 40px; background: #FFFFFF; color: #000000;")
    message.setWindowTitle("Cunzhan")
    screen = QGuiApplication.primaryScreen()
    if screen is not None:
        message.setGeometry(screen.geometry())
    else:
        message.resize(900, 400)
    message.show()
    return message


def make_speech_out(settings: Settings) -> SpeechOut:
    """The kiosk's speech out from `kiosk.accessibility`; if it fails to start, captions only (never a crash)."""
    from kiosk.accessibility import CaptionOnlySpeech, make_speech

    try:
        return make_speech(settings=settings)
    except Exception:
        return CaptionOnlySpeech()


def make_voice_in(settings: Settings) -> VoiceIn:
    """The kiosk's voice commands; if they fail to start, the voice control says so on screen."""
    from cunzhan.i18n import gettext
    from kiosk.accessibility import NoVoice, make_voice

    try:
        return make_voice(settings=settings)
    except Exception:
        return NoVoice(gettext("Voice commands are not installed on this kiosk."))


def _screen_reader_support() -> None:
    """Let Orca / NVDA read the kiosk (must happen before the QApplication exists)."""
    try:
        from kiosk.accessibility.screen_reader import enable_screen_reader_support
    except ImportError:
        return
    enable_screen_reader_support()


def run_command(args: argparse.Namespace) -> int:
    """Run the kiosk window until it is closed (or, with --quit-after-ready, until home accepts input)."""
    from cunzhan import i18n, paths
    from kiosk import settings as S
    from kiosk.accessibility.profiles import profile as profile_by_name
    from kiosk.crypto import PendingCipher, store_cipher
    from kiosk.settings import Settings
    from kiosk.store import Store, StoreError

    chosen = None
    if args.profile:
        try:
            chosen = profile_by_name(args.profile)
        except KeyError as exc:
            print(i18n.gettext("Unknown profile: {name}").format(name=exc.args[0]), file=sys.stderr)
            return 2
    db_path = paths.database_path()
    # The store opens now (SQLite alone: a few milliseconds); its key is read from the keyring once home is on
    # screen (`_read_store_key`), since nothing personal is shown before a resident starts a task.
    key = PendingCipher(lambda: store_cipher(str(db_path.parent)))
    try:
        real = Store(db_path, key)
    except StoreError as exc:
        _show_problem(exc.message())
        return 1
    settings = Settings(real.stored_settings())
    i18n.set_default_locale(str(settings.get(S.LOCALE)))
    if args.demo and not real.has_catalogue():
        from kiosk.seed import seed_demo

        seed_demo(real)
    # --practice, or practice mode switched on in staff mode (a training kiosk stays in practice across restarts).
    wants_practice = bool(getattr(args, "practice", False)) or bool(settings.get(S.PRACTICE_MODE))
    practice = None
    if wants_practice:
        from kiosk.practice import PracticeSession

        practice = PracticeSession(real)
    _screen_reader_support()
    _qt_app()
    try:
        return _run_window(
            args,
            practice.store if practice else real,
            chosen,
            key=key,
            sync=practice is None,
            demo_staff_for=real if args.demo else None,
        )
    finally:
        if practice is not None:
            practice.close()
        real.close()


def _run_window(
    args: argparse.Namespace,
    store: Store,
    chosen: Profile | None,
    *,
    key: PendingCipher,
    sync: bool,
    demo_staff_for: Store | None,
) -> int:
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from kiosk.ui.context import KioskContext
    from kiosk.ui.ops import ThreadOps

    app = _qt_app()
    screen = QApplication.primaryScreen()
    ops = ThreadOps()
    from cunzhan.i18n import gettext
    from kiosk.accessibility import CaptionOnlySpeech, NoVoice

    ctx = KioskContext(
        store=store,
        speech=CaptionOnlySpeech(),
        ops=ops,
        profile=chosen,
        voice=NoVoice(gettext("Voice commands are starting. Please wait a moment.")),
        dpi=screen.physicalDotsPerInch() if screen else None,
    )
    # Staff mode is installed just after home is shown; its key works before that (staff_entry_until_installed).
    window = build_window(ctx, locked=bool(args.fullscreen), staff=False)
    install_staff_mode = staff_entry_until_installed(window)
    window.go_home()
    _show(window, fullscreen=bool(args.fullscreen))
    exit_code: list[int] = []
    problem: list[object] = []  # the problem message's window, kept alive here
    workers: list[SyncWorker] = []

    def key_read() -> None:
        if args.quit_after_ready:
            window.unlock_and_close()
            QApplication.quit()
        elif demo_staff_for is not None:
            # A demo kiosk gets a staff member with a fresh PIN, printed here (never on a kiosk with real staff).
            from kiosk.staff.provisioning import ensure_demo_staff

            demo_staff = ensure_demo_staff(demo_staff_for)
            if demo_staff is not None:
                print(
                    gettext("Staff mode: press Ctrl+Shift+F11, staff {staff_id}, PIN {pin}").format(
                        staff_id=demo_staff[0], pin=demo_staff[1]
                    ),
                    flush=True,
                )

    def key_failed(exc: BaseException) -> None:
        from kiosk.crypto import KeyringUnavailable

        exit_code.append(1)
        text = exc.message() if isinstance(exc, KeyringUnavailable) else str(exc)
        problem.extend(_replace_with_problem(window, text))

    if args.quit_after_ready:

        def ready() -> None:
            print(f"ready in {time.perf_counter() - _STARTED:.3f} s", flush=True)
            # Then the same start-up work as a kiosk left running, so a keyring problem still ends in exit code 1.
            _read_store_key(ops, key, on_done=key_read, on_error=key_failed)

        QTimer.singleShot(0, ready)
    else:
        QTimer.singleShot(0, install_staff_mode)

        def after_first_frame() -> None:
            # Home is on screen and taking touches; the slower parts (the store key, the speech engine, the voice
            # model, the sync engine and its HTTP stack) start now instead of keeping the resident waiting.
            _read_store_key(ops, key, on_done=key_read, on_error=key_failed)
            # The window's own settings view: a staff change (volume, private audio) reaches the speech engine.
            window.set_speech(make_speech_out(ctx.settings))
            window.set_voice(make_voice_in(ctx.settings))
            if sync and (worker := _start_sync(store, window)) is not None:
                workers.append(worker)
            _open_display(args, window)

        QTimer.singleShot(0, after_first_frame)
    code = int(app.exec())  # type: ignore[attr-defined]
    window.shutdown()
    for worker in workers:
        worker.stop(timeout=5)
    ops.shutdown()
    return exit_code[0] if exit_code else code


def _open_display(args: argparse.Namespace, window: KioskWindow) -> None:
    """`--display`: the waiting-room display (#16), listening for the township's calls."""
    if getattr(args, "display", False):
        from kiosk.ui.display import open_display

        open_display(window, full_screen=bool(args.fullscreen))


def _read_store_key(
    ops: OpRunner,
    key: PendingCipher,
    *,
    on_done: Callable[[], None],
    on_error: Callable[[BaseException], None],
) -> None:
    """Read the store key from the keyring on the general worker; `on_done()` or `on_error(exc)` on the main thread."""
    from kiosk.crypto import preload_keyring_modules

    preload_keyring_modules()  # on this thread first: two threads must not import one package at once (3.11)
    ops.run(key.load, on_done=lambda _cipher: on_done(), on_error=on_error)


def _replace_with_problem(window: KioskWindow, text: str) -> list[object]:
    """A problem found after home was shown (the keyring): the kiosk window closes and the problem is shown plainly,
    as a start-up problem is; closing that message ends the program. Returns the message window (keep it)."""
    import os

    from PySide6.QtWidgets import QApplication

    print(text, file=sys.stderr)
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        window.unlock_and_close()
        QApplication.quit()
        return []
    # The resident in front of the kiosk is told plainly, on screen and aloud (a blind resident had heard the
    # greeting and then nothing); the technical words are for the staff member who comes.
    from cunzhan.i18n import gettext

    resident = gettext("This kiosk cannot be used just now. Please ask the staff for help.")
    window.ctx.speech.say(resident)
    # shown first: closing the last window would end the program
    message = _problem_window(resident + "\n\n" + gettext("For staff: {detail}").format(detail=text))
    window.unlock_and_close()
    return [message]


def _show(window: KioskWindow, *, fullscreen: bool) -> None:
    """Locked down: full screen (frameless and on top on Windows). Otherwise a normal maximised window (development,
    demos)."""
    if fullscreen:
        if sys.platform == "win32":
            # On a Windows desktop the kiosk must also stay above the taskbar and other programs' windows. The Linux
            # kiosk runs in an X session of its own with no window manager (installers/debian: kiosk-session), where
            # a full-screen window has no frame and nothing to stay above.
            from PySide6.QtCore import Qt

            window.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
            window.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, True)
        fill_screen(window)
    else:
        window.resize(1280, 800)
        window.showMaximized()


def fill_screen(window: KioskWindow) -> None:
    """Full screen by the window's own hand: the Linux kiosk session has no window manager, and without one the
    full-screen request (`_NET_WM_STATE_FULLSCREEN`) is a wish nobody grants — the window would keep its own size in
    a corner. So the window takes its screen's geometry itself, and takes it again whenever that screen's geometry
    changes (another resolution, a different panel) or the window lands on another screen. With a window manager the
    request is granted as well and the two agree."""
    from PySide6.QtGui import QGuiApplication, QScreen

    followed: set[int] = set()

    def fit(*_args: object) -> None:
        screen = window.screen()
        if screen is None:
            return
        follow(screen)
        geometry = screen.geometry()
        if window.geometry() != geometry:
            window.setGeometry(geometry)

    def follow(screen: QScreen) -> None:
        if id(screen) not in followed:
            followed.add(id(screen))
            screen.geometryChanged.connect(fit)

    screen = window.screen() or QGuiApplication.primaryScreen()
    if screen is not None:
        window.setGeometry(screen.geometry())
    window.showFullScreen()
    window.activateWindow()  # no window manager gives it the keyboard focus either (keys, and focus for screen readers)
    fit()
    handle = window.windowHandle()
    if handle is not None:
        handle.screenChanged.connect(fit)
    app = QGuiApplication.instance()
    if isinstance(app, QGuiApplication):
        app.primaryScreenChanged.connect(fit)
        app.screenRemoved.connect(fit)


def _start_sync(store: Store, window: KioskWindow) -> SyncWorker | None:
    """Start the sync engine when this kiosk is enrolled; returns its worker (stop it on the way out)."""
    from kiosk.sync.worker import start_if_enrolled

    # The worker reports a SyncStatus on its thread; the window's signal takes none and is queued to the main thread.
    return start_if_enrolled(store.path, lambda _status: window.sync_changed.emit())

"""`python -m kiosk screenshots --out DIR [--profile NAME…]`: every screen of the journey, offscreen, to PNG files
named `<profile>-<screen>.png` (all six profiles by default).

Runs on the reference panel (1920×1080 at 102.4 dpi, unless `dpi_override` says otherwise) with the demo township in
a throw-away store (random key, no keyring needed), so it works on a machine with no display and no data.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiosk.ui.ops import OpRunner
    from kiosk.ui.window import KioskWindow

SIZE = (1920, 1080)


def _environment() -> None:
    """Offscreen Qt, the reference panel's DPI, a temporary data directory — unless already chosen."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if not os.environ.get("CUNZHAN_DPI_OVERRIDE"):
        from kiosk.accessibility.profiles import REFERENCE_DPI

        os.environ["CUNZHAN_DPI_OVERRIDE"] = str(REFERENCE_DPI)
    if not os.environ.get("CUNZHAN_HOME"):
        os.environ["CUNZHAN_HOME"] = tempfile.mkdtemp(prefix="cunzhan-screens-")


@contextmanager
def demo_window(profile_name: str, *, ops: OpRunner | None = None) -> Iterator[KioskWindow]:
    """A kiosk window at the reference size on a fresh demo store, synchronous ops, captions-only speech."""
    from cunzhan.fieldcrypto import FieldCipher
    from cunzhan.i18n import gettext
    from kiosk.accessibility.api import CaptionOnlySpeech, NoVoice
    from kiosk.accessibility.profiles import profile
    from kiosk.seed import seed_demo
    from kiosk.store import Store
    from kiosk.ui.app import _qt_app, build_window
    from kiosk.ui.context import KioskContext
    from kiosk.ui.ops import SyncOps

    _qt_app()
    folder = Path(tempfile.mkdtemp(prefix="cunzhan-screens-db-"))
    store = Store.open(folder / "kiosk.db", cipher=FieldCipher.from_master(secrets.token_bytes(32)))
    seed_demo(store)
    store.set_setting(
        "kiosk_name", "上坪村便民服务站"
    )  # what an enrolled kiosk would have: shown on the slip
    store.set_setting("kiosk_phone", "0571-8888 1234")
    ctx = KioskContext(
        store=store,
        speech=CaptionOnlySpeech(),
        voice=NoVoice(gettext("Voice commands are not installed on this kiosk.")),
        ops=ops or SyncOps(),
        profile=profile(profile_name),
    )
    window = build_window(ctx)
    window.setFixedSize(*SIZE)  # the reference panel: what does not fit is cut off, and the audit sees it
    window.go_home()
    window.show()
    try:
        yield window
    finally:
        from PySide6.QtWidgets import QApplication

        ctx.ops.shutdown()  # background work finishes (and reports back) before the window goes
        QApplication.processEvents()
        window.unlock_and_close()
        window.deleteLater()
        store.close()


def render_profile(profile_name: str, out: Path) -> list[Path]:
    """Every screen of the journey in one profile, as PNG files in `out`."""
    from PySide6.QtWidgets import QApplication

    from kiosk.ui.tour import tour

    written = []
    with demo_window(profile_name) as window:
        for name in tour(window):
            QApplication.processEvents()
            target = out / f"{profile_name}-{name}.png"
            if not window.grab().save(str(target)):
                raise OSError(f"could not write {target}")
            written.append(target)
    return written


def screenshots_command(args: argparse.Namespace) -> int:
    """Render the journey for the chosen profiles (default: all six)."""
    _environment()
    from kiosk.accessibility.profiles import ORDER, profile

    names = args.profile or ORDER
    for name in names:
        try:
            profile(name)
        except KeyError:
            print(f"unknown profile: {name}", file=sys.stderr)
            return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for name in names:
        total += len(render_profile(name, out))
    print(f"wrote {total} screenshots to {out}")
    return 0

"""Screen readers: Orca through AT-SPI on Linux, NVDA (or Narrator) through UI Automation on Windows.

Contract with the UI (`kiosk/ui/app.py`):
1. Call `enable_screen_reader_support()` **before** the `QApplication` is created. On Linux, Qt only starts its AT-SPI
   bridge at start-up, and only when the desktop says a screen reader is wanted (the a11y bus `IsEnabled`
   property) — a kiosk session usually has no such desktop setting, so we set `QT_LINUX_ACCESSIBILITY_ALWAYS_ON=1`,
   which starts the bridge whenever the AT-SPI bus (`at-spi-bus-launcher`, started by the session's D-Bus) exists.
   On Windows nothing is needed: Qt answers UI Automation requests as soon as NVDA asks.
2. Give every interactive widget an accessible name (`setAccessibleName`) in the screen's language, and a
   description where the name alone does not say what happens (`setAccessibleDescription`). Qt derives the role
   from the widget class (QPushButton → push button, QLineEdit → text). Custom-painted controls must subclass a
   standard widget or provide a `QAccessibleInterface`.
3. When a screen appears, move keyboard focus to its first control: screen readers read the focused control and
   its window title, so set the window title to the screen's title as well.
Orca and the kiosk's own speech (pyttsx3) would talk over each other: in the blind profile the kiosk speaks, so a
kiosk with Orca running should be set to a non-speech profile (`docs/accessibility.md`).
"""

from __future__ import annotations

import os
import sys

ALWAYS_ON = "QT_LINUX_ACCESSIBILITY_ALWAYS_ON"


def enable_screen_reader_support() -> bool:
    """Make Qt expose the kiosk to screen readers; call before creating the QApplication.

    Returns False (and changes nothing) when a QApplication already exists, because Qt reads the setting only at
    start-up; True otherwise. An explicit QT_LINUX_ACCESSIBILITY_ALWAYS_ON in the environment is respected.
    """
    qt = sys.modules.get("PySide6.QtWidgets")
    if qt is not None and qt.QApplication.instance() is not None:
        return False
    if sys.platform.startswith("linux"):
        os.environ.setdefault(ALWAYS_ON, "1")
    return True


def screen_reader_enabled() -> bool:
    """Whether the running QApplication's accessibility bridge is active (a screen reader can see the kiosk)."""
    from PySide6.QtGui import QAccessible

    return bool(QAccessible.isActive())

"""Driving the kiosk like a resident: touches on named buttons, or keys alone."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QPushButton


def button(window: Any, name: str) -> QPushButton:
    found = [b for b in window.findChildren(QPushButton, name) if b.isVisible()]
    assert found, f"no visible button {name!r} on screen {window.current.name!r}"
    return found[0]


def touch(window: Any, name: str) -> None:
    """One tap on the visible button `name`."""
    target = button(window, name)
    QTest.mouseClick(target, Qt.MouseButton.LeftButton)


def first_open_choice(window: Any) -> str:
    """Object name of the first choice on screen that is not full."""
    for choice in window.current.shown_choices:
        if choice.kind == "primary":
            return f"choice_{choice.key}"
    raise AssertionError(f"no open choice on {window.current.name}")


def past_notice(window: Any) -> None:
    """On the personal-data notice (shown before the ID number), the resident agrees."""
    if window.current.name == "consent":
        touch(window, "choice_consent_agree")


def past_phone(window: Any) -> None:
    """On the question for a phone number for reminders (after the ID number, when booking), 不需要."""
    if window.current.name == "phone":
        touch(window, "choice_phone_none")


def touch_digits(window: Any, digits: str) -> None:
    past_notice(window)  # the notice comes before the ID number keypad
    for ch in digits:
        touch(window, f"key_{ch}")


def press(window: Any, key: Qt.Key, text: str = "") -> None:
    """One key press, delivered where a real keyboard would deliver it (the focused widget)."""
    target = window.focusWidget() or window
    QTest.keyClick(target, key, Qt.KeyboardModifier.NoModifier)


def type_text(window: Any, text: str) -> None:
    target = window.focusWidget() or window
    QTest.keyClicks(target, text)


def key_to(window: Any, name: str, *, limit: int = 60) -> None:
    """Tab until the button `name` has the focus, then Enter — as a keyboard-only user would."""
    for _ in range(limit):
        focus = window.focusWidget()
        if focus is not None and focus.objectName() == name and focus.isVisible():
            press(window, Qt.Key.Key_Return)
            return
        press(window, Qt.Key.Key_Tab)
    raise AssertionError(f"could not reach {name!r} with Tab on {window.current.name!r}")


def message(window: Any) -> str:
    """The message line of the current screen ('' when none)."""
    return window.current.message


def shown_text(window: Any, name: str) -> str:
    """Text of the visible label `name` (a redrawn screen's old widgets linger hidden until Qt deletes them)."""
    found = [w for w in window.findChildren(QLabel, name) if w.isVisible()]
    assert found, f"no visible label {name!r} on screen {window.current.name!r}"
    return str(found[0].text())

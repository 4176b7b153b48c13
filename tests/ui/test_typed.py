"""The one keypad-editing rule every typing screen shares."""

from __future__ import annotations

from kiosk.ui.screen import typed


def test_keys_edit_within_the_limit() -> None:
    assert typed("", "7", 4) == "7"
    assert typed("1949", "5", 4) == "1949"  # full: the key is ignored, nothing is lost
    assert typed("194", "back", 4) == "19"
    assert typed("", "back", 4) == ""
    assert typed("1949", "clear", 4) == ""


def test_only_allowed_characters_are_typed() -> None:
    assert typed("12345", "X", 18) == "12345"
    assert typed("11010519491231002", "X", 18, allowed="0123456789X") == "11010519491231002X"
    assert typed("12", "a", 18, allowed="0123456789X") == "12"
    assert typed("12", "12", 18) == "12"  # one key is one character

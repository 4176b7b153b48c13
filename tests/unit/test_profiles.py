"""Profiles (ACCESSIBILITY.md numbers, combination, mm → px) and screen-reader enablement through real Qt + AT-SPI."""

from __future__ import annotations

import pytest

from kiosk.accessibility.profiles import (
    BLIND,
    ELDER,
    HEARING,
    PROFILES,
    REFERENCE_DPI,
    STANDARD,
    Speech,
    mm,
    profile,
    px,
)


def test_the_table_of_accessibility_md() -> None:
    rows = {
        name: (p.text_mm, p.target_mm, p.contrast, p.idle_s, p.max_choices) for name, p in PROFILES.items()
    }
    assert rows == {
        "standard": (6, 12, 4.5, 60, 6),
        "elder": (9, 16, 7.0, 180, 4),
        "low_vision": (12, 16, 7.0, 180, 4),
        "blind": (12, 16, 7.0, 300, 4),
        "hearing": (6, 12, 4.5, 90, 6),
        "motor": (9, 20, 7.0, 300, 4),
    }
    assert ELDER.speech_rate == 0.8 and ELDER.speaks
    assert not STANDARD.speaks and not HEARING.speaks and HEARING.captions
    assert BLIND.numbered_choices and BLIND.keypad_driven and BLIND.listen_between_prompts
    assert PROFILES["motor"].target_gap_mm >= 4


def test_combining_takes_the_stricter_row() -> None:
    both = profile("elder+hearing")
    assert both.name == "elder+hearing"
    assert both.text_mm == 9 and both.target_mm == 16 and both.contrast == 7.0
    assert both.captions and both.speaks and both.speech is Speech.EVERY_SCREEN
    assert both.speech_rate == 0.8 and both.idle_s == 180 and both.max_choices == 4
    assert profile("hearing+elder") == both
    assert profile("blind+motor").target_mm == 20 and profile("blind+motor").numbered_choices
    assert profile("") == STANDARD
    with pytest.raises(KeyError):
        profile("elder+nonsense")


def test_millimetres_to_pixels_on_the_reference_panel() -> None:
    assert px(16, REFERENCE_DPI) == 65  # 16 mm / 0.248 mm per px = 64.5 → never below the minimum
    assert px(12, REFERENCE_DPI) == 49
    assert mm(px(9, 96), 96) >= 9
    assert px(16, 2 * REFERENCE_DPI) == 130

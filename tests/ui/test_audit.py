"""The accessibility audit over every screen of the journey in every profile, with screenshots to look at.

Screenshots go to $CUNZHAN_AUDIT_SHOTS when set (e.g. build/audit), else to the test's temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QApplication

from kiosk.accessibility.profiles import ORDER
from kiosk.ui.audit import audit_screen
from kiosk.ui.tour import tour

EXPECTED_SCREENS = {
    "home",
    "modes",
    "service",
    "provider",
    "day",
    "time",
    "time_alternatives",
    "who",
    "relation",
    "birth_year",
    "consent",
    "identify",
    "remember",
    "phone",
    "phone_number",
    "confirm",
    "done",
    "slip",
    "booking_list",
    "booking_detail",
    "cancel",
    "check_in",
    "check_in_code",
    "checked_in",
    "feedback",
    "feedback_reasons",
    "comment",
    "feedback_comment",
    "rate_invite",
    "for_you_consent",
    "for_you",
    "idle_warning",
    "exit_pin",
}


@pytest.mark.parametrize("profile", ORDER)
def test_every_screen_meets_the_profile(make_kiosk: Any, tmp_path: Path, profile: str) -> None:
    out = Path(os.environ.get("CUNZHAN_AUDIT_SHOTS") or tmp_path)
    out.mkdir(parents=True, exist_ok=True)
    kiosk = make_kiosk(profile)
    seen = []
    problems = []
    for name in tour(kiosk):
        QApplication.processEvents()
        seen.append(name)
        problems.extend(str(p) for p in audit_screen(kiosk))
        assert kiosk.grab().save(str(out / f"{profile}-{name}.png"))
    assert set(seen) == EXPECTED_SCREENS
    assert not problems, "\n".join(problems)


def test_audit_finds_a_small_target_and_low_contrast(make_kiosk: Any) -> None:
    """The audit can fail: a tiny button and a pale label on the home screen are reported."""
    from kiosk.ui import widgets

    kiosk = make_kiosk("elder")
    body = kiosk.current._body
    tiny = widgets.button("x", name="tiny", kind="secondary")
    tiny.setStyleSheet("min-height: 5px; min-width: 5px; max-height: 20px; max-width: 20px; padding: 0;")
    pale = widgets.label("淡淡的字", name="pale")
    pale.setStyleSheet("color: #BBBBBB;")
    body.layout().addWidget(tiny)
    body.layout().addWidget(pale)
    tiny.show()
    pale.show()
    QApplication.processEvents()
    found = {(p.widget, p.check) for p in audit_screen(kiosk)}
    assert ("tiny", "target size") in found
    assert ("pale", "contrast") in found

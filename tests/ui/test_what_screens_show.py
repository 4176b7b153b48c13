"""What the screens show: disabled buttons look disabled, Chinese wraps at sensible points, 长辈模式 stands out on
standard home, leaving a mode is not in the Tab order, plain words, 医生/老师, elder limits on the feedback screen,
the on-screen slip in the profile's text size."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt

from cunzhan import demo
from kiosk.ui.audit import audit_screen
from kiosk.ui.tour import tour
from kiosk.ui.widgets import wrap_text
from tests.ui.helpers import button, press, shown_text, touch

GP = demo.stable_id("service", "gp")


def colour_at_centre(widget: Any) -> tuple[int, int, int]:
    image = widget.grab().toImage()
    c = image.pixelColor(image.width() // 2, 4)
    return c.red(), c.green(), c.blue()


def test_a_disabled_page_button_looks_disabled(make_kiosk: Any) -> None:
    kiosk = make_kiosk("elder")
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    previous, following = button(kiosk, "page_prev"), button(kiosk, "page_next")
    assert not previous.isEnabled() and following.isEnabled()
    assert colour_at_centre(previous) != colour_at_centre(following)  # 上一页 no longer looks like 下一页


@pytest.mark.parametrize(
    ("text", "chars", "whole"),
    [
        ("远程问诊", 3, ["远程问诊"]),  # a short word overflows rather than splits
        ("确认预约", 3, ["确认预约"]),
        ("请带上：身份证、医保卡、血压血糖记录本、药盒", 12, None),
    ],
)
def test_chinese_wraps_at_sensible_points(text: str, chars: int, whole: list[str] | None) -> None:
    lines = wrap_text(text, 40, 40 * chars + 4).split("\n")
    if whole is not None:
        assert lines == whole
    else:
        assert "".join(lines) == text
        for line in lines[:-1]:  # every line but the last ends after a mark, never between two characters
            assert line[-1] in "：、，。", lines


def test_elder_mode_stands_out_on_standard_home_and_leaving_is_not_tabbed_to(make_kiosk: Any) -> None:
    kiosk = make_kiosk("standard")
    toggle = button(kiosk, "mode_toggle")
    assert toggle.text() == "长辈模式（大字）" and toggle.property("kind") == "elder"
    assert (
        toggle.font().pixelSize() > button(kiosk, "modes").font().pixelSize()
        or toggle.height() > button(kiosk, "modes").height()
    )
    touch(kiosk, "mode_toggle")
    assert kiosk.ctx.profile.name == "elder"
    seen = set()
    for _ in range(30):  # Tab round the whole screen: 退出长辈模式 is never landed on
        press(kiosk, Qt.Key.Key_Tab)
        seen.add(kiosk.focusWidget().objectName())
    assert "mode_toggle" not in seen and "choice_clinic" in seen


def test_home_says_waiting_work_in_plain_words(make_kiosk: Any, demo_store: Any) -> None:
    kiosk = make_kiosk("standard")
    for stop in tour(kiosk):
        if stop == "done":  # one booking made: one op waits for the township
            break
    assert demo_store.pending_count() >= 1
    text = kiosk.screen_named("home").status_text()
    assert "记录" not in text and "件事" in text and "自动" in text


def test_doctor_and_teacher_are_named_so(make_kiosk: Any) -> None:
    kiosk = make_kiosk("standard")
    names = []
    for stop in tour(kiosk):
        if stop in ("time", "done"):
            names.append(
                kiosk.current.spoken_announcement() + shown_text(kiosk, "where_when")
                if stop == "done"
                else kiosk.current.spoken_announcement()
            )
        if stop == "done":
            break
    assert all("医生" in text for text in names), names


def test_elder_feedback_keeps_to_four_choices(make_kiosk: Any) -> None:
    kiosk = make_kiosk("elder")
    kiosk.show_screen("feedback")
    faces = [
        b
        for b in kiosk.current.findChildren(type(button(kiosk, "face_1")))
        if b.objectName().startswith("face_") and b.isVisible()
    ]
    assert len(faces) <= 4
    touch(kiosk, "face_5")
    assert kiosk.ctx.visit.rating == 5
    visible = [
        b
        for b in kiosk.current.findChildren(type(faces[0]))
        if b.isVisible() and b.objectName().startswith(("face_", "choice_"))
    ]
    assert len(visible) <= 4


def test_the_slip_on_screen_is_drawn_for_the_screen(make_kiosk: Any) -> None:
    """Not a miniature of the 80 mm paper slip: as wide as its half of the screen, text near the profile's size."""
    kiosk = make_kiosk("elder")
    for stop in tour(kiosk):
        if stop == "slip":
            break
    picture = kiosk.current.picture
    assert picture is not None
    assert picture.width() > picture.height() * 80 / 150  # wider than the paper's shape
    assert picture.width() >= kiosk.width() // 2 - 4 * kiosk.theme.margin_px


def test_labels_break_chinese_between_words_and_qt_breaks_nothing_more(make_kiosk: Any) -> None:
    from PySide6.QtGui import QFontMetrics
    from PySide6.QtWidgets import QLabel

    kiosk = make_kiosk("low_vision")
    for stop in tour(kiosk):
        if stop == "done":
            break
    for name in ("booking_status", "where_when"):
        label = next(w for w in kiosk.findChildren(QLabel, name) if w.isVisible())
        drawn = QLabel.text(label)  # what Qt draws: the breaks wrap_text chose
        assert "\n" in drawn and "".join(drawn.split()) == "".join(label.text().split())
        metrics = QFontMetrics(label.font())
        for line in drawn.split("\n"):  # each line fits, so Qt adds no break of its own (远/程, 确/认)
            assert metrics.horizontalAdvance(line) <= label.contentsRect().width(), line


@pytest.mark.parametrize("profile", ["standard", "elder", "low_vision", "blind", "hearing", "motor"])
def test_the_id_screen_fits_with_a_problem_and_every_choice(make_kiosk: Any, profile: str) -> None:
    # The fullest the ID screen gets: a problem message, and 「还是我本人」 for a resident who came back to it (or
    # 「显示号码」 with digits typed). In large type the two did not fit: buttons overlapped, the bar went off-screen.
    from tests.ui.conftest import valid_id
    from tests.ui.helpers import first_open_choice, past_notice, touch_digits

    kiosk = make_kiosk(profile)
    touch(kiosk, "choice_clinic")
    touch(kiosk, f"choice_{GP}")
    while kiosk.current.name in ("provider", "day", "time"):
        touch(kiosk, first_open_choice(kiosk))
    touch(kiosk, "choice_self")
    past_notice(kiosk)
    touch_digits(kiosk, valid_id())
    touch(kiosk, "choice_id_ok")
    assert kiosk.current.name != "identify"
    kiosk.back()
    assert kiosk.current.name == "identify"
    touch(kiosk, "key_clear")
    touch(kiosk, "choice_id_ok")  # nothing typed: a problem message, and 「还是我本人」 offered
    assert kiosk.current.message and "id_known" in [c.key for c in kiosk.current.visible_choices()]
    assert [str(p) for p in audit_screen(kiosk)] == []  # no control overlaps another or leaves the window
    touch_digits(kiosk, "3301")
    touch(kiosk, "choice_id_ok")  # too short: a problem message, and 「显示号码」
    assert kiosk.current.message and "id_reveal" in [c.key for c in kiosk.current.visible_choices()]
    assert [str(p) for p in audit_screen(kiosk)] == []

"""The accessibility audit: checks the screen on show against the profile's numbers (ACCESSIBILITY.md).

`audit_screen(window)` returns a list of `Problem`s for what is drawn right now:
- every visible control: smallest side ≥ the profile's target size (mm), neighbours ≥ the profile's gap apart,
  an accessible name, inside the window, not cut shorter than its text needs;
- every visible text: em height ≥ the profile's text size (mm), line spacing ≥ 1.3, not cut off;
- contrast of the colours actually drawn: each control and text is cropped from a grab of the window, the most
  common colour taken as its background and the strongest other colour as its foreground (WCAG ratio ≥ the
  profile's); plus every colour pair of the palette, and the focus ring against the page;
- the screen has an announcement, and shows at most `profile.max_choices` choices.
The test suite walks every screen in every profile through it (tests/ui/test_audit.py).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QFontMetricsF, QImage
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from kiosk.ui.theme import contrast_ratio

if TYPE_CHECKING:
    from kiosk.ui.window import KioskWindow

MIN_LINE_SPACING = 1.3
TOLERANCE_MM = 0.05  # rounding of pixels
MIN_SHARE = 0.004  # a colour must cover this share of a widget's pixels to count as drawn text


@dataclass(frozen=True, slots=True)
class Problem:
    screen: str
    widget: str
    check: str
    detail: str

    def __str__(self) -> str:
        return f"{self.screen}: {self.widget}: {self.check}: {self.detail}"


def _visible(window: KioskWindow, kind: type[QWidget]) -> list[QWidget]:
    return [w for w in window.findChildren(kind) if w.isVisible() and w.width() > 0 and w.height() > 0]


def _rect(window: KioskWindow, widget: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def _name(widget: QWidget) -> str:
    return widget.objectName() or f"{type(widget).__name__}({widget.accessibleName()[:20]!r})"


def _hex(rgb: int) -> str:
    return f"#{rgb & 0xFFFFFF:06X}"


class Drawn:
    """The window as drawn: its pixels, for measuring the colours of any rectangle."""

    def __init__(self, image: QImage) -> None:
        self.image = image.convertToFormat(QImage.Format.Format_RGB32)
        self.stride = self.image.bytesPerLine()
        self.pixels = memoryview(self.image.constBits()).cast("B")

    def colours(self, rect: QRect) -> Counter[int]:
        """How many (sampled) pixels of each colour `rect` holds."""
        counts: Counter[int] = Counter()
        step = max(1, int((rect.width() * rect.height() / 60000) ** 0.5))
        for y in range(rect.top(), rect.bottom() + 1, step):
            start = y * self.stride + rect.left() * 4
            row = self.pixels[start : start + rect.width() * 4].cast("I")
            counts.update(row[::step])
        return counts

    def contrast(self, rect: QRect) -> tuple[str, str, float] | None:
        """(foreground, background, ratio) drawn in `rect`; None when it holds one colour only."""
        counts = self.colours(rect)
        total = sum(counts.values())
        if not total:
            return None
        background = counts.most_common(1)[0][0]
        bg = _hex(background)
        best: tuple[str, str, float] | None = None
        for colour, n in counts.items():
            if (colour & 0xFFFFFF) == (background & 0xFFFFFF) or n / total < MIN_SHARE:
                continue
            ratio = contrast_ratio(_hex(colour), bg)
            if best is None or ratio > best[2]:
                best = (_hex(colour), bg, ratio)
        return best


class _Audit:
    """One audit of the screen on show."""

    def __init__(self, window: KioskWindow) -> None:
        self.window = window
        self.screen = window.current
        self.name = self.screen.name if self.screen is not None else "?"
        self.theme = window.theme
        self.profile = window.ctx.profile
        self.bounds = window.rect()
        self.problems: list[Problem] = []
        warning = window.idle.warning_shown()
        self.buttons = [
            b for b in _visible(window, QAbstractButton) if not warning or window.idle.warning.isAncestorOf(b)
        ]
        self.labels = [
            lab for lab in _visible(window, QLabel) if not warning or window.idle.warning.isAncestorOf(lab)
        ]

    def problem(self, widget: str, check: str, detail: str) -> None:
        self.problems.append(Problem(self.name, widget, check, detail))

    def screen_rules(self) -> None:
        theme, profile = self.theme, self.profile
        for kind in theme.failing_pairs():
            fg, bg, ratio = theme.pairs()[kind]
            self.problem(
                "palette", "contrast", f"{kind}: {fg} on {bg} is {ratio:.2f}:1 < {profile.contrast}:1"
            )
        if theme.mm(theme.focus_px) < 1.0 - TOLERANCE_MM:
            self.problem("focus ring", "size", f"{theme.mm(theme.focus_px):.2f} mm < 1 mm")
        screen = self.screen
        if screen is not None and not self.window.idle.warning_shown():
            if not screen.announcement().strip() or not screen.spoken_announcement().strip():
                self.problem("screen", "announcement", "empty")
            if len(screen.shown_choices) > profile.max_choices:
                self.problem("screen", "choices", f"{len(screen.shown_choices)} > {profile.max_choices}")

    def targets(self) -> None:
        rects = []
        for button in self.buttons:
            rect = _rect(self.window, button)
            rects.append((button, rect))
            label = _name(button)
            side = self.theme.mm(min(rect.width(), rect.height()))
            if side < self.profile.target_mm - TOLERANCE_MM:
                self.problem(label, "target size", f"{side:.1f} mm < {self.profile.target_mm} mm")
            if not button.accessibleName().strip():
                self.problem(label, "accessible name", "empty")
            if not self.bounds.contains(rect):
                self.problem(label, "layout", "outside the window")
            if button.height() < button.sizeHint().height() - 1:
                self.problem(
                    label, "layout", f"cut short: {button.height()} px < {button.sizeHint().height()} px"
                )
        for i, (a, ra) in enumerate(rects):
            for b, rb in rects[i + 1 :]:
                if a.isAncestorOf(b) or b.isAncestorOf(a):
                    continue
                if ra.intersects(rb):
                    self.problem(f"{_name(a)} / {_name(b)}", "layout", "overlap")
                    continue
                dx = max(0, rb.left() - ra.right() - 1, ra.left() - rb.right() - 1)
                dy = max(0, rb.top() - ra.bottom() - 1, ra.top() - rb.bottom() - 1)
                gap = self.theme.mm((dx * dx + dy * dy) ** 0.5)
                if gap < self.profile.target_gap_mm - TOLERANCE_MM:
                    self.problem(
                        f"{_name(a)} / {_name(b)}",
                        "target gap",
                        f"{gap:.1f} mm < {self.profile.target_gap_mm} mm",
                    )

    def texts(self) -> None:
        drawn = Drawn(self.window.grab().toImage())
        theme, profile = self.theme, self.profile
        for widget in [*self.buttons, *self.labels]:
            text = widget.text() if isinstance(widget, QAbstractButton | QLabel) else ""
            if not text.strip():
                continue
            label = _name(widget)
            font = widget.font()
            em = theme.mm(font.pixelSize() if font.pixelSize() > 0 else font.pointSizeF() * theme.dpi / 72)
            if em < profile.text_mm - TOLERANCE_MM:
                self.problem(label, "text size", f"{em:.1f} mm < {profile.text_mm} mm")
            spacing = QFontMetricsF(font).lineSpacing() / max(1.0, float(font.pixelSize()))
            if spacing < MIN_LINE_SPACING:
                self.problem(label, "line spacing", f"{spacing:.2f} < {MIN_LINE_SPACING}")
            if isinstance(widget, QLabel):
                if not widget.accessibleName().strip():
                    self.problem(label, "accessible name", "empty")
                if widget.wordWrap() and widget.height() < widget.heightForWidth(widget.width()) - 1:
                    self.problem(label, "layout", "text cut off")
                if not self.bounds.contains(_rect(self.window, widget)):
                    self.problem(label, "layout", "outside the window")
            measured = drawn.contrast(_rect(self.window, widget).intersected(self.bounds))
            if measured is not None and measured[2] < profile.contrast:
                fg, bg, ratio = measured
                self.problem(label, "contrast", f"{fg} on {bg} is {ratio:.2f}:1 < {profile.contrast}:1")


def audit_screen(window: KioskWindow) -> list[Problem]:
    """Everything wrong with the screen on show, in the window's current profile."""
    audit = _Audit(window)
    audit.screen_rules()
    audit.targets()
    audit.texts()
    return audit.problems

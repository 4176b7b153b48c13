"""The kiosk's look, computed from the accessibility profile: millimetres on the glass → pixels, measured contrast.

Every size comes from the profile (ACCESSIBILITY.md) through the screen's physical DPI (`QScreen.physicalDotsPerInch`,
or the `dpi_override` setting for a panel that reports it wrongly; tests and screenshots use the reference panel,
102.4 dpi). Every colour pair the stylesheet draws is listed in `Theme.pairs()` and checked against the profile's
contrast ratio with the WCAG relative-luminance formula, so a palette that falls short fails loudly, not quietly.

Widgets pick their look with a `kind` property (`primary`, `secondary`, `nav`, `full`, …) that the stylesheet
selects on; `set_kind()` sets it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from kiosk.accessibility.profiles import REFERENCE_DPI, Profile

FONT_FAMILY = "Noto Sans CJK SC"
FONT_LINE_SPACING = 1.45  # Noto Sans CJK SC: (ascent + descent) / em


def relative_luminance(colour: str) -> float:
    """WCAG 2.x relative luminance of `#RRGGBB`."""
    text = colour.lstrip("#")
    channels = [int(text[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(a: str, b: str) -> float:
    """WCAG contrast ratio between two `#RRGGBB` colours (1 to 21)."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


@dataclass(frozen=True, slots=True)
class Palette:
    """The colours of one palette; each foreground is drawn only on its own background."""

    page_bg: str
    text: str
    bar_bg: str
    bar_text: str
    primary_bg: str
    primary_text: str
    secondary_bg: str
    secondary_text: str
    focus_bg: str
    focus_text: str
    focus_ring: str  # drawn against page_bg around the focused control
    full_bg: str
    full_text: str
    error_bg: str
    error_text: str
    ok_bg: str
    ok_text: str
    notice_bg: str
    notice_text: str


# Warm paper background, deep blue buttons: every pair ≥ 4.5:1, most ≥ 7:1.
STANDARD_PALETTE = Palette(
    page_bg="#F5F2EA",
    text="#1A1A1A",
    bar_bg="#1A1A1A",
    bar_text="#FFFFFF",
    primary_bg="#174F8F",
    primary_text="#FFFFFF",
    secondary_bg="#FFFFFF",
    secondary_text="#1A1A1A",
    focus_bg="#FFD23F",
    focus_text="#000000",
    focus_ring="#000000",
    full_bg="#E6E6E6",
    full_text="#3A3A3A",
    error_bg="#FBE3E1",
    error_text="#8A1C13",
    ok_bg="#E3F2E1",
    ok_text="#1B5E20",
    notice_bg="#FFF4C2",
    notice_text="#000000",
)

# High contrast (elder, low vision, blind, motor): pure white and black, navy buttons; every pair ≥ 7:1.
HIGH_CONTRAST_PALETTE = Palette(
    page_bg="#FFFFFF",
    text="#000000",
    bar_bg="#000000",
    bar_text="#FFFFFF",
    primary_bg="#002B5C",
    primary_text="#FFFFFF",
    secondary_bg="#FFFFFF",
    secondary_text="#000000",
    focus_bg="#FFE000",
    focus_text="#000000",
    focus_ring="#000000",
    full_bg="#EDEDED",
    full_text="#333333",
    error_bg="#FFFFFF",
    error_text="#7A0000",
    ok_bg="#FFFFFF",
    ok_text="#0B5011",
    notice_bg="#FFF4C2",
    notice_text="#000000",
)

# Widget kinds → (foreground, background) attribute names in the palette: what the audit measures.
KIND_COLOURS: dict[str, tuple[str, str]] = {
    "page": ("text", "page_bg"),
    "title": ("bar_text", "bar_bg"),
    "bar": ("bar_text", "bar_bg"),
    "primary": ("primary_text", "primary_bg"),
    "secondary": ("secondary_text", "secondary_bg"),
    "nav": ("secondary_text", "secondary_bg"),
    "key": ("secondary_text", "secondary_bg"),
    "full": ("full_text", "full_bg"),
    "focus": ("focus_text", "focus_bg"),
    "focus_ring": ("focus_ring", "page_bg"),
    "error": ("error_text", "error_bg"),
    "ok": ("ok_text", "ok_bg"),
    "notice": ("notice_text", "notice_bg"),
    "caption": ("bar_text", "bar_bg"),
    "code": ("text", "secondary_bg"),
}


class Theme:
    """Sizes in pixels and colours for one profile on one screen."""

    def __init__(self, profile: Profile, dpi: float | None = None) -> None:
        self.profile = profile
        self.dpi = dpi if dpi and dpi > 0 else REFERENCE_DPI
        self.palette = HIGH_CONTRAST_PALETTE if profile.high_contrast else STANDARD_PALETTE

    def px(self, mm: float) -> int:
        """Millimetres on the glass → whole pixels, rounded up."""
        return math.ceil(mm * self.dpi / 25.4)

    def mm(self, pixels: float) -> float:
        return pixels * 25.4 / self.dpi

    @property
    def text_px(self) -> int:
        """Body text: the CJK em height in pixels (the font's pixel size)."""
        return self.px(self.profile.text_mm)

    @property
    def title_px(self) -> int:
        return self.px(self.profile.text_mm * 1.25)

    @property
    def code_px(self) -> int:
        """Booking codes: very large digits (at least 18 mm, more in the bigger profiles)."""
        return self.px(max(18.0, self.profile.text_mm * 2.2))

    @property
    def target_px(self) -> int:
        """Smallest side of any touch target."""
        return self.px(self.profile.target_mm)

    def lines_px(self, lines: int) -> int:
        """Height of a button holding `lines` lines of body text (with its padding and border)."""
        return math.ceil(self.text_px * FONT_LINE_SPACING * lines + 2 * self.px(3) + 2 * self.focus_px + 4)

    @property
    def choice_px(self) -> int:
        """Height of a main choice button: the target, and room for two lines of text."""
        return max(self.target_px, self.lines_px(2))

    @property
    def gap_px(self) -> int:
        """Space between neighbouring targets (≥ the profile's gap, never under 3 mm)."""
        return self.px(max(self.profile.target_gap_mm, 3.0))

    @property
    def focus_px(self) -> int:
        """Width of the focus ring: at least 1 mm, thicker in the big profiles."""
        return self.px(max(1.0, self.profile.text_mm / 6))

    @property
    def margin_px(self) -> int:
        return self.px(6)

    def colour(self, attr: str) -> str:
        value: str = getattr(self.palette, attr)
        return value

    def kind_colours(self, kind: str) -> tuple[str, str]:
        """(foreground, background) a widget of this kind is drawn with."""
        fg, bg = KIND_COLOURS[kind]
        return self.colour(fg), self.colour(bg)

    def pairs(self) -> dict[str, tuple[str, str, float]]:
        """Every colour pair drawn, with its measured contrast ratio."""
        result = {}
        for kind in KIND_COLOURS:
            fg, bg = self.kind_colours(kind)
            result[kind] = (fg, bg, contrast_ratio(fg, bg))
        return result

    def failing_pairs(self) -> list[str]:
        """Kinds whose contrast falls below the profile's ratio (should be empty)."""
        return [kind for kind, (_fg, _bg, ratio) in self.pairs().items() if ratio < self.profile.contrast]

    def stylesheet(self) -> str:
        """The Qt stylesheet for the whole window."""
        p = self.palette
        t, title, ring, target = self.text_px, self.title_px, self.focus_px, self.target_px
        pad = self.px(3)
        return f"""
QWidget {{ font-family: "{FONT_FAMILY}"; font-size: {t}px; color: {p.text}; }}
QWidget#window, QWidget[kind="page"] {{ background: {p.page_bg}; }}
QLabel {{ background: transparent; color: {p.text}; }}
QLabel[kind="title"], QWidget[kind="bar"], QLabel[kind="bar"] {{
    background: {p.bar_bg}; color: {p.bar_text}; }}
QLabel[kind="title"] {{ font-size: {title}px; font-weight: bold; padding: {pad}px {self.margin_px}px; }}
QLabel[kind="caption"] {{ background: {p.bar_bg}; color: {p.bar_text}; padding: {pad}px; }}
QLabel[kind="error"] {{ background: {p.error_bg}; color: {p.error_text}; border: {ring}px solid {p.error_text};
    padding: {pad}px; font-weight: bold; }}
QLabel[kind="ok"] {{ background: {p.ok_bg}; color: {p.ok_text}; border: {ring}px solid {p.ok_text};
    padding: {pad}px; font-weight: bold; }}
QLabel[kind="notice"] {{ background: {p.notice_bg}; color: {p.notice_text}; border: {ring}px solid {p.notice_text};
    padding: {pad}px; }}
QLabel[kind="code"] {{ background: {p.secondary_bg}; color: {p.text}; border: {ring}px solid {p.text};
    font-size: {self.code_px}px; font-weight: bold; padding: {pad}px; }}
QPushButton {{
    min-height: {target}px; min-width: {target}px; padding: {pad}px {pad * 2}px;
    border-radius: {self.px(2)}px; border: {ring}px solid {p.secondary_text};
    background: {p.secondary_bg}; color: {p.secondary_text}; text-align: center; }}
QPushButton[kind="primary"] {{ background: {p.primary_bg}; color: {p.primary_text};
    border: {ring}px solid {p.primary_bg}; font-weight: bold; }}
QPushButton[kind="full"] {{ background: {p.full_bg}; color: {p.full_text}; border: {ring}px dashed {p.full_text}; }}
QPushButton[kind="key"] {{ font-size: {math.ceil(t * 1.3)}px; font-weight: bold; }}
QPushButton:focus, QPushButton[kind="primary"]:focus, QPushButton[kind="full"]:focus {{
    background: {p.focus_bg}; color: {p.focus_text}; border: {ring}px solid {p.focus_ring}; }}
QPushButton:pressed {{ background: {p.focus_bg}; color: {p.focus_text}; }}
QPushButton[kind="elder"] {{ background: {p.notice_bg}; color: {p.notice_text}; border: {ring * 2}px solid {p.notice_text};
    font-size: {title}px; font-weight: bold; }}
QPushButton:disabled, QPushButton[kind="primary"]:disabled, QPushButton[kind="secondary"]:disabled {{
    background: {p.page_bg}; color: {p.full_text}; border: {ring}px dotted {p.full_text}; font-weight: normal; }}
"""

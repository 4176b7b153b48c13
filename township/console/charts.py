"""Small charts as inline SVG (no JavaScript): horizontal bars with their numbers written beside them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True, slots=True)
class Bar:
    """One labelled bar; `value` is drawn, `text` is what is written at its end (e.g. "12 (80%)")."""

    label: str
    value: float
    text: str


def bar_chart(
    bars: Sequence[Bar],
    *,
    title: str,
    width: int = 640,
    row: int = 34,
    label_width: int = 220,
    maximum: float | None = None,
) -> str:
    """An accessible horizontal bar chart: `role="img"`, a title, and every value also written as text.

    Bars are scaled to `maximum` (e.g. 100 for percentages) or else to the largest value."""
    height = max(1, len(bars)) * row + 10
    top = maximum or max((b.value for b in bars), default=0.0) or 1.0
    span = width - label_width - 110
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
    ]
    for i, bar in enumerate(bars):
        y = 5 + i * row
        length = max(2.0, span * bar.value / top) if bar.value > 0 else 0.0
        parts.append(
            f'<text x="{label_width - 10}" y="{y + row / 2 + 6:.0f}" text-anchor="end" class="chart-label">'
            f"{escape(bar.label)}</text>"
        )
        parts.append(
            f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row - 10}" rx="3" '
            f'class="chart-bar"/>'
        )
        parts.append(
            f'<text x="{label_width + length + 8:.1f}" y="{y + row / 2 + 6:.0f}" class="chart-value">'
            f"{escape(bar.text)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)

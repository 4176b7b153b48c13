"""Small charts as inline SVG (no JavaScript): horizontal bars with their numbers written beside them, and weekly
columns or lines with their numbers written above them. Every chart is followed on its page by the table of its
figures."""

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


@dataclass(frozen=True, slots=True)
class Point:
    """One week (or other step) of a weekly chart: `value` is drawn (None: nothing to draw that week), `text` is
    written above it."""

    label: str
    value: float | None
    text: str


def week_chart(
    points: Sequence[Point],
    *,
    title: str,
    kind: str = "column",
    width: int = 640,
    height: int = 240,
    maximum: float | None = None,
) -> str:
    """An accessible weekly chart, columns (counts) or a line (rates): `role="img"`, a title, a description listing
    every value, and every value also written above its column or point, so nothing is read from the axis alone.

    Scaled to `maximum` (e.g. 100 for percentages) or else to the largest value; a week without a value (None) is
    left empty and the line broken there."""
    if kind not in ("column", "line"):
        raise ValueError(kind)
    top = maximum or max((p.value or 0.0 for p in points), default=0.0) or 1.0
    left, right, head, foot = 12, 12, 26, 30
    base = height - foot
    step = (width - left - right) / max(1, len(points))
    described = "; ".join(f"{p.label}: {p.text}" for p in points)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title><desc>{escape(described)}</desc>",
        f'<line x1="{left}" y1="{base}" x2="{width - right}" y2="{base}" stroke="#8c98a8" stroke-width="1"/>',
    ]
    spots: list[tuple[float, float] | None] = []
    for i, point in enumerate(points):
        middle = left + step * (i + 0.5)
        parts.append(
            f'<text x="{middle:.1f}" y="{height - 8}" text-anchor="middle" class="chart-label">'
            f"{escape(point.label)}</text>"
        )
        if point.value is None:
            spots.append(None)
            parts.append(
                f'<text x="{middle:.1f}" y="{base - 6}" text-anchor="middle" class="chart-label">'
                f"{escape(point.text)}</text>"
            )
            continue
        tall = (base - head) * max(0.0, point.value) / top
        y = base - tall
        if kind == "column":
            bar = min(step * 0.6, 56.0)
            parts.append(
                f'<rect x="{middle - bar / 2:.1f}" y="{y:.1f}" width="{bar:.1f}" '
                f'height="{max(tall, 1.0 if point.value > 0 else 0.0):.1f}" rx="2" class="chart-bar"/>'
            )
        spots.append((middle, y))
        parts.append(
            f'<text x="{middle:.1f}" y="{y - 7:.1f}" text-anchor="middle" class="chart-value">'
            f"{escape(point.text)}</text>"
        )
    if kind == "line":
        run: list[tuple[float, float]] = []
        for spot in [*spots, None]:
            if spot is not None:
                run.append(spot)
                continue
            if len(run) > 1:
                path = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
                parts.append(f'<polyline points="{path}" fill="none" stroke="#1f5f8b" stroke-width="3"/>')
            run = []
        parts.extend(
            f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" class="chart-bar"/>' for x, y in (s for s in spots if s)
        )
    parts.append("</svg>")
    return "".join(parts)

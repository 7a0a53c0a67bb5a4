"""Small inline-SVG charts for the HTML report: line charts and horizontal bar charts.

Each function returns one ``<svg class="plot">`` element as a string, drawn entirely here
(no JavaScript, no fonts or files from anywhere), so the report stays one self-contained
file. Every point and bar carries a ``<title>`` (the browser's tooltip) with its exact value.
Text is escaped. Pure: standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 300
_LEFT, _RIGHT, _TOP, _BOTTOM = 64, 16, 16, 56

Formatter = Callable[[float], str]


@dataclass(frozen=True, slots=True)
class Series:
    """One line: its label, (x, y) points in order, colour and dash."""

    label: str
    points: Sequence[tuple[float, float]]
    color: str
    dashed: bool = False


@dataclass(frozen=True, slots=True)
class Bar:
    """One bar of a horizontal bar chart: category, series label, value, colour."""

    category: str
    label: str
    value: float
    color: str


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick values covering [low, high] (1, 2, 2.5 or 5 × a power of ten apart)."""
    if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
        high = low + 1.0
    raw = (high - low) / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(ticks[-1] + step, 12))
    return ticks


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    x_format: Formatter,
    y_format: Formatter,
    x_min: float | None = 0.0,
    x_max: float | None = None,
    y_min: float | None = 0.0,
    y_max: float | None = None,
) -> str:
    """A line chart with axes, grid, legend and a tooltip per point.

    The x axis covers the points, and at least `x_min`…`x_max` when given (charts that share
    an axis, such as the plots over the run's time, pass the same range); the svg's
    ``data-x-range`` holds the axis's ends."""
    drawn = [s for s in series if s.points]
    if not drawn:
        return empty_chart(title, "no data")
    xs = [x for s in drawn for x, _ in s.points]
    ys = [y for s in drawn for _, y in s.points]
    x_high = max(xs) if x_max is None else max(x_max, max(xs))
    x_ticks = nice_ticks(min(xs) if x_min is None else min(x_min, min(xs)), x_high)
    y_low = min(ys) if y_min is None else min(y_min, min(ys))
    y_ticks = nice_ticks(y_low, max(ys) if y_max is None else y_max)
    plot = _Frame(x_ticks[0], x_ticks[-1], y_ticks[0], y_ticks[-1])
    opened = _open(title, len(drawn)).replace(
        ' role="img"', f' data-x-range="{x_ticks[0]:g} {x_ticks[-1]:g}" role="img"', 1
    )
    parts = [opened, plot.grid(x_ticks, y_ticks, x_format, y_format)]
    parts.append(plot.labels(x_label, y_label))
    for s in drawn:
        coords = " ".join(f"{plot.x(x):.1f},{plot.y(y):.1f}" for x, y in s.points)
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<polyline class="series" data-label="{escape(s.label)}" points="{coords}" '
            f'fill="none" stroke="{s.color}" stroke-width="2"{dash}/>'
        )
        for x, y in s.points if len(s.points) <= 120 else s.points[:: len(s.points) // 60]:
            parts.append(
                f'<circle cx="{plot.x(x):.1f}" cy="{plot.y(y):.1f}" r="2.5" '
                f'fill="{s.color}"><title>{escape(s.label)}: {escape(x_label)} '
                f"{escape(x_format(x))}, {escape(y_label)} {escape(y_format(y))}</title></circle>"
            )
    parts.append(_legend([(s.label, s.color, s.dashed) for s in drawn]))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(bars: Sequence[Bar], *, title: str, value_format: Formatter, empty: str) -> str:
    """Horizontal bars grouped by category (one bar per series label in each)."""
    if not bars:
        return empty_chart(title, empty)
    categories = list(dict.fromkeys(b.category for b in bars))
    labels = list(dict.fromkeys(b.label for b in bars))
    colors = {b.label: b.color for b in bars}
    ticks = nice_ticks(0.0, max(b.value for b in bars) or 1.0)
    left = min(8 + 7 * max(len(c) for c in categories), 220)
    bar_h = 14
    group_h = bar_h * len(labels) + 10
    height = _TOP + group_h * len(categories) + _BOTTOM
    span = WIDTH - left - _RIGHT

    def x(value: float) -> float:
        return left + span * value / ticks[-1]

    parts = [_open(title, len(labels), height)]
    for tick in ticks:
        anchor = "end" if tick == ticks[-1] else "middle"
        parts.append(
            f'<line class="grid" x1="{x(tick):.1f}" y1="{_TOP}" x2="{x(tick):.1f}" '
            f'y2="{height - _BOTTOM}" stroke="#e3e3e3"/>'
            f'<text x="{x(tick):.1f}" y="{height - _BOTTOM + 16}" text-anchor="{anchor}" '
            f'font-size="11" fill="#555">{escape(value_format(tick))}</text>'
        )
    for i, category in enumerate(categories):
        top = _TOP + i * group_h
        parts.append(
            f'<text x="{left - 6}" y="{top + group_h / 2:.1f}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="12" fill="#222">{escape(category)}</text>'
        )
        for j, label in enumerate(labels):
            bar = next((b for b in bars if b.category == category and b.label == label), None)
            if bar is None:
                continue
            y = top + 5 + j * bar_h
            width = max(x(bar.value) - left, 1.0)
            parts.append(
                f'<rect class="bar" x="{left}" y="{y}" width="{width:.1f}" '
                f'height="{bar_h - 3}" fill="{bar.color}"><title>{escape(category)}, '
                f"{escape(label)}: {escape(value_format(bar.value))}</title></rect>"
            )
    parts.append(_legend([(label, colors[label], False) for label in labels], height))
    parts.append("</svg>")
    return "".join(parts)


def empty_chart(title: str, message: str) -> str:
    """A chart frame that says why there is nothing to draw."""
    height = 90
    return (
        f'<svg class="plot empty" role="img" aria-label="{escape(title)}" '
        f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="1" y="1" width="{WIDTH - 2}" height="{height - 2}" fill="#fafafa" '
        f'stroke="#ddd"/><text x="{WIDTH / 2}" y="{height / 2}" text-anchor="middle" '
        f'dominant-baseline="middle" font-size="14" fill="#666">{escape(message)}</text></svg>'
    )


def _open(title: str, series: int, height: int = HEIGHT) -> str:
    return (
        f'<svg class="plot" role="img" aria-label="{escape(title)}" data-series="{series}" '
        f'viewBox="0 0 {WIDTH} {height}" xmlns="http://www.w3.org/2000/svg" '
        'font-family="system-ui, sans-serif">'
    )


def _legend(entries: Sequence[tuple[str, str, bool]], height: int = HEIGHT) -> str:
    parts = []
    x = _LEFT
    y = height - 12
    for label, color, dashed in entries:
        dash = ' stroke-dasharray="6 4"' if dashed else ""
        parts.append(
            f'<line x1="{x}" y1="{y - 4}" x2="{x + 22}" y2="{y - 4}" stroke="{color}" '
            f'stroke-width="3"{dash}/><text x="{x + 28}" y="{y}" font-size="12" '
            f'fill="#222">{escape(label)}</text>'
        )
        x += 40 + 7 * len(label)
    return f'<g class="legend">{"".join(parts)}</g>'


class _Frame:
    """Maps data coordinates to the SVG plot area."""

    def __init__(self, x0: float, x1: float, y0: float, y1: float) -> None:
        self.x0, self.x1, self.y0, self.y1 = x0, x1, y0, y1
        self.left, self.right = _LEFT, WIDTH - _RIGHT
        self.top, self.bottom = _TOP, HEIGHT - _BOTTOM

    def x(self, value: float) -> float:
        span = (self.x1 - self.x0) or 1.0
        return self.left + (self.right - self.left) * (value - self.x0) / span

    def y(self, value: float) -> float:
        span = (self.y1 - self.y0) or 1.0
        return self.bottom - (self.bottom - self.top) * (value - self.y0) / span

    def grid(
        self, x_ticks: list[float], y_ticks: list[float], x_format: Formatter, y_format: Formatter
    ) -> str:
        parts = [
            f'<rect x="{self.left}" y="{self.top}" width="{self.right - self.left}" '
            f'height="{self.bottom - self.top}" fill="#fff" stroke="#ccc"/>'
        ]
        for t in x_ticks:
            anchor = "end" if t == x_ticks[-1] else "middle"
            parts.append(
                f'<line class="grid" x1="{self.x(t):.1f}" y1="{self.top}" x2="{self.x(t):.1f}" '
                f'y2="{self.bottom}" stroke="#eee"/><text x="{self.x(t):.1f}" '
                f'y="{self.bottom + 15}" text-anchor="{anchor}" font-size="11" '
                f'fill="#555">{escape(x_format(t))}</text>'
            )
        for t in y_ticks:
            parts.append(
                f'<line class="grid" x1="{self.left}" y1="{self.y(t):.1f}" x2="{self.right}" '
                f'y2="{self.y(t):.1f}" stroke="#eee"/><text x="{self.left - 6}" '
                f'y="{self.y(t):.1f}" text-anchor="end" dominant-baseline="middle" '
                f'font-size="11" fill="#555">{escape(y_format(t))}</text>'
            )
        return "".join(parts)

    def labels(self, x_label: str, y_label: str) -> str:
        middle_x = (self.left + self.right) / 2
        middle_y = (self.top + self.bottom) / 2
        return (
            f'<text x="{middle_x:.1f}" y="{self.bottom + 32}" text-anchor="middle" '
            f'font-size="12" fill="#333">{escape(x_label)}</text>'
            f'<text x="14" y="{middle_y:.1f}" text-anchor="middle" font-size="12" fill="#333" '
            f'transform="rotate(-90 14 {middle_y:.1f})">{escape(y_label)}</text>'
        )

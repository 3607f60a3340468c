"""Server-rendered inline SVG plots: the browser fetches nothing, from anywhere.

Every label is XML-escaped (repository names and paths come from users). Sizes are in
viewBox units; the SVGs scale to their container's width.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'
GRID = "#d0d7de"
AXIS_TEXT = "#57606a"


def _text(
    x: float, y: float, value: str, anchor: str = "start", size: int = 12, fill: str = AXIS_TEXT
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="{fill}" {FONT}>'
        f"{escape(value)}</text>"
    )


def _empty(width: int, height: int, message: str) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(message)}">'
        f'<rect x="0.5" y="0.5" width="{width - 1}" height="{height - 1}" fill="none" stroke="{GRID}" '
        f'stroke-dasharray="4 4" rx="6"/>{_text(width / 2, height / 2 + 4, message, "middle", 14)}</svg>'
    )


def line_chart(
    points: Sequence[tuple[str, float | None, int]],
    width: int = 760,
    height: int = 260,
    title: str = "hit rate",
) -> str:
    """A 0-100% line over time; None values (no lookups in the bucket) break the line."""
    if not any(value is not None for _, value, _ in points):
        return _empty(width, 120, "No lookups in this window yet")
    left, right, top, bottom = 48, 16, 16, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    step = plot_w / max(len(points) - 1, 1)
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    for pct in (0, 25, 50, 75, 100):
        y = top + plot_h * (1 - pct / 100)
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(_text(left - 8, y + 4, f"{pct}%", "end", 11))
    every = max(1, len(points) // 8)  # about eight x labels, whatever the window
    for i, (label, _, _) in enumerate(points):
        if i % every == 0 or i == len(points) - 1:
            parts.append(_text(left + i * step, height - 12, label, "middle", 11))
    segments: list[list[tuple[float, float]]] = [[]]
    for i, (_, value, _) in enumerate(points):
        if value is None:
            segments.append([])
            continue
        segments[-1].append((left + i * step, top + plot_h * (1 - value)))
    for segment in segments:
        if len(segment) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            parts.append(f'<polyline points="{coords}" fill="none" stroke="#0969da" stroke-width="2.5"/>')
    for i, (label, value, lookups) in enumerate(points):
        if value is not None:
            x, y = left + i * step, top + plot_h * (1 - value)
            tip = f"{label}: {value * 100:.1f}% of {lookups} lookups"
            parts.append(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3.5" fill="#0969da">'
                f"<title>{escape(tip)}</title></circle>"
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(items: Sequence[tuple[str, int]], color: str, unit: str, width: int = 760) -> str:
    """Horizontal bars, largest first as given, each labelled with its value."""
    if not items:
        return _empty(width, 120, f"No {unit} in this window yet")
    label_w, row_h, value_w = 280, 28, 70
    height = row_h * len(items) + 8
    biggest = max(value for _, value in items) or 1
    bar_space = width - label_w - value_w
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(unit)}">']
    for i, (label, value) in enumerate(items):
        y = 4 + i * row_h
        shown = label if len(label) <= 40 else label[:39] + "…"
        bar = max(bar_space * value / biggest, 2)
        parts.append(_text(label_w - 10, y + row_h / 2 + 4, shown, "end", 12, "#24292f"))
        parts.append(
            f'<rect x="{label_w}" y="{y + 4}" width="{bar:.1f}" height="{row_h - 8}" rx="3" fill="{color}">'
            f"<title>{escape(label)}: {value} {escape(unit)}</title></rect>"
        )
        parts.append(_text(label_w + bar + 6, y + row_h / 2 + 4, f"{value}", "start", 12, "#24292f"))
    parts.append("</svg>")
    return "".join(parts)


def ratio_bar(part: int, whole: int, width: int = 760) -> str:
    """One stacked bar: converted (green) against not yet converted (grey)."""
    if not whole:
        return _empty(width, 80, "No miss-triggered job completed in this window yet")
    height, bar_h = 64, 28
    done = width * part / whole
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="conversion">']
    parts.append(f'<rect x="0" y="4" width="{width}" height="{bar_h}" rx="4" fill="#d0d7de"/>')
    if part:
        parts.append(f'<rect x="0" y="4" width="{done:.1f}" height="{bar_h}" rx="4" fill="#2da44e"/>')
    parts.append(_text(0, height - 8, f"{part} converted", "start", 12, "#1a7f37"))
    parts.append(_text(width, height - 8, f"{whole - part} not yet hit after warming", "end", 12))
    parts.append("</svg>")
    return "".join(parts)

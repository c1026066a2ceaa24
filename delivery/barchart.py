"""A small bar chart as inline SVG, drawn on the server: no script, no library, prints well, and scales
to the page's width (viewBox), so a phone shows it without scrolling sideways."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

COLOURS = ("#1f77b4", "#d62728")   # the stacked series, bottom first (the map's first two colours)


@dataclass(frozen=True)
class Bar:
    label: str                  # under the bar, e.g. 「12/1」
    values: tuple[int, ...]     # one per series, stacked bottom up
    title: str = ""             # tooltip and screen-reader text


def render_bars(bars: Sequence[Bar], series: Sequence[str], *, caption: str) -> str:
    """An SVG of stacked bars with a legend; every bar carries its numbers in a <title>.

    The drawing is 360 units wide whatever the number of bars (a week or a quarter), shown 1.5 times
    that where there is room and shrunk to the screen on a phone (``max-width: 100%`` in base.html), so
    its text stays about the page's size on a 375 px phone."""
    width, height = 360, 220
    top, bottom, left = 44, 30, 30
    highest = max([sum(bar.values) for bar in bars] + [1])
    scale = (height - top - bottom) / highest
    slot = (width - left - 6) / max(len(bars), 1)
    base = height - bottom
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width * 3 // 2}" '
             f'height="{height * 3 // 2}" role="img" aria-label="{escape(caption)}">',
             f'<rect width="{width}" height="{height}" fill="#fbfbf8"/>',
             f'<line x1="{left}" y1="{base}" x2="{width - 4}" y2="{base}" stroke="#999"/>',
             f'<text x="{left - 4}" y="{top + 4}" font-size="12" text-anchor="end">{highest}</text>',
             f'<text x="{left - 4}" y="{base}" font-size="12" text-anchor="end">0</text>']
    for i, name in enumerate(series):
        x = left + 120 * i
        parts.append(f'<rect x="{x}" y="8" width="14" height="14" fill="{COLOURS[i % len(COLOURS)]}"/>'
                     f'<text x="{x + 19}" y="20" font-size="14">{escape(name)}</text>')
    # A date label is about 34 units wide: label every bar when they fit, else every n-th, never overlapping.
    every = max(1, -(-34 // int(slot)) if slot >= 1 else 34)
    for n, bar in enumerate(bars):
        x = left + slot * n + slot * 0.15
        y = float(base)
        parts.append(f'<g><title>{escape(bar.title or bar.label)}</title>')
        for i, value in enumerate(bar.values):
            if value <= 0:
                continue
            h = value * scale
            y -= h
            parts.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.7:.1f}" height="{h:.1f}" '
                         f'fill="{COLOURS[i % len(COLOURS)]}"/>')
        if sum(bar.values) and slot >= 22:     # the count over the bar, when there is room for it
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{y - 3:.1f}" font-size="12" '
                         f'text-anchor="middle">{sum(bar.values)}</text>')
        parts.append("</g>")
        if n % every == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{base + 17}" font-size="12" '
                         f'text-anchor="middle">{escape(bar.label)}</text>')
    parts.append("</svg>")
    return "".join(parts)

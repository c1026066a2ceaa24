"""Draws runs on a plain SVG map from coordinates alone: no tiles, no network, prints well.

Coordinates are projected equirectangularly around the runs' mean latitude, which is accurate to well
under a percent over a town-sized area.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2")


@dataclass(frozen=True)
class MapPoint:
    lat: float
    lon: float
    label: str          # short text drawn in the marker, e.g. the stop number
    title: str = ""     # tooltip, e.g. name and time
    kind: str = "delivery"  # delivery | pickup | depot


@dataclass(frozen=True)
class MapLine:
    points: tuple[MapPoint, ...]   # in visiting order, depot first and last
    name: str


def map_link(lat: float, lon: float) -> str:
    """A link that opens the point in the phone's map app (the driver's navigation)."""
    return f"https://www.google.com/maps/search/?api=1&query={lat:.6f},{lon:.6f}"


def render_svg(lines: list[MapLine], *, width: int = 800, height: int = 600, margin: int = 30) -> str:
    """Return an SVG document with one coloured polyline and numbered markers per run."""
    points = [p for line in lines for p in line.points]
    if not points:
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}">'
                f'<text x="20" y="40" font-size="20">地図に表示する地点がありません</text></svg>')
    mean_lat = sum(p.lat for p in points) / len(points)
    kx = math.cos(math.radians(mean_lat))
    xs = [p.lon * kx for p in points]
    ys = [p.lat for p in points]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 1e-6)
    scale = min(width, height) - 2 * margin
    x0, y1 = min(xs), max(ys)

    def project(p: MapPoint) -> tuple[float, float]:
        return (margin + (p.lon * kx - x0) / span * scale, margin + (y1 - p.lat) / span * scale)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" aria-label="配達ルートの地図">',
             f'<rect width="{width}" height="{height}" fill="#fbfbf8" stroke="#ccc"/>']
    for i, line in enumerate(lines):
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in map(project, line.points))
        parts.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="3" '
                     f'stroke-opacity="0.8"><title>{escape(line.name)}</title></polyline>')
        for p in line.points:
            x, y = project(p)
            if p.kind == "depot":
                parts.append(f'<rect x="{x - 7:.1f}" y="{y - 7:.1f}" width="14" height="14" fill="#333">'
                             f'<title>{escape(p.title)}</title></rect>')
                continue
            fill = "#fff" if p.kind == "pickup" else colour
            text = colour if p.kind == "pickup" else "#fff"
            parts.append(f'<g><title>{escape(p.title)}</title>'
                         f'<circle cx="{x:.1f}" cy="{y:.1f}" r="11" fill="{fill}" stroke="{colour}" '
                         f'stroke-width="2"/><text x="{x:.1f}" y="{y + 4:.1f}" font-size="11" '
                         f'text-anchor="middle" fill="{text}">{escape(p.label)}</text></g>')
    parts.append("</svg>")
    return "".join(parts)

"""Charts as inline SVG drawn on the server: no script, and a text alternative for every chart."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT, PAD = 720, 200, 24


def bar_chart(points: Sequence[tuple[str, float]], *, label: str, unit: str = "$") -> Markup:
    """Vertical bars, one per point, scaled to the largest; the aria-label names every value."""
    if not points:
        return Markup("")
    top = max(value for _name, value in points) or 1.0
    step = (WIDTH - 2 * PAD) / len(points)
    bar = max(step * 0.7, 1.0)
    parts = []
    for index, (name, value) in enumerate(points):
        height = (HEIGHT - 2 * PAD) * (value / top)
        x = PAD + index * step + (step - bar) / 2
        y = HEIGHT - PAD - height
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{height:.1f}" class="bar">'
            f"<title>{escape(name)}: {unit}{value:,.4f}</title></rect>"
        )
    first, last = points[0][0], points[-1][0]
    parts.append(f'<text x="{PAD}" y="{HEIGHT - 6}" class="axis">{escape(first)}</text>')
    parts.append(
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" class="axis" text-anchor="end">{escape(last)}</text>'
    )
    parts.append(f'<text x="{PAD}" y="14" class="axis">max {unit}{top:,.2f}</text>')
    summary = "; ".join(f"{name}: {unit}{value:,.2f}" for name, value in points)
    return Markup(
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(label)}. {escape(summary)}">{"".join(parts)}</svg>'
    )

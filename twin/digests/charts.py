"""A small bar chart of moves as inline SVG: no scripts or external images, so it renders where the
e-mail is opened (and in the portal), and it is stored with the exact content sent."""
from __future__ import annotations

from django.utils.html import escape

WIDTH, ROW, LABEL, PAD = 360, 22, 64, 48


def moves_svg(rows: list[tuple[str, float]], title: str) -> str:
    """Horizontal bars, one per (label, percent): green up, red down, centred on zero."""
    if not rows:
        return ""
    span = max(abs(value) for _, value in rows) or 1.0
    half = (WIDTH - LABEL - PAD) / 2
    zero = LABEL + half
    height = ROW * len(rows) + 28
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" role="img" '
             f'aria-label="{escape(title)}" style="font:12px Arial,sans-serif">',
             f'<title>{escape(title)}</title>',
             f'<line x1="{zero:.1f}" y1="4" x2="{zero:.1f}" y2="{height - 20}" stroke="#8a93a6" stroke-width="1"/>']
    for index, (label, value) in enumerate(rows):
        y = 6 + index * ROW
        length = half * abs(value) / span
        x = zero if value >= 0 else zero - length
        colour = "#1b7f3b" if value >= 0 else "#b3261e"
        text_x = zero + length + 4 if value >= 0 else zero - length - 4
        anchor = "start" if value >= 0 else "end"
        parts.append(f'<text x="0" y="{y + 13}" fill="#1d2433">{escape(label)}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y}" width="{max(length, 1):.1f}" height="16" fill="{colour}"/>')
        parts.append(f'<text x="{text_x:.1f}" y="{y + 13}" text-anchor="{anchor}" fill="{colour}">{value:+.1f}%</text>')
    parts.append(f'<text x="{zero:.1f}" y="{height - 4}" text-anchor="middle" fill="#5b6477">% since discussed</text>')
    parts.append("</svg>")
    return "".join(parts)

"""A rehearsal's timeline as one self-contained HTML page (inline SVG, no scripts, no downloads)."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .rehearsal import Timeline, detection_lines

WIDTH, PLOT_H, LEFT, GAP = 900, 120, 70, 34
COLOURS = {"OK": "#3a9d5d", "ALARM": "#d64541", "INSUFFICIENT_DATA": "#b0b0b0"}


def _x(t: float, end: float) -> float:
    return LEFT + (WIDTH - LEFT - 10) * (t / end if end else 0)


def _polyline(points: list[tuple[float, float]], top: float, high: float, end: float, colour: str, step: bool = False) -> str:
    coords = []
    last_y = None
    for t, v in points:
        y = top + PLOT_H - PLOT_H * (min(v, high) / high if high else 0)
        if step and last_y is not None:
            coords.append(f"{_x(t, end):.1f},{last_y:.1f}")
        coords.append(f"{_x(t, end):.1f},{y:.1f}")
        last_y = y
    return f'<polyline fill="none" stroke="{colour}" stroke-width="1.6" points="{" ".join(coords)}"/>'


def _axes(top: float, title: str, high: float, unit: str) -> str:
    return (f'<text x="4" y="{top + 12}" font-size="12" font-weight="bold">{html.escape(title)}</text>'
            f'<line x1="{LEFT}" y1="{top + PLOT_H}" x2="{WIDTH - 10}" y2="{top + PLOT_H}" stroke="#999"/>'
            f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{top + PLOT_H}" stroke="#999"/>'
            f'<text x="{LEFT - 4}" y="{top + 10}" font-size="10" text-anchor="end">{high:g}{unit}</text>'
            f'<text x="{LEFT - 4}" y="{top + PLOT_H}" font-size="10" text-anchor="end">0</text>')


def render(name: str, result: dict[str, Any], timeline: Timeline) -> str:
    end = max(result["virtual_seconds"], 1.0)
    samples = timeline.samples
    parts = []
    top = 20.0
    # 1. weights: written by the cutover (step) and held by clients
    weights = timeline.weights + [(end, timeline.weights[-1][1])] if timeline.weights else []
    parts += [_axes(top, "AWS share %", 100, "%"),
              _polyline(weights, top, 100, end, "#1f5fa8", step=True),
              _polyline([(s.t, 100 * s.client_aws_share) for s in samples], top, 100, end, "#e08a1e")]
    parts.append(f'<text x="{WIDTH - 10}" y="{top + 12}" font-size="10" text-anchor="end">'
                 '<tspan fill="#1f5fa8">DNS weight</tspan> · <tspan fill="#e08a1e">clients on AWS</tspan></text>')
    top += PLOT_H + GAP
    rates = [(s.t, 100 * s.aws_errors / s.aws_requests) for s in samples if s.aws_requests]
    high = max([r for _, r in rates] + [5.0])
    parts += [_axes(top, "AWS 5XX %", round(high, 1), "%"), _polyline(rates, top, high, end, "#d64541")]
    top += PLOT_H + GAP
    latencies = [(s.t, s.aws_p99) for s in samples if s.aws_p99 is not None]
    high = max([v for _, v in latencies] + [1.0])
    parts += [_axes(top, "AWS p99 s", round(high, 2), "s"), _polyline(latencies, top, high, end, "#7b4fa8")]
    top += PLOT_H + GAP
    alarms = sorted({a for _, a, _ in timeline.alarm_changes})
    parts.append(f'<text x="4" y="{top + 12}" font-size="12" font-weight="bold">alarms</text>')
    for row, alarm in enumerate(alarms):
        changes = [(t, s) for t, a, s in timeline.alarm_changes if a == alarm]
        y = top + 18 + row * 18
        parts.append(f'<text x="{LEFT - 4}" y="{y + 11}" font-size="9" text-anchor="end">{html.escape(alarm)}</text>')
        for i, (t, state) in enumerate(changes):
            until = changes[i + 1][0] if i + 1 < len(changes) else end
            parts.append(f'<rect x="{_x(t, end):.1f}" y="{y}" width="{max(_x(until, end) - _x(t, end), 1):.1f}" height="14" '
                         f'fill="{COLOURS.get(state, "#ccc")}"><title>{html.escape(state)}</title></rect>')
    top += 24 + 18 * len(alarms)
    for t, _line in timeline.events:
        parts.append(f'<line x1="{_x(t, end):.1f}" y1="20" x2="{_x(t, end):.1f}" y2="{top}" stroke="#000" stroke-opacity="0.12"/>')
    hours = int(end // 3600) + 1
    for h in range(hours + 1):
        if h * 3600 <= end:
            parts.append(f'<text x="{_x(h * 3600, end):.1f}" y="{top + 12}" font-size="10" text-anchor="middle">+{h}h</text>')
    svg = f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{top + 20:.0f}" font-family="sans-serif">{"".join(parts)}</svg>'
    rows = "".join(f"<tr><td>+{int(t) // 3600:02d}:{int(t) % 3600 // 60:02d}:{int(t) % 60:02d}</td><td>{html.escape(line)}</td></tr>"
                   for t, line in timeline.events)
    seen = "".join(f"<li>{html.escape(line)}</li>" for line in detection_lines(result))
    return (f"<!doctype html><meta charset='utf-8'><title>cutover rehearsal: {html.escape(name)}</title>"
            f"<body style='font-family:sans-serif;max-width:{WIDTH + 40}px'>"
            f"<h1>{html.escape(name)}: {html.escape(result['status'])}</h1>{svg}"
            f"<h2>what users would see</h2><ul>{seen}</ul>"
            f"<h2>events</h2><table>{rows}</table>"
            f"<h2>result</h2><pre>{html.escape(json.dumps(result, indent=2))}</pre></body>")


def write_report(path: Path, name: str, result: dict[str, Any], timeline: Timeline) -> None:
    path.write_text(render(name, result, timeline))

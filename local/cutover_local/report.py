"""A rehearsal's timeline as one self-contained HTML page (inline SVG, no scripts, no downloads).

It answers "what happened and why": the time axis spends its width where something happens
(a stretch of more than ``QUIET_SECONDS`` in which nothing changes, such as the TTL wait, is
drawn as a narrow break labelled with its length), the rollback is marked where it happened
with its reason, the alarm that caused it has its threshold drawn on the panel it applies to,
every panel has a legend and labelled axes, and the last event is said under the title.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cutover.durations import format_duration

from .rehearsal import Timeline, detection_lines

WIDTH, PLOT_H, LEFT, RIGHT, GAP = 1000, 120, 160, 40, 44
COLOURS = {"OK": "#3a9d5d", "ALARM": "#d64541", "INSUFFICIENT_DATA": "#b0b0b0"}
ROLLBACK = "#c0182b"
QUIET_SECONDS = 900  # a stretch with nothing happening longer than this is drawn as a break
BREAK_SECONDS = 90  # ... as wide as this many seconds of activity


@dataclass
class Axis:
    """Virtual seconds to x, with quiet stretches compressed into breaks."""

    end: float
    breaks: list[tuple[float, float]]  # (from, to) compressed

    @classmethod
    def over(cls, end: float, moments: list[float]) -> Axis:
        marks = sorted({0.0, end, *(m for m in moments if 0 <= m <= end)})
        gaps = [(a, b) for a, b in zip(marks, marks[1:], strict=False) if b - a > QUIET_SECONDS]
        # keep a little of the activity on each side of a break
        return cls(end, [(a + 60, b - 60) for a, b in gaps])

    def _scaled(self, t: float) -> float:
        shown = t
        for a, b in self.breaks:
            if t >= b:
                shown -= (b - a) - BREAK_SECONDS
            elif t > a:
                shown -= (t - a) * (1 - BREAK_SECONDS / (b - a))
        return shown

    def x(self, t: float) -> float:
        total = self._scaled(self.end) or 1.0
        return LEFT + (WIDTH - LEFT - RIGHT) * self._scaled(min(max(t, 0.0), self.end)) / total

    def ticks(self) -> list[float]:
        """Where to label the axis: the start, each side of each break, the end, and whole
        hours in between where there is room."""
        out = [0.0, self.end]
        for a, b in self.breaks:
            out += [a, b]
        hours = [h * 3600.0 for h in range(1, int(self.end // 3600) + 1)]
        out += [h for h in hours if not any(a < h < b for a, b in self.breaks)]
        picked: list[float] = []
        for t in sorted(set(out)):
            if all(abs(self.x(t) - self.x(p)) > 48 for p in picked):
                picked.append(t)
        return picked


def _clock(t: float) -> str:
    t = int(t)
    return f"+{t // 3600}:{t % 3600 // 60:02d}:{t % 60:02d}"


def _polyline(points: list[tuple[float, float]], top: float, high: float, axis: Axis, colour: str,
              step: bool = False, dash: str = "") -> str:
    coords, last_y = [], None
    for t, v in points:
        y = top + PLOT_H - PLOT_H * (min(v, high) / high if high else 0)
        if step and last_y is not None:
            coords.append(f"{axis.x(t):.1f},{last_y:.1f}")
        coords.append(f"{axis.x(t):.1f},{y:.1f}")
        last_y = y
    extra = f' stroke-dasharray="{dash}"' if dash else ""
    return f'<polyline fill="none" stroke="{colour}" stroke-width="1.8"{extra} points="{" ".join(coords)}"/>'


def _panel(top: float, title: str, high: float, unit: str, legend: list[tuple[str, str]]) -> str:
    ticks = "".join(
        f'<line x1="{LEFT}" y1="{top + PLOT_H * (1 - f):.1f}" x2="{WIDTH - RIGHT}" y2="{top + PLOT_H * (1 - f):.1f}" '
        f'stroke="#ddd"/><text x="{LEFT - 6}" y="{top + PLOT_H * (1 - f) + 4:.1f}" font-size="11" text-anchor="end">'
        f"{high * f:.3g}{unit}</text>" for f in (0.0, 0.5, 1.0))
    keys, x = [], WIDTH - RIGHT
    for label, colour in reversed(legend):
        width = 14 + 7 * len(label)
        x -= width + 12
        keys.append(f'<rect x="{x}" y="{top - 14}" width="12" height="4" fill="{colour}"/>'
                    f'<text x="{x + 16}" y="{top - 9}" font-size="11">{html.escape(label)}</text>')
    return (f'<text x="4" y="{top - 8}" font-size="13" font-weight="bold">{html.escape(title)}</text>{ticks}'
            f'<line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{top + PLOT_H}" stroke="#888"/>{"".join(keys)}')


def _threshold_panel(alarm: str) -> tuple[str, float] | None:
    """Which panel an alarm's threshold can be drawn on, and the factor to its unit there."""
    lowered = alarm.lower()
    if "vs-heroku" in lowered:
        return None  # a ratio of the origins, not a level of either
    if "latency" in lowered:
        return ("latency", 0.001 if "probe" in lowered else 1.0)  # the probes' in ms, the panel in s
    if "5xx" in lowered or "error" in lowered:
        return ("errors", 1.0)
    return None


def render(name: str, result: dict[str, Any], timeline: Timeline) -> str:
    end = max(result["virtual_seconds"], 1.0)
    samples = timeline.samples
    rollback_at = timeline.rollback_submitted_at
    moments = [t for t, _ in timeline.events] + [t for t, _ in timeline.weights] + [t for t, _, _ in timeline.alarm_changes]
    moments += [s.t for s in samples if s.aws_requests and s.aws_errors]  # errors are never compressed away
    axis = Axis.over(end, moments)
    rollback = result.get("rollback") or {}
    alarm = rollback.get("alarm")
    threshold = timeline.thresholds.get(alarm) if alarm else None
    parts: list[str] = []
    top = 64.0

    def threshold_line(panel: str, high: float) -> str:
        where = _threshold_panel(alarm) if alarm and threshold else None
        if not where or where[0] != panel:
            return ""
        level = threshold[1] * where[1]
        y = top + PLOT_H - PLOT_H * min(level, high) / high
        return (f'<line x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}" stroke="{ROLLBACK}" stroke-dasharray="6 4"/>'
                f'<text x="{LEFT + 4}" y="{y - 3:.1f}" font-size="11" fill="{ROLLBACK}">{html.escape(alarm)} threshold '
                f'{threshold[1]:g}</text>')

    weights = timeline.weights + [(end, timeline.weights[-1][1])] if timeline.weights else []
    parts += [_panel(top, "AWS share (%)", 100, "%", [("weight DNS serves", "#1f5fa8"), ("clients on AWS", "#e08a1e")]),
              _polyline(weights, top, 100, axis, "#1f5fa8", step=True),
              _polyline([(s.t, 100 * s.client_aws_share) for s in samples], top, 100, axis, "#e08a1e")]
    top += PLOT_H + GAP
    rates = [(s.t, 100 * s.aws_errors / s.aws_requests) for s in samples if s.aws_requests]
    high = max([r for _, r in rates] + [5.0] + ([threshold[1] * 1.2] if threshold and _threshold_panel(alarm or "") == ("errors", 1.0) else []))
    parts += [_panel(top, "AWS requests failing (%, a minute)", round(high, 1), "%", [("AWS 5XX", "#d64541")]),
              _polyline(rates, top, high, axis, "#d64541"), threshold_line("errors", high)]
    top += PLOT_H + GAP
    latencies = [(s.t, s.aws_p99) for s in samples if s.aws_p99 is not None]
    high = max([v for _, v in latencies] + [1.0])
    parts += [_panel(top, "AWS p99 latency (s, a minute)", round(high, 2), "s", [("AWS p99", "#7b4fa8")]),
              _polyline(latencies, top, high, axis, "#7b4fa8"), threshold_line("latency", high)]
    top += PLOT_H + GAP
    alarms = sorted({a for _, a, _ in timeline.alarm_changes})
    parts.append(f'<text x="4" y="{top - 8}" font-size="13" font-weight="bold">alarms</text>')
    legend_x = WIDTH - RIGHT
    for state in ("INSUFFICIENT_DATA", "ALARM", "OK"):
        legend_x -= 14 + 7 * len(state) + 12
        parts.append(f'<rect x="{legend_x}" y="{top - 18}" width="12" height="10" fill="{COLOURS[state]}"/>'
                     f'<text x="{legend_x + 16}" y="{top - 9}" font-size="11">{state}</text>')
    for row, each in enumerate(alarms):
        changes = [(t, s) for t, a, s in timeline.alarm_changes if a == each]
        y = top + row * 18
        parts.append(f'<text x="{LEFT - 6}" y="{y + 11}" font-size="10" text-anchor="end">{html.escape(each)}</text>')
        for i, (t, state) in enumerate(changes):
            until = changes[i + 1][0] if i + 1 < len(changes) else end
            parts.append(f'<rect x="{axis.x(t):.1f}" y="{y}" width="{max(axis.x(until) - axis.x(t), 1):.1f}" height="14" '
                         f'fill="{COLOURS.get(state, "#ccc")}"><title>{html.escape(each)}: {html.escape(state)} '
                         f'at {_clock(t)}</title></rect>')
    top += 6 + 18 * max(len(alarms), 1)
    for t, _line in timeline.events:
        parts.append(f'<line x1="{axis.x(t):.1f}" y1="30" x2="{axis.x(t):.1f}" y2="{top}" stroke="#000" stroke-opacity="0.10"/>')
    for a, b in axis.breaks:  # a break in the axis: nothing happened for this long
        x0, x1 = axis.x(a), axis.x(b)
        parts.append(f'<rect x="{x0:.1f}" y="30" width="{x1 - x0:.1f}" height="{top - 30:.1f}" fill="#f3f3f3"/>'
                     f'<text x="{(x0 + x1) / 2:.1f}" y="{top + 30}" font-size="10" text-anchor="middle" fill="#666">'
                     f"≈ {format_duration(int(b - a))} quiet</text>")
    if rollback_at is not None:
        x = axis.x(rollback_at)
        parts.append(f'<line x1="{x:.1f}" y1="22" x2="{x:.1f}" y2="{top}" stroke="{ROLLBACK}" stroke-width="2"/>'
                     f'<text x="{min(x + 4, WIDTH - 300):.1f}" y="18" font-size="12" font-weight="bold" fill="{ROLLBACK}">'
                     f"rollback at {_clock(rollback_at)}" + (f" by {html.escape(alarm)}" if alarm else "") + "</text>")
    parts.append(f'<line x1="{LEFT}" y1="{top}" x2="{WIDTH - RIGHT}" y2="{top}" stroke="#888"/>')
    for t in axis.ticks():
        anchor = "end" if t == end else "start" if t == 0 else "middle"
        parts.append(f'<line x1="{axis.x(t):.1f}" y1="{top}" x2="{axis.x(t):.1f}" y2="{top + 5}" stroke="#888"/>'
                     f'<text x="{axis.x(t):.1f}" y="{top + 17}" font-size="11" text-anchor="{anchor}">{_clock(t)}</text>')
    parts.append(f'<text x="{(LEFT + WIDTH) / 2:.0f}" y="{top + 46}" font-size="11" text-anchor="middle">'
                 "virtual time since the start (quiet stretches compressed)</text>")
    height = top + 56
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0f}" font-family="sans-serif" '
           f'role="img" aria-label="timeline of the rehearsal">{"".join(parts)}</svg>')
    rows = "".join(f"<tr><td>{_clock(t)}</td><td>{html.escape(line)}</td></tr>" for t, line in timeline.events)
    seen = "".join(f"<li>{html.escape(line)}</li>" for line in detection_lines(result))
    last = timeline.events[-1] if timeline.events else None
    why = (f"<p class='why' style='color:{ROLLBACK};font-weight:bold'>rolled back: {html.escape(rollback.get('reason', ''))}</p>"
           if rollback else "")
    return (f"<!doctype html><meta charset='utf-8'><title>cutover rehearsal: {html.escape(name)}</title>"
            f"<body style='font-family:sans-serif;max-width:{WIDTH + 40}px'>"
            f"<h1>{html.escape(name)}: {html.escape(result['status'])}</h1>{why}"
            + (f"<p class='last'>last event, at {_clock(last[0])}: {html.escape(last[1])}</p>" if last else "")
            + f"{svg}<h2>what users would see</h2><ul>{seen}</ul>"
            f"<h2>events</h2><table>{rows}</table>"
            f"<h2>result</h2><pre>{html.escape(json.dumps(result, indent=2))}</pre></body>")


def write_report(path: Path, name: str, result: dict[str, Any], timeline: Timeline) -> None:
    path.write_text(render(name, result, timeline))


"""The live view of one cutover (``cutover status --watch``, ``cutover start --wait``).

At a terminal, one screen redrawn in place (rich's ``Live``), as ``kubectl argo rollouts get
rollout --watch`` does: the stage and the AWS share intended, what DNS serves for each name,
the bake and when it ends, a gate and what opens it, each alarm's state and the latest datapoint
of its metric against its threshold (with the reason CloudWatch gave when it is not OK), and the
last decision of the ledger. Elsewhere (a
pipe, a CI log, ``NO_COLOR``, ``TERM=dumb``) the same facts as lines appended when they change.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

_COMPARISON = {"GreaterThanThreshold": ">", "GreaterThanOrEqualToThreshold": ">=", "LessThanThreshold": "<",
               "LessThanOrEqualToThreshold": "<="}


def snapshot(summary: dict[str, Any], state: dict[str, Any], gate: dict[str, Any] | None,
             ledger: list[dict[str, Any]], alarms: list[dict[str, Any]], now: datetime,
             latest: dict[str, dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """Everything the view shows, from what the commands read (the execution's summary, the
    cutover's state, its gate, its ledger, DescribeAlarms of the plan's alarms and the latest
    datapoint of each one's metric: ``{"value", "at"}``, ``{"unknown": why}`` or None)."""
    latest = latest or {}
    plan = state.get("plan", {})
    stages = plan.get("stages", [])
    shifted = [e for e in ledger if e["event"] == "shifted"]
    bake = None
    if summary.get("cutover") == "RUNNING" and shifted and not gate:
        index = int(shifted[-1]["stage"]) - 1
        seconds = int(stages[index]["bake"]) if index < len(stages) else 0
        ends = _parse(shifted[-1]["at"]) + timedelta(seconds=seconds)
        bake = {"stage": index + 1, "seconds": seconds, "ends": ends.isoformat().replace("+00:00", "Z"),
                "left": max(0, int((ends - now).total_seconds()))}
    waiting = None
    if gate:
        stage = int(gate.get("stage", 0))
        promote = (stages[stage - 1].get("promote") if 0 < stage <= len(stages) else None) or {}
        waiting = {"kind": gate.get("kind"), "stage": stage, "since": gate.get("since"), "opens": _opens(gate, promote)}
    last = ledger[-1] if ledger else None
    return {
        "name": summary["name"], "execution": summary["execution"], "cutover": summary.get("cutover"),
        "stage": summary.get("stage"), "stages": summary.get("stages"), "aws_percent": summary.get("aws_percent"),
        "served": summary.get("served", {}), "bake": bake, "gate": waiting,
        "alarms": [{"name": a["AlarmName"], "state": a["StateValue"],
                    "threshold": f"{_COMPARISON.get(a.get('ComparisonOperator', ''), '?')} {a.get('Threshold', '?'):g}"
                    if isinstance(a.get("Threshold"), int | float) else "?",
                    "reason": a.get("StateReason", ""), "since": _iso(a.get("StateUpdatedTimestamp")),
                    "latest": _latest_words(a, latest)} for a in alarms],
        "last": None if last is None else {"at": last["at"], "event": last["event"], "actor": last["actor"],
                                           "why": last.get("reason") or last.get("outcome") or ""},
        "rollback_reason": summary.get("rollback_reason"),
    }


def _latest_words(alarm: dict[str, Any], latest: dict[str, dict[str, Any] | None]) -> str:
    """``latest 3.2 at 15:02:00Z``: the alarm's metric as it stands, against its threshold."""
    if alarm.get("StateValue") == "MISSING":
        return ""
    if "MetricName" not in alarm and not alarm.get("Metrics"):
        return "composite: no datapoint of its own"
    if alarm["AlarmName"] not in latest:
        return ""
    found = latest[alarm["AlarmName"]]
    if found is None:
        return "no datapoint in the window it evaluates"
    if "unknown" in found:
        return f"latest datapoint unknown ({found['unknown']})"
    return f"latest {found['value']:.4g} at {found['at']}"


def _opens(gate: dict[str, Any], promote: Any) -> str:
    if gate.get("kind") == "watch":
        return "at the end of the watch, or cutover commit"
    if promote == "manual" or gate.get("kind") == "manual":
        return "when someone runs cutover promote"
    if isinstance(promote, dict) and promote.get("at"):
        return f"at {promote['at']}"
    if isinstance(promote, dict) and promote.get("window"):
        window = promote["window"]
        return f"in the window {','.join(window.get('days', []))} {window.get('start')}-{window.get('end')} {window.get('timezone', 'UTC')}"
    return "when its condition holds"


def _parse(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def _iso(value: Any) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return str(value or "")


def served_words(served: dict[str, Any]) -> str:
    """``Heroku 100% / AWS 0% (weights 255 / 0)``, or the simple CNAME, or why it is not known."""
    if "cname" in served:
        return f"a simple CNAME to {served['cname']}"
    if "unknown" in served:
        return f"unknown ({served['unknown']})"
    if "stale" in served:
        return served_words({k: v for k, v in served.items() if k != "stale"}) + f" ({served['stale']})"
    total = served["heroku"] + served["aws"]
    if total == 0:
        return "weights 0 / 0 (Route 53 answers as if equal: Heroku 50% / AWS 50%)"
    aws = round(100 * served["aws"] / total)
    return f"Heroku {100 - aws}% / AWS {aws}% (weights {served['heroku']} / {served['aws']})"


def lines(view: dict[str, Any]) -> list[str]:
    """The view as plain lines (the appended form, and the text the screen shows)."""
    head = f"{view['name']}: {view['execution']}"
    if view["cutover"] == "RUNNING":
        head += f" - stage {view['stage']} of {view['stages']}, AWS {view['aws_percent']}% intended"
    elif view["cutover"]:
        head += f" - cutover {view['cutover']}"
    out = [head]
    out += [f"  DNS {name}: {served_words(served)}" for name, served in view["served"].items()]
    if view["bake"]:
        b = view["bake"]
        out.append(f"  bake of stage {b['stage']}: until {b['ends']} ({_duration(b['left'])} left)")
    if view["gate"]:
        g = view["gate"]
        out.append(f"  gate before stage {g['stage']} ({g['kind']}): waiting since {g['since']}; opens {g['opens']}")
    for alarm in view["alarms"]:
        line = f"  alarm {alarm['name']}: {alarm['state']} (threshold {alarm['threshold']})"
        if alarm.get("latest"):
            line += f" {alarm['latest']}"
        if alarm["state"] != "OK" or not alarm.get("latest"):  # why it is not OK (or all CloudWatch says)
            line += f"; {alarm['reason']}" if alarm.get("latest") and alarm["reason"] else f" {alarm['reason']}"
        out.append(line.rstrip())
    if view["last"]:
        last = view["last"]
        out.append(f"  last: {last['at']} {last['event']} by {last['actor']}" + (f": {last['why']}" if last["why"] else ""))
    if view["rollback_reason"]:
        out.append(f"  rolled back: {view['rollback_reason']}")
    return out


def _duration(seconds: int) -> str:
    from cutover.durations import format_duration

    return format_duration(seconds) if seconds else "0s"


def interactive(stream: TextIO) -> bool:
    """A screen to redraw: a terminal, colours not refused, a terminal that can move the cursor."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM", "") != "dumb"


class Screen:
    """Where the view goes: redrawn in place at a terminal, appended elsewhere."""

    def __init__(self, stream: TextIO | None = None, redraw: bool | None = None, width: int | None = None) -> None:
        self.stream = stream or sys.stdout
        self.redraw = interactive(self.stream) if redraw is None else redraw
        self._shown: list[str] = []
        self._live: Any = None
        self._width = width

    def __enter__(self) -> Screen:
        if self.redraw:
            from rich.console import Console
            from rich.live import Live

            console = Console(file=self.stream, force_terminal=True, width=self._width, highlight=False)
            self._live = Live(console=console, auto_refresh=False, transient=False, redirect_stdout=False, redirect_stderr=False)
            self._live.__enter__()
        return self

    def show(self, view: dict[str, Any]) -> None:
        text = lines(view)
        if self.redraw:
            from rich.text import Text

            self._live.update(Text("\n".join(text), no_wrap=False), refresh=True)
        else:  # only what changed, as lines a log keeps
            for line in text:
                if line not in self._shown:
                    print(line, file=self.stream, flush=True)
            self._shown = text

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)


def follow(read: Callable[[], dict[str, Any]], ended: Callable[[dict[str, Any]], bool], screen: Screen,
           sleep: Callable[[float], None], poll: float, deadline: Callable[[], bool]) -> dict[str, Any]:
    """Show ``read()`` until ``ended`` holds for it (returned) or ``deadline()`` (None returned
    through TimeoutError)."""
    with screen:
        while True:
            view = read()
            screen.show(view)
            if ended(view):
                return view
            if deadline():
                raise TimeoutError
            sleep(poll)

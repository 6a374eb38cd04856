"""The alarm verdict after a bake: pure, from what CloudWatch reported.

A stage passes only if every guard-rail alarm exists, none is in ALARM now, none went to
ALARM at any moment since the shift (a breach that recovered still fails the stage), and
INSUFFICIENT_DATA is handled as the plan says (``wait``, ``fail`` or ``ignore``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass

OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
PASS, WAIT, FAIL = "PASS", "WAIT", "FAIL"


@dataclass(frozen=True)
class AlarmState:
    name: str
    state: str
    reason: str
    updated_at: str  # ISO 8601


@dataclass(frozen=True)
class Transition:
    """One state change of an alarm, from its history or from an alarm event."""

    name: str
    state: str
    at: str  # ISO 8601
    reason: str = ""


@dataclass(frozen=True)
class Verdict:
    outcome: str  # PASS | WAIT | FAIL
    reason: str
    cause: str | None  # "breach", "breach_recovered", "no_data", "missing_alarm" or None
    alarm: str | None
    evidence: tuple[dict, ...]

    def to_dict(self) -> dict:
        out = asdict(self)
        out["evidence"] = list(self.evidence)
        return out


def judge(
    watched: Sequence[str],
    states: Iterable[AlarmState],
    transitions: Iterable[Transition],
    policy: str,
) -> Verdict:
    """Decide a stage from the alarms' current states and their transitions since the shift."""
    by_name = {s.name: s for s in states}
    evidence = tuple(
        {"alarm": n, "state": by_name[n].state, "updated_at": by_name[n].updated_at}
        if n in by_name
        else {"alarm": n, "state": "MISSING"}
        for n in watched
    )
    for name in watched:
        if name not in by_name:
            return Verdict(FAIL, f"alarm {name} no longer exists", "missing_alarm", name, evidence)
    for name in watched:
        state = by_name[name]
        if state.state == ALARM:
            return Verdict(FAIL, f"alarm {name} is in ALARM: {state.reason}", "breach", name, evidence)
    for t in sorted(transitions, key=lambda t: t.at):
        if t.name in by_name and t.state == ALARM:
            reason = f"alarm {name_at(t)} went to ALARM during the bake and recovered: {t.reason}".rstrip(": ")
            return Verdict(FAIL, reason, "breach_recovered", t.name, evidence)
    no_data = [n for n in watched if by_name[n].state == INSUFFICIENT_DATA]
    if no_data and policy != "ignore":
        names = ", ".join(no_data)
        if policy == "fail":
            return Verdict(FAIL, f"no data for {names} (insufficient_data: fail)", "no_data", no_data[0], evidence)
        return Verdict(WAIT, f"waiting for data for {names} (insufficient_data: wait)", "no_data", no_data[0], evidence)
    note = f" (no data for {', '.join(no_data)}, ignored as the plan says)" if no_data else ""
    return Verdict(PASS, f"all {len(watched)} alarms OK{note}", None, None, evidence)


def name_at(t: Transition) -> str:
    return f"{t.name} at {t.at}"

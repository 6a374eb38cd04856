"""Rehearsal scenarios: a plan, and what happens to the alarms and the functions over time.

Alarm states are scripted relative to the start of a stage's bake. Traffic is not simulated
yet: no client resolves DNS and no metric feeds the alarms; a scenario says when an alarm
changes state instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cutover.durations import parse_duration

DEFAULT_PLAN: dict[str, Any] = {
    "hosted_zone_id": "ZREHEARSAL",
    "records": ["www.shop.example.com"],
    "heroku": {"target": "tranquil-reef-1234.herokudns.com"},
    "aws": {"target": "shop-alb-123456789.us-east-1.elb.amazonaws.com"},
    "ttl": {"during": 60},
    "stages": [{"weight": 10, "bake": "10m"}, {"weight": 50, "bake": "20m"}, {"weight": 100, "bake": "30m"}],
    "alarms": ["shop-5xx-rate", "shop-p99-latency"],
    "insufficient_data": "wait",
}
ORIGINAL_TTL = 3600


class ScenarioInvalid(ValueError):
    """A scenario name or file that cannot be used. Nothing was run."""


@dataclass(frozen=True)
class AlarmChange:
    stage: int  # 1-based stage whose bake the time is counted from
    after: int  # seconds into that stage's bake
    alarm: str
    state: str  # OK | ALARM | INSUFFICIENT_DATA
    reason: str = "scripted by the scenario"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    plan: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_PLAN))
    alarm_changes: tuple[AlarmChange, ...] = ()
    faults: dict[str, int] = field(default_factory=dict)  # function logical id -> failures to inject
    insync_after: int = 25  # seconds a Route 53 change stays PENDING


BUILT_IN: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy", "AWS is healthy: 10% → 50% → 100%, TTL restored at the end."),
        Scenario(
            "errors-at-10",
            "The AWS origin returns 5XX at 10%: the error-rate alarm fires 3 minutes into the first bake.",
            alarm_changes=(AlarmChange(1, 180, "shop-5xx-rate", "ALARM", "5XX rate 7.5% > 2%"),),
        ),
        Scenario(
            "latency-at-50",
            "p99 latency climbs at 50%: the latency alarm fires 5 minutes into the second bake.",
            alarm_changes=(AlarmChange(2, 300, "shop-p99-latency", "ALARM", "p99 2.8s > 1.5s"),),
        ),
        Scenario(
            "aws-down",
            "The AWS origin is down: both alarms fire 1 minute into the first bake.",
            alarm_changes=(
                AlarmChange(1, 60, "shop-5xx-rate", "ALARM", "5XX rate 100%"),
                AlarmChange(1, 60, "shop-p99-latency", "ALARM", "p99 30s (timeouts)"),
            ),
        ),
        Scenario(
            "breach-recovers",
            "A 2-minute error spike in the first bake that is over by its end: the stage still fails.",
            alarm_changes=(
                AlarmChange(1, 120, "shop-5xx-rate", "ALARM", "5XX rate 4%"),
                AlarmChange(1, 240, "shop-5xx-rate", "OK", "5XX rate 0.2%"),
            ),
        ),
        Scenario(
            "lambda-fault",
            "The shift function hits a transient Lambda service error once; the state machine retries it.",
            faults={"ShiftFunction": 1},
        ),
    )
}


def load(name_or_path: str | None) -> Scenario:
    """A built-in scenario by name, or a YAML scenario file."""
    if not name_or_path:
        return BUILT_IN["healthy"]
    if name_or_path in BUILT_IN:
        return BUILT_IN[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioInvalid(f"no scenario named {name_or_path!r} (built in: {', '.join(BUILT_IN)}) and no such file")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ScenarioInvalid(f"{path}: not YAML ({exc})") from exc
    return from_dict(data, default_name=path.stem)


def from_dict(data: Any, default_name: str = "custom") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioInvalid("a scenario is a mapping with plan, alarms and faults")
    unknown = set(data) - {"name", "description", "plan", "alarms", "faults", "route53"}
    if unknown:
        raise ScenarioInvalid(f"unknown scenario fields: {', '.join(sorted(unknown))}")
    changes = []
    for i, item in enumerate(data.get("alarms") or []):
        where = f"alarms[{i}]"
        if not isinstance(item, dict) or not {"stage", "after", "alarm", "state"} <= set(item):
            raise ScenarioInvalid(f"{where}: needs stage, after, alarm and state")
        if item["state"] not in ("OK", "ALARM", "INSUFFICIENT_DATA"):
            raise ScenarioInvalid(f"{where}.state: must be OK, ALARM or INSUFFICIENT_DATA")
        try:
            after = parse_duration(item["after"])
        except ValueError as exc:
            raise ScenarioInvalid(f"{where}.after: {exc}") from exc
        changes.append(AlarmChange(int(item["stage"]), after, str(item["alarm"]), item["state"], str(item.get("reason", "scripted"))))
    faults = data.get("faults") or {}
    if not isinstance(faults, dict) or not all(isinstance(v, int) and v >= 0 for v in faults.values()):
        raise ScenarioInvalid("faults: a mapping of function logical id to a count of failures")
    route53 = data.get("route53") or {}
    return Scenario(
        name=str(data.get("name", default_name)),
        description=str(data.get("description", "")),
        plan=data.get("plan") or copy.deepcopy(DEFAULT_PLAN),
        alarm_changes=tuple(changes),
        faults=dict(faults),
        insync_after=int(route53.get("insync_after", 25)),
    )

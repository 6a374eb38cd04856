"""EventBridge for the local engine: the template's rules, matched and delivered in-process.

moto stores rules but cannot deliver to Lambda targets (``put_events`` raises
NotImplementedError for them). Here the rules of ``template.yaml`` (``AWS::Events::Rule``
resources and functions' ``EventBridgeRule``/``CloudWatchEvent`` events) are matched with moto's
own event-pattern matcher, and each matching Lambda target is invoked asynchronously as Lambda
does for EventBridge (``Engine.invoke_async``: retries, then the on-failure destination).

Delivery follows ``delivery(event)``: the delays of each copy delivered (none: the event is
lost). The engine makes Step Functions status events best effort and alarm events sometimes
late or doubled, as AWS documents.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from moto.events.models import EventPattern

from cutover.clock import iso


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: dict[str, Any]
    targets: tuple[str, ...]  # Lambda function names

    def matches(self, event: dict[str, Any]) -> bool:
        return EventPattern.load(json.dumps(self.pattern)).matches_event(event)


def _at_once(event: dict[str, Any]) -> list[float]:
    return [0.0]


@dataclass
class EventBus:
    rules: list[Rule]
    invoke: Callable[[str, dict[str, Any]], None]
    clock: Any = None  # a VirtualClock; needed for delayed deliveries
    delivery: Callable[[dict[str, Any]], list[float]] = _at_once
    on_drop: Callable[[dict[str, Any]], None] = lambda event: None
    delivered: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (rule, target, event)
    dropped: list[dict[str, Any]] = field(default_factory=list)
    unmatched: int = 0

    def put(self, event: dict[str, Any]) -> list[str]:
        """Deliver ``event`` to every target of every matching rule (now, later, twice, or never,
        as ``delivery`` says); return the targets it matched."""
        targets = [(rule.name, target) for rule in self.rules if rule.matches(event) for target in rule.targets]
        if not targets:
            self.unmatched += 1
            return []
        delays = self.delivery(event)
        if not delays:
            self.dropped.append(event)
            self.on_drop(event)
        for delay in delays:
            if delay <= 0 or self.clock is None:
                self._deliver(targets, event)
            else:
                self.clock.call_at(self.clock.elapsed + delay, lambda t=targets: self._deliver(t, event))
        return [target for _, target in targets]

    def _deliver(self, targets: list[tuple[str, str]], event: dict[str, Any]) -> None:
        for rule, target in targets:
            self.delivered.append((rule, target, event))
            self.invoke(target, event)


@dataclass(frozen=True)
class Schedule:
    """A function's ``Schedule`` event (``rate(N minutes)``): EventBridge invokes it every period."""

    name: str
    period_seconds: float
    target: str  # Lambda function name


def _rate_seconds(expression: str) -> float:
    """``rate(5 minutes)`` -> 300. Other schedule expressions are not simulated (said so)."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        raise ValueError(f"the local engine simulates rate(...) schedules only, not {expression!r}")
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def schedules_from_template(resources: dict[str, Any], function_names: dict[str, str]) -> list[Schedule]:
    out = []
    for logical, spec in resources.items():
        if spec["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in (spec["Properties"].get("Events") or {}).items():
            if event.get("Type") == "Schedule":
                expression = event["Properties"]["Schedule"]
                out.append(Schedule(f"{logical}.{event_name}", _rate_seconds(expression), function_names[logical]))
    return out


def scheduled_event(schedule: Schedule, at: datetime, account: str, region: str) -> dict[str, Any]:
    rule = f"arn:aws:events:{region}:{account}:rule/{schedule.name}"
    return _envelope("Scheduled Event", "aws.events", rule, {}, f"{schedule.name}/{iso(at)}", at, account, region)


def rules_from_template(resources: dict[str, Any], function_names: dict[str, str],
                        resolve: Callable[[Any], Any] = lambda value: value) -> list[Rule]:
    """The EventBridge rules a template defines, with their Lambda targets resolved to names and
    their patterns' intrinsics (``!Ref CutoverStateMachine``) resolved by ``resolve``."""
    rules = []
    for logical, spec in resources.items():
        props = spec.get("Properties", {})
        if spec["Type"] == "AWS::Events::Rule" and "EventPattern" in props:
            targets = []
            for target in props.get("Targets", []):
                arn = target.get("Arn", {})
                logical_target = arn.get("Fn::GetAtt", [None])[0] if isinstance(arn, dict) else None
                if logical_target in function_names:
                    targets.append(function_names[logical_target])
            rules.append(Rule(logical, resolve(props["EventPattern"]), tuple(targets)))
        if spec["Type"] == "AWS::Serverless::Function":
            for event_name, event in (props.get("Events") or {}).items():
                if event.get("Type") in ("EventBridgeRule", "CloudWatchEvent") and "Pattern" in event.get("Properties", {}):
                    rules.append(Rule(f"{logical}.{event_name}", resolve(event["Properties"]["Pattern"]),
                                      (function_names[logical],)))
    return rules


def _envelope(detail_type: str, source: str, resource: str, detail: dict[str, Any], key: str,
              at: datetime, account: str, region: str) -> dict[str, Any]:
    """What EventBridge wraps every event in; ``key`` makes the id stable for one occurrence."""
    return {
        "version": "0",
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, key)),
        "detail-type": detail_type,
        "source": source,
        "account": account,
        "time": iso(at).replace(".000Z", "Z"),
        "region": region,
        "resources": [resource],
        "detail": detail,
    }


def alarm_state_change(alarm: dict[str, Any], old: str, new: str, reason: str, at: datetime,
                       account: str, region: str) -> dict[str, Any]:
    """A ``CloudWatch Alarm State Change`` event as EventBridge delivers it."""
    detail = {
        "alarmName": alarm["AlarmName"],
        "state": {"value": new, "reason": reason, "timestamp": iso(at).replace("Z", "+0000")},
        "previousState": {"value": old, "reason": "", "timestamp": ""},
        "configuration": {"description": alarm.get("AlarmDescription", ""), "metrics": alarm.get("Metrics", [])},
    }
    return _envelope("CloudWatch Alarm State Change", "aws.cloudwatch", alarm["AlarmArn"], detail,
                     f"{alarm['AlarmName']}/{iso(at)}/{new}", at, account, region)


def execution_status_change(described: dict[str, Any], account: str, region: str, at: datetime) -> dict[str, Any]:
    """A ``Step Functions Execution Status Change`` event for an execution that ended."""
    detail = {
        "executionArn": described["executionArn"],
        "stateMachineArn": described["stateMachineArn"],
        "name": described["name"],
        "status": described["status"],
        "startDate": int(described["startDate"].timestamp() * 1000),
        "stopDate": int(described["stopDate"].timestamp() * 1000) if described.get("stopDate") else None,
        "input": described.get("input"),
        "output": described.get("output"),
        "error": described.get("error"),
        "cause": described.get("cause"),
    }
    return _envelope("Step Functions Execution Status Change", "aws.states", described["executionArn"], detail,
                     f"{described['executionArn']}/{described['status']}", at, account, region)

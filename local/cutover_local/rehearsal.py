"""Run a scenario end to end on the local engine and report what happened."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import boto3

from cutover import records as rr
from cutover.durations import format_duration
from cutover.plan import parse_plan

from . import seed
from .engine import Engine, Invocation
from .scenarios import ORIGINAL_TTL, Scenario

# How Step Functions names a failure of the Lambda service itself (not of the function's code).
LambdaServiceException = type("Lambda.ServiceException", (Exception,), {"__module__": __name__})

Printer = Callable[[str], None]


@dataclass
class _Timeline:
    """What the rehearsal saw, in virtual seconds since the start."""

    stage_started: dict[int, float] = field(default_factory=dict)
    breach_at: float | None = None
    breach_alarm: str | None = None
    rollback_submitted_at: float | None = None
    rollback_insync_at: float | None = None
    stages_passed: int = 0


def zone_of(name: str) -> str:
    """The zone a rehearsal creates for a record name: the name without its first label."""
    return name.split(".", 1)[1]


def rehearse(scenario: Scenario, plan: dict[str, Any] | None = None, say: Printer = print) -> dict[str, Any]:
    """Run ``scenario`` (with ``plan`` instead of its own, if given) and return the result.

    The plan is validated before anything is created: ``PlanInvalid`` propagates unchanged.
    """
    raw = copy.deepcopy(plan if plan is not None else scenario.plan)
    parsed = parse_plan(raw)  # refuse a bad plan before any world exists
    started = time.perf_counter()
    timeline = _Timeline()
    with Engine() as engine:
        engine.route53.insync_after = scenario.insync_after
        zone_ids = {}
        for record in parsed.records:
            zone = zone_of(record.name)
            if zone not in zone_ids:
                heroku = record.heroku_target or "rehearsal-app-1234.herokudns.com"
                zone_ids[zone] = seed.zone_with_heroku_record(zone, record.name, heroku, ORIGINAL_TTL)
        if len(zone_ids) != 1:
            raise ValueError("a rehearsal moves names of one zone, as a plan does")
        zone_id = next(iter(zone_ids.values()))
        raw["hosted_zone_id"] = zone_id
        seed.alarms(parsed.alarms)
        engine.route53.calls.clear()
        engine.deploy({"HostedZoneIds": zone_id, "RecordNames": ",".join(parsed.names)})
        _inject_faults(engine, scenario)
        _script_alarms(engine, scenario, timeline, say)
        engine.on_invocation.append(lambda inv: _progress(inv, timeline, say))
        say(f"rehearsing {scenario.name}: {parsed.describe()} (Route 53 changes INSYNC after {scenario.insync_after}s)")
        execution_arn = engine.start(raw, name=f"rehearsal-{scenario.name}")
        described = engine.wait(execution_arn)
        history = engine.history(execution_arn)
        listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        wall = time.perf_counter() - started
        virtual = engine.clock.elapsed
        weights = {r["SetIdentifier"]: r["Weight"] for r in listed if r.get("SetIdentifier") in (rr.HEROKU_ID, rr.AWS_ID)}
        result = _result(described, weights, timeline, virtual, wall, history, engine)
    say(_summary(result))
    return result


def _inject_faults(engine: Engine, scenario: Scenario) -> None:
    for function, count in scenario.faults.items():
        remaining = [count]

        def fault(event: dict[str, Any], remaining: list[int] = remaining, function: str = function) -> None:
            if remaining[0] > 0:
                remaining[0] -= 1
                raise LambdaServiceException(f"injected: {function} unavailable")

        engine.faults[function] = fault


def _script_alarms(engine: Engine, scenario: Scenario, timeline: _Timeline, say: Printer) -> None:
    """When a stage starts, schedule the scenario's alarm changes for that stage's bake."""

    def schedule(inv: Invocation) -> None:
        if inv.function != "ShiftFunction" or inv.error or not inv.result:
            return
        stage = inv.result["stage_index"] + 1
        for change in scenario.alarm_changes:
            if change.stage == stage:
                engine.clock.call_at(inv.virtual_at + change.after, lambda c=change: apply(c))

    def apply(change: Any) -> None:
        at = engine.clock.elapsed
        boto3.client("cloudwatch").set_alarm_state(AlarmName=change.alarm, StateValue=change.state, StateReason=change.reason)
        if change.state == "ALARM" and timeline.breach_at is None:
            timeline.breach_at, timeline.breach_alarm = at, change.alarm
        say(f"[{_t(at)}] alarm {change.alarm} → {change.state}: {change.reason}")

    engine.on_invocation.append(schedule)


def _progress(inv: Invocation, timeline: _Timeline, say: Printer) -> None:
    at, result = inv.virtual_at, inv.result or {}
    if inv.error:
        say(f"[{_t(at)}] {inv.function} failed: {inv.error}: {inv.message}")
        return
    if inv.function == "PreflightFunction":
        say(f"[{_t(at)}] preflight: plan valid, lock taken, converted to weighted pair Heroku 100 / AWS 0")
    elif inv.function == "LowerTtlFunction":
        say(f"[{_t(at)}] TTL lowered to {result['plan']['ttl']['during']}s; waiting the old TTL ({format_duration(result['wait_seconds'])})")
    elif inv.function == "ShiftFunction":
        stage = result["stage_index"] + 1
        timeline.stage_started[stage] = at
        say(f"[{_t(at)}] stage {stage}: AWS {result['aws_percent']}%, bake {format_duration(result['bake_seconds'])}")
    elif inv.function == "EvaluateAlarmsFunction":
        if result.get("verdict") == "PASS":
            timeline.stages_passed += 1
            say(f"[{_t(at)}] stage {result['stage_index']} passed: alarms OK over the whole bake")
        else:
            say(f"[{_t(at)}] waiting for alarm data (insufficient_data: wait)")
    elif inv.function == "RollbackFunction":
        timeline.rollback_submitted_at = at
        say(f"[{_t(at)}] ROLLBACK to Heroku 100%: {result.get('rollback_reason')}")
    elif inv.function == "CheckChangeFunction" and result.get("change_status") == "INSYNC":
        if result.get("after_change") == "rolled_back" and timeline.rollback_insync_at is None:
            timeline.rollback_insync_at = at
            say(f"[{_t(at)}] rollback INSYNC: all DNS answers point at Heroku")
    elif inv.function == "RestoreTtlFunction":
        say(f"[{_t(at)}] at AWS 100%: restoring the original TTL")
    elif inv.function == "FinalizeFunction":
        say(f"[{_t(at)}] cutover succeeded; lock released")


def _percent(weights: dict[str, int]) -> dict[str, int]:
    heroku, aws = weights.get(rr.HEROKU_ID, 0), weights.get(rr.AWS_ID, 0)
    total = heroku + aws
    if not total:
        return {"heroku": 0, "aws": 0}
    return {"heroku": round(100 * heroku / total), "aws": round(100 * aws / total)}


def _result(described: dict[str, Any], weights: dict[str, int], timeline: _Timeline, virtual: float, wall: float,
            history: list[dict[str, Any]], engine: Engine) -> dict[str, Any]:
    final = _percent(weights)
    if described["status"] == "SUCCEEDED":
        status = "SUCCEEDED"
    elif described.get("error") == "CutoverRolledBack" and final == {"heroku": 100, "aws": 0}:
        status = "ROLLED_BACK"
    else:
        status = "FAILED"
    rollback = None
    if timeline.rollback_submitted_at is not None:
        reaction = None
        if timeline.breach_at is not None and timeline.rollback_insync_at is not None:
            reaction = round(timeline.rollback_insync_at - timeline.breach_at, 3)
        rollback = {
            "reason": described.get("cause"),
            "alarm": timeline.breach_alarm,
            "seconds_breach_to_insync": reaction,
        }
    return {
        "status": status,
        "execution_status": described["status"],
        "error": described.get("error"),
        "final_weights": final,
        "stages_completed": timeline.stages_passed,
        "rollback": rollback,
        "virtual_seconds": round(virtual, 3),
        "wall_seconds": round(wall, 3),
        "counters": {
            "state_transitions": sum(1 for e in history if e["type"].endswith("StateEntered")),
            "lambda_invocations": len(engine.invocations),
            "route53_calls": dict(sorted(engine.route53.calls.items())),
        },
    }


def _summary(result: dict[str, Any]) -> str:
    weights = result["final_weights"]
    line = (f"{result['status']}: Heroku {weights['heroku']}% / AWS {weights['aws']}% after "
            f"{format_duration(int(result['virtual_seconds']))} of virtual time ({result['wall_seconds']:.1f}s wall), "
            f"{result['stages_completed']} stage(s) passed")
    if result["rollback"]:
        line += f"\nrolled back: {result['rollback']['reason']}"
        if result["rollback"]["seconds_breach_to_insync"] is not None:
            line += f" ({result['rollback']['seconds_breach_to_insync']:.0f}s from breach to Heroku INSYNC)"
    return line


def _t(seconds: float) -> str:
    whole = int(seconds)
    return f"+{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"

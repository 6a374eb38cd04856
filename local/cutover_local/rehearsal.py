"""Run a scenario end to end on the local engine and report what happened."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import boto3

from cutover import records as rr
from cutover.adapters.clients import client
from cutover.adapters.store import Store
from cutover.compare import side_by_side
from cutover.durations import format_duration
from cutover.plan import parse_plan
from cutover.steps import describe_error

from . import seed
from .alarm_eval import AlarmEvaluator, ProbeAlarmEvaluator
from .engine import ACCOUNT, REGION, SETTLE_SECONDS, Engine, Invocation
from .eventbridge import alarm_state_change
from .health_checks import HealthCheck, dns_shares
from .scenarios import ORIGINAL_TTL, Scenario
from .traffic import LOAD_BALANCER, TARGET_GROUP, Sample, TrafficSimulator, publish

DEFAULT_SEED = 7
# A rehearsal whose execution still runs after this much virtual time is reported as it stands
# (an execution waiting for a promotion that never comes).
VIRTUAL_LIMIT = 3 * 86_400

Printer = Callable[[str], None]


@dataclass
class Timeline:
    """What the rehearsal saw, in virtual seconds since the start."""

    stage_started: dict[int, float] = field(default_factory=dict)
    events: list[tuple[float, str]] = field(default_factory=list)
    alarm_changes: list[tuple[float, str, str]] = field(default_factory=list)  # (t, alarm, new state)
    weights: list[tuple[float, int]] = field(default_factory=list)  # (t, AWS percent written)
    samples: list[Sample] = field(default_factory=list)
    failures: list[tuple[float, int]] = field(default_factory=list)  # per traffic tick: AWS requests that failed
    breach_at: float | None = None
    breach_alarm: str | None = None
    rollback_submitted_at: float | None = None
    rollback_insync_at: float | None = None
    stages_passed: int = 0
    # (t, healthy): Route 53's judgement of a health check on the AWS record, when it changed
    health: list[tuple[float, bool]] = field(default_factory=list)
    # each alarm's threshold and comparison, for the report's threshold lines
    thresholds: dict[str, tuple[str, float]] = field(default_factory=dict)


def zone_of(name: str) -> str:
    """The zone a rehearsal creates for a record name: the name without its first label."""
    return name.split(".", 1)[1]


@dataclass
class World:
    """What faults and invariant checks act on during one rehearsal."""

    engine: Engine
    zone_id: str
    names: list[str]
    cutover_id: str
    plan: dict[str, Any]
    alarms: dict[str, dict[str, Any]]
    note: Callable[[float, str], None]
    notifications_queue: str
    execution_arn: str = ""
    ended_at: float | None = None
    outages_end: float = 0.0  # virtual seconds at which the last injected outage ends
    stage_started: dict[int, float] = field(default_factory=dict)  # stage -> virtual second of its shift
    effects: list[Any] = field(default_factory=list)  # the simulated origins' behaviour (``traffic.Effect``)
    raced: list[str] = field(default_factory=list)  # cutovers started while this one held the names

    def invoke(self, function: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Invoke a deployed function by logical id (as an operator's CLI or the console would)."""
        assert self.engine.stack is not None
        name = next(f.name for f in self.engine.stack.functions.values() if f.logical_id == function)
        answer = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps(payload))
        return json.loads(answer["Payload"].read())

    def notifications(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=self.notifications_queue, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(json.loads(m["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self.notifications_queue, ReceiptHandle=m["ReceiptHandle"])


def rehearse(scenario: Scenario, plan: dict[str, Any] | None = None, seed_value: int = DEFAULT_SEED,
             say: Printer = print, alarm_listener: bool = True, faults: Sequence[Any] = (),
             inspect: Callable[[World, dict[str, Any]], list[str]] | None = None,
             original_ttl: int = ORIGINAL_TTL) -> tuple[dict[str, Any], Timeline]:
    """Run ``scenario`` (with ``plan`` instead of its own, if given); return the result and timeline.

    ``alarm_listener=False`` leaves alarm events undelivered to the listener, so breaches are
    acted on only between stages (for comparison). ``faults`` (from ``faults.py``) are installed
    before the execution starts; ``inspect`` runs at the end (after the world settled) and its
    findings are the result's ``violations``. The plan is validated before anything is created:
    ``PlanInvalid`` propagates unchanged.
    """
    raw = copy.deepcopy(plan if plan is not None else scenario.plan)
    parsed = parse_plan(raw)  # refuse a bad plan before any world exists
    zones = {zone_of(r.name) for r in parsed.records}
    if len(zones) != 1:
        raise ValueError("a rehearsal moves names of one zone, as a plan does")
    started = time.perf_counter()
    timeline = Timeline()

    insync_told: list[float] = []  # the rollback's INSYNC moment, once said

    def insync_line(before: float | None) -> None:
        """Say when the rollback's change became INSYNC, in its place in the timeline: before the
        first line of a later moment (the moment is known once the change was submitted)."""
        if insync_told or not live:
            return
        at = _rollback_insync(live[0])
        if at is not None and (before is None or at <= before):
            insync_told.append(at)
            say(f"[{_t(at)}] rollback INSYNC: all DNS answers point at Heroku")

    def note(at: float, line: str) -> None:
        insync_line(at)
        timeline.events.append((at, line))
        say(f"[{_t(at)}] {line}")

    live: list[Engine] = []

    with Engine(seed=seed_value) as engine:
        live.append(engine)
        engine.route53.insync_after = scenario.insync_after
        zone_id = ""
        for record in parsed.records:
            heroku = record.heroku_target or "rehearsal-app-1234.herokudns.com"
            engine.origins.route(heroku, "heroku")  # the plan's own targets reach the loopback origins
            engine.origins.route(record.aws_target, "aws")
            if zone_id:
                seed.add_heroku_record(zone_id, record.name, heroku, original_ttl)
            else:
                zone_id = seed.zone_with_heroku_record(zone_of(record.name), record.name, heroku, original_ttl)
        engine.origins.aws.certificate = scenario.aws_certificate
        engine.origins.aws.status, engine.origins.aws.delay = scenario.aws_status, scenario.aws_delay
        raw["hosted_zone_id"] = zone_id
        definitions = seed.example_alarms(parsed.alarms, LOAD_BALANCER, TARGET_GROUP)
        timeline.thresholds = {d["AlarmName"]: (d.get("ComparisonOperator", ""), float(d["Threshold"]))
                               for d in definitions if "Threshold" in d}
        engine.route53.calls.clear()
        engine.deploy({"HostedZoneIds": zone_id, "RecordNames": ",".join(parsed.names)})
        if not alarm_listener and engine.events:
            engine.events.rules = [r for r in engine.events.rules if not r.name.startswith("AlarmListenerFunction.")]

        def alarm_changed(name: str, old: str, new: str, reason: str) -> None:
            at = engine.clock.elapsed
            client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=new, StateReason=reason)
            timeline.alarm_changes.append((at, name, new))
            if new == "ALARM" and timeline.breach_at is None and timeline.stage_started:
                timeline.breach_at, timeline.breach_alarm = at, name
            note(at, f"alarm {name}: {old} → {new} ({reason})")
            assert engine.events is not None
            engine.events.put(alarm_state_change(alarms[name], old, new, reason, engine.clock.now(), ACCOUNT, REGION))

        alarms = {d["AlarmName"]: d for d in definitions}
        evaluator = AlarmEvaluator(definitions, alarm_changed, engine.clock, seed_value,
                                   on_visible=lambda period, datapoint: publish(datapoint, engine.clock.start + timedelta(minutes=period)))
        evaluator.start()
        probe_alarms = ProbeAlarmEvaluator(definitions, alarm_changed, engine.clock, seed_value)
        engine.on_metric_data.append(probe_alarms.put)
        probe_alarms.start()
        first = parsed.names[0]

        def served() -> tuple[int, float, float] | None:
            """What DNS answers now: the TTL and the Heroku and AWS shares, health checks applied."""
            return dns_shares(engine.route53.served(zone_id, first), engine.health_checks.healthy, rr.HEROKU_ID, rr.AWS_ID)

        def health_changed(check: HealthCheck, healthy: bool) -> None:
            at = engine.clock.elapsed
            timeline.health.append((at, healthy))
            note(at, f"Route 53 health check on {check.config.get('FullyQualifiedDomainName')}: "
                     + ("healthy again" if healthy else "UNHEALTHY: Route 53 stops answering with the AWS target"))

        engine.health_checks.on_change.append(health_changed)
        effects = list(scenario.traffic)  # faults may add to them (``World.effects``)
        simulator = TrafficSimulator(engine.clock, served, effects, timeline.stage_started,
                                     seed_value, on_minute=[evaluator.ended], aws_origin=engine.origins.aws)
        simulator.start()
        engine.origins.behaviour = simulator.behaviour
        engine.on_invocation.append(lambda inv: _progress(inv, timeline, note))
        cutover_id = f"rehearsal-{scenario.name}"
        world = World(engine, zone_id, list(parsed.names), cutover_id, raw, alarms, note, _subscribe(engine),
                      stage_started=timeline.stage_started, effects=effects)
        for fault in [*scenario.catalogue_faults(), *faults]:
            fault.install(world)
        say(f"rehearsing {scenario.name}: {parsed.describe()} (seed {seed_value}; Route 53 changes INSYNC after {scenario.insync_after}s)")
        execution_arn = world.execution_arn = engine.start(raw, name=cutover_id)
        operator = _Operator(engine, scenario.promote_after, cutover_id, note)
        engine.on_invocation.append(operator.heard)
        described = engine.wait(execution_arn, on_poll=operator.act, virtual_limit=VIRTUAL_LIMIT)
        world.ended_at = engine.ended_at.get(execution_arn)
        # what AWS still does after the end (late events, asynchronous retries), and until any
        # injected outage is over
        engine.settle(max(0.0, world.outages_end - engine.clock.elapsed) + SETTLE_SECONDS)
        violations = inspect(world, described) if inspect else []
        transitions = engine.state_transitions(execution_arn)
        listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone_id)["ResourceRecordSets"]
        timeline.samples = simulator.samples
        timeline.failures = simulator.failures
        timeline.rollback_insync_at = _rollback_insync(engine)
        insync_line(None)
        # the name that sends most to AWS: a rehearsal is only as good as its worst name
        weights = max((_weights_of(listed, name) for name in parsed.names), key=lambda w: _percent(w)["aws"])
        store = Store(engine.stack.table_name) if engine.stack else None
        saved = store.state(described["name"]) if store else None
        # the failure's message, never the function's stack trace that Step Functions carries with it
        reason = (saved or {}).get("rollback_reason") or (
            describe_error({"Error": described.get("error"), "Cause": described["cause"]})[1] if described.get("cause") else None)
        # the alarm the rollback acted on (two alarms can fire in the same minute; the first event
        # to reach the listener acts), else the first to fire
        ledger = store.ledger(described["name"]) if store else []
        acted = [e for e in ledger if e["event"] == "rolled_back" and not e.get("repeated")]
        if acted and acted[0].get("alarm"):
            timeline.breach_alarm = acted[0]["alarm"]
        elif acted and not str(reason or "").startswith("AlarmBreached"):
            timeline.breach_alarm = None  # an alarm fired, but something else rolled back
        result = _result(described, weights, timeline, engine.clock.elapsed, time.perf_counter() - started, transitions, engine, reason)
        result["dns_aws_percent"] = round(100 * ((served() or (0, 1, 0))[2]), 1)
        result["detection"] = _detection(ledger, timeline, effects, engine,
                                         reason if described.get("error") == "NotReady" else None)
        if inspect:
            result["violations"] = violations
    say(_summary(result))
    return result, timeline


class _Operator:
    """The rehearsal's operator: promotes a stage held for a manual promotion after a while.

    While an execution waits for a task token the engine moves virtual time on by itself
    (traffic and alarms go on meanwhile); once ``delay`` has passed the operator invokes the
    Promote function as ``cutover promote`` would.
    """

    def __init__(self, engine: Engine, delay: int, cutover_id: str, note: Callable[[float, str], None]) -> None:
        self.engine, self.delay, self.cutover_id, self.note = engine, delay, cutover_id, note
        self.pending: float | None = None

    def heard(self, inv: Invocation) -> None:
        if inv.function == "HoldForPromotionFunction" and not inv.error and inv.result and "watch_until" in inv.result:
            self.note(inv.virtual_at, f"at AWS 100%, watched until {inv.result['watch_until']}: alarms, listener and "
                                      "health check armed; then committed")
        elif inv.function == "HoldForPromotionFunction" and not inv.error:
            self.pending = inv.virtual_at
            self.note(inv.virtual_at, f"stage {inv.result['stage'] if inv.result else '?'} waits for an operator's promotion")

    def act(self) -> None:
        if self.pending is None or self.engine.clock.elapsed < self.pending + self.delay:
            return
        self.pending = None
        assert self.engine.stack is not None
        answer = boto3.client("lambda").invoke(
            FunctionName=self.engine.stack.outputs["PromoteFunctionName"],
            Payload=json.dumps({"cutover_id": self.cutover_id, "actor": "rehearsal operator"}),
        )
        outcome = json.loads(answer["Payload"].read())
        self.note(self.engine.clock.elapsed, "operator: cutover promote" + ("" if outcome.get("promoted") else f" refused: {outcome}"))


def _subscribe(engine: Engine) -> str:
    """A queue subscribed to the stack's topic: every notification the control plane sends."""
    assert engine.stack is not None
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="rehearsal-notifications")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=engine.stack.topic_arn, Protocol="sqs", Endpoint=arn)
    return url


def _progress(inv: Invocation, timeline: Timeline, note: Callable[[float, str], None]) -> None:
    at, result = inv.virtual_at, inv.result or {}
    if inv.error:
        note(at, f"{inv.function} failed: {inv.error}: {inv.message}")
        return
    if inv.function == "PreflightFunction":
        note(at, "preflight: plan valid, lock taken, converted to weighted pair Heroku 100 / AWS 0")
        timeline.weights.append((at, 0))
    elif inv.function == "LowerTtlFunction":
        note(at, f"TTL lowered to {result['plan']['ttl']['during']}s; waiting the old TTL ({format_duration(result['wait_seconds'])})")
    elif inv.function == "ShiftFunction":
        stage = result["stage_index"] + 1
        timeline.stage_started[stage] = at
        timeline.weights.append((at, result["aws_percent"]))
        delay = result["judge_after_seconds"] - result["bake_seconds"]
        note(at, f"stage {stage}: AWS {result['aws_percent']}%, bake {format_duration(result['bake_seconds'])}, "
                 f"judged {format_duration(delay)} later, once its last minutes of data are visible")
    elif inv.function == "EvaluateAlarmsFunction" and inv.event.get("recheck") is True:
        if result.get("verdict") == "PASS":
            note(at, "alarms rechecked before the promotion: OK")
    elif inv.function == "EvaluateAlarmsFunction":
        if result.get("verdict") == "PASS":
            timeline.stages_passed += 1
            note(at, f"stage {result['stage_index']} passed: alarms OK over the whole bake and its data delay")
        else:
            note(at, "waiting for alarm data (insufficient_data: wait)")
    elif inv.function == "RollbackFunction":
        timeline.rollback_submitted_at = at
        timeline.weights.append((at, 0))
        note(at, f"ROLLBACK to Heroku 100%: {result.get('rollback_reason')}")
    elif inv.function == "AlarmListenerFunction" and result.get("rolled_back"):
        timeline.rollback_submitted_at = timeline.rollback_submitted_at or at
        timeline.weights.append((at, 0))
        note(at, f"alarm listener: {result['alarm']} is in ALARM: ROLLBACK to Heroku 100% and execution stopped")
    elif inv.function == "SafetyNetFunction":
        if result.get("acted"):
            timeline.rollback_submitted_at = timeline.rollback_submitted_at or at
            timeline.weights.append((at, 0))
            note(at, f"safety net: {result.get('why')}: traffic put back on Heroku")
        else:
            note(at, f"safety net: nothing to do ({_short(result.get('why'))})")
    elif inv.function == "ReconcileFunction" and any(a.get("acted") for a in result.get("acted", [])):
        timeline.rollback_submitted_at = timeline.rollback_submitted_at or at
        timeline.weights.append((at, 0))
        why = "; ".join(str(a.get("why")) for a in result["acted"] if a.get("acted"))
        note(at, f"reconciler: {_short(why)}: traffic put back on Heroku")
    elif inv.function == "RestoreTtlFunction":
        note(at, "at AWS 100%: restoring the original TTL")
    elif inv.function == "FinalizeFunction":
        note(at, "cutover committed: each name a simple CNAME to AWS, the health check deleted; succeeded, lock released")


def _short(text: Any, limit: int = 160) -> str:
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _rollback_insync(engine: Engine) -> float | None:
    """Virtual seconds at which the first rollback change (an UPSERT batch) became INSYNC."""
    for change_id, (_, changes) in list(engine.route53.changes.items()):  # read while the engine runs
        if changes and all(c["Action"] == "UPSERT" for c in changes):
            insync = engine.route53.insync_at(change_id).timestamp()
            return round(insync - engine.clock.start.timestamp(), 3)
    return None


def _weights_of(listed: list[dict[str, Any]], name: str) -> dict[str, int]:
    """The weights DNS answers ``name`` with (a simple CNAME counts as all on its target)."""
    mine = [r for r in listed if rr.bare(r["Name"]) == name]
    weights = {r["SetIdentifier"]: r["Weight"] for r in mine if r.get("SetIdentifier") in (rr.HEROKU_ID, rr.AWS_ID)}
    simple = [r for r in mine if "SetIdentifier" not in r and r["Type"] == "CNAME"]
    if not weights and simple:  # never converted, or restored by hand
        on_heroku = rr.bare(simple[0]["ResourceRecords"][0]["Value"]).endswith(".herokudns.com")
        weights = {rr.HEROKU_ID: 1 if on_heroku else 0, rr.AWS_ID: 0 if on_heroku else 1}
    return weights


def _percent(weights: dict[str, int]) -> dict[str, int]:
    heroku, aws = weights.get(rr.HEROKU_ID, 0), weights.get(rr.AWS_ID, 0)
    total = heroku + aws
    if not total:
        return {"heroku": 0, "aws": 0}
    return {"heroku": round(100 * heroku / total), "aws": round(100 * aws / total)}


def _result(described: dict[str, Any], weights: dict[str, int], timeline: Timeline, virtual: float, wall: float,
            transitions: int, engine: Engine, reason: str | None) -> dict[str, Any]:
    final = _percent(weights)
    if described["status"] == "SUCCEEDED":
        status = "SUCCEEDED"
    elif timeline.rollback_submitted_at is not None and final == {"heroku": 100, "aws": 0}:
        status = "ROLLED_BACK"
    else:
        status = "FAILED"
    rollback = None
    if timeline.rollback_submitted_at is not None:
        reaction = None
        if timeline.breach_at is not None and timeline.rollback_insync_at is not None:
            reaction = round(timeline.rollback_insync_at - timeline.breach_at, 3)
        rollback = {"reason": reason, "alarm": timeline.breach_alarm, "seconds_breach_to_insync": reaction}
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
            "state_transitions": transitions,
            "lambda_invocations": len(engine.invocations),
            "route53_calls": dict(sorted(engine.route53.calls.items())),
            "events_delivered": len(engine.events.delivered) if engine.events else 0,
        },
    }


def _detection(ledger: list[dict[str, Any]], timeline: Timeline, effects: list[Any], engine: Engine,
               refused: str | None = None) -> dict[str, Any]:
    """What the checks that see what users see found: readiness (AWS and the Heroku baseline),
    each stage's traffic at the load balancer, the Route 53 health check (and, when the scenario
    breaks AWS, how long DNS took to stop answering with it)."""
    readiness = next((e for e in ledger if e["event"] in ("readiness", "readiness_skipped")), None)
    # (not the seconds each took: wall time on loopback, which says nothing and differs run to run)
    checks = [{k: c.get(k) for k in ("name", "origin", "ok", "status", "cert_days_left", "reason")}
              for c in (readiness or {}).get("checks", [])]
    broke = _aws_broke_at(effects, timeline)
    unhealthy = next((at for at, healthy in timeline.health if not healthy and (broke is None or at >= broke)), None)
    # each stage's traffic as its evaluation measured it: intended and observed side by side
    traffic = [dict(e["traffic"]) for e in ledger if e["event"] == "evaluated" and e.get("traffic")]
    # AWS compared with Heroku by the probes: over each stage's bake, and before an alarm's rollback
    compared = [{"stage": e["stage"], "names": e["compare"]} for e in ledger
                if e["event"] in ("evaluated", "rechecked") and e.get("compare")]
    before = next((e for e in ledger if e["event"] == "probe_figures"), None)
    if refused:
        found: Any = {"refused": refused}
    elif readiness and readiness["event"] == "readiness_skipped":
        found = {"skipped": readiness.get("reason")}
    else:
        found = checks
    return {
        "readiness": found,
        "traffic": traffic,
        "compare": compared,
        "probes_before_rollback": ({"alarm": before["alarm"], "since": before["since"], "until": before["until"],
                                    "names": before["compare"]} if before else None),
        "health_check": {
            "created": len(engine.health_checks.checks),
            "left": len(engine.health_checks.live()),
            "unhealthy_at": unhealthy,
            "aws_broke_at": broke,
            "seconds_to_dns_heroku_only": round(unhealthy - broke, 1) if unhealthy is not None and broke is not None else None,
        },
    }


def _aws_broke_at(effects: list[Any], timeline: Timeline) -> float | None:
    """When the scenario (or a fault) leaves the AWS load balancer without a healthy target (None: never)."""
    times = [timeline.stage_started.get(e.stage, -1.0) + e.after if e.stage is not None else e.after
             for e in effects if e.origin == "aws" and e.unhealthy]
    times = [t for t in times if t >= 0]
    return min(times) if times else None


def detection_lines(result: dict[str, Any]) -> list[str]:
    """What the checks that see what users see found, one line each (the summary and the report)."""
    detection = result.get("detection") or {}
    lines = []
    readiness = detection.get("readiness")
    if isinstance(readiness, dict) and "refused" in readiness:
        lines.append(f"readiness: REFUSED, nothing changed: {readiness['refused']}")
    elif isinstance(readiness, dict):
        lines.append(f"readiness: switched off ({readiness.get('skipped')})")
    elif readiness:
        lines.append("readiness: " + "; ".join(
            f"{c['origin']} {c['name']}: " + (f"{c['status']}" if c["ok"] else f"FAILED ({c['reason']})") for c in readiness))
    for t in detection.get("traffic", []):
        growth = (f", grew x{t['observed_growth']:g} where the weights grew x{t['expected_growth']:g}"
                  if "observed_growth" in t else "")
        share = f" ({t['observed_percent']:g}% of the site's requests)" if "observed_percent" in t else ""
        lines.append(f"traffic, stage {t['stage']} at {t['intended_percent']}% intended: "
                     f"{t['requests_per_minute']:g} requests a minute at the load balancer{share}{growth}"
                     + ("" if t["ok"] else ": NOT ARRIVING"))
    for c in detection.get("compare", []):
        lines += [f"compared with Heroku, stage {c['stage']}: {side_by_side(n)}" for n in c["names"]]
    before = detection.get("probes_before_rollback")
    for n in (before or {}).get("names", []):
        lines.append(f"probes before {before['alarm']} went to ALARM: {side_by_side(n)}")
    health = detection.get("health_check") or {}
    if health.get("created"):
        if health.get("seconds_to_dns_heroku_only") is not None:
            lines.append(f"Route 53 health check: unhealthy {health['seconds_to_dns_heroku_only']:g}s after AWS broke; "
                         "from then on DNS answered with Heroku only")
        elif health.get("unhealthy_at") is not None:
            lines.append("Route 53 health check: went unhealthy: DNS answered with Heroku only")
        else:
            lines.append("Route 53 health check: healthy throughout"
                         + ("; still on the AWS record" if health.get("left") else
                            "; deleted by the commit" if result.get("status") == "SUCCEEDED" else "; deleted by the rollback"))
    return lines


def _summary(result: dict[str, Any]) -> str:
    weights = result["final_weights"]
    line = (f"{result['status']}: Heroku {weights['heroku']}% / AWS {weights['aws']}% after "
            f"{format_duration(int(result['virtual_seconds']))} of virtual time ({result['wall_seconds']:.1f}s wall), "
            f"{result['stages_completed']} stage(s) passed")
    if result["rollback"]:
        line += f"\nrolled back: {result['rollback']['reason']}"
        if result["rollback"]["seconds_breach_to_insync"] is not None:
            line += f" ({result['rollback']['seconds_breach_to_insync']:.0f}s from the alarm to Heroku INSYNC)"
    return "\n".join([line, *detection_lines(result)])


def _t(seconds: float) -> str:
    whole = int(seconds)
    return f"+{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"

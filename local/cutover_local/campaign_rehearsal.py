"""Rehearse a campaign on the local engine: the campaign's state machine starting the cutover
state machine once per cutover, many at once, on one clock and one Route 53 budget.

Each app gets its own zone records (the Heroku CNAME), its own alarms and a route from its
targets to the loopback origins, so readiness and the Route 53 health checks run for every name
as in a single rehearsal. What a fleet rehearsal does not simulate per app (said in each plan,
with the reason, as a plan must): the load balancer's traffic, the probes and the comparison
with Heroku. A failing app is failed through its error-rate alarm: it goes to ALARM a few
minutes after the app's first shift (as a one-minute ALB alarm would), and its event reaches
the alarm listener like any alarm's (late or twice, as the engine delivers them).

The built-in ``fleet-100``: 100 names in 10 zones and 5 waves of 20 (10 at once), a pause of
15 minutes between waves, one app of wave 2 failing, and ``on_rollback: continue``.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import boto3

from cutover import campaign as cp
from cutover import records as rr
from cutover.adapters.store import Store

from . import seed
from .engine import ACCOUNT, REGION, SETTLE_SECONDS, Engine, Invocation
from .eventbridge import alarm_state_change
from .rehearsal import DEFAULT_SEED, zone_of
from .scenarios import ORIGINAL_TTL

VIRTUAL_LIMIT = 7 * 86_400
WALL_LIMIT = 3 * 3600.0
FAIL_AFTER_SECONDS = 180  # an ALB error-rate alarm (2 of 3 one-minute datapoints) fires about 3 min in
NOT_SIMULATED = "fleet rehearsal: no per-app traffic is simulated, the app's error-rate alarm is its signal"
# What a fleet rehearsal skips in every plan it runs, a built-in fleet's or a file's: without
# per-app traffic, the check that traffic arrives would roll every cutover back at its first stage.
UNSIMULATED_CHECKS = ("traffic", "probe", "compare")

Printer = Callable[[str], None]


def fleet(names: int = 100, zones: int = 10, waves: int = 5, max_parallel: int = 10, failing: Sequence[int] = (),
          pause: str = "15m", on_rollback: str = "continue") -> dict[str, Any]:
    """A campaign file of ``names`` apps (one DNS name each) spread over ``zones`` zones and
    ``waves`` waves; ``failing``: the apps (1-based) whose AWS side fails after their first shift."""
    per_wave = -(-names // waves)
    apps = [{"name": f"app{n:03d}", "hosted_zone_id": f"ZFLEET{(n - 1) % zones}",
             "records": [f"app{n:03d}.fleet{(n - 1) % zones}.example.com"],
             "heroku": {"target": f"app{n:03d}-1234.herokudns.com"},
             "aws": {"target": f"fleet{(n - 1) % zones}-alb.us-east-1.elb.amazonaws.com"},
             "alarms": [f"app{n:03d}-5xx-rate"]} for n in range(1, names + 1)]
    waves_out = []
    for w in range(waves):
        chunk = apps[w * per_wave:(w + 1) * per_wave]
        if not chunk:
            break
        waves_out.append({"name": f"wave-{w + 1}", "cutovers": chunk})
    for wave in waves_out[:-1]:
        wave["after"] = {"pause": pause}
    return {
        "campaign": f"fleet-{names}",
        "on_rollback": on_rollback,
        "max_parallel": max_parallel,
        "defaults": {
            "ttl": {"during": 60},
            "stages": [{"weight": 10, "bake": "5m"}, {"weight": 50, "bake": "5m"}, {"weight": 100, "bake": "5m"}],
            "insufficient_data": "wait",
            "watch": "10m",
            "traffic": {"skip": NOT_SIMULATED},
            "probe": {"skip": NOT_SIMULATED},
            "compare": {"skip": NOT_SIMULATED},
        },
        "waves": waves_out,
        "_failing": [f"app{n:03d}" for n in failing],
    }


BUILT_IN: dict[str, Callable[[], dict[str, Any]]] = {
    "fleet-100": lambda: fleet(100, 10, 5, 10, failing=(27,)),
    "fleet-10": lambda: fleet(10, 2, 2, 5, failing=(7,), pause="5m"),
}


@dataclass
class Calls:
    """Route 53 calls by virtual second: what the account's budget was asked for."""

    by_second: dict[int, int] = field(default_factory=dict)
    throttled: int = 0

    def figures(self, budget: float, seconds: float) -> dict[str, Any]:
        busy = list(self.by_second.values())
        total = sum(busy)
        return {"budget_per_second": budget, "calls": total, "throttled": self.throttled,
                "peak_per_second": max(busy, default=0),
                "mean_per_second": round(total / seconds, 4) if seconds else 0.0,
                "seconds_at_budget": sum(1 for n in busy if n >= budget)}


def rehearse_campaign(raw: dict[str, Any], seed_value: int = DEFAULT_SEED, say: Printer = print,
                      abort_after: float | None = None, promote_after: float = 600.0) -> dict[str, Any]:
    """Run the campaign file ``raw`` (``_failing``: apps whose AWS side fails) to its end.

    ``abort_after``: an operator aborts the campaign that many virtual seconds in. A gate between
    waves is promoted ``promote_after`` seconds after the campaign waits at it. The file is
    validated before anything is created: ``CampaignInvalid`` propagates unchanged."""
    raw = copy.deepcopy(raw)
    failing = set(raw.pop("_failing", []))
    campaign = cp.parse(raw)
    started = time.perf_counter()
    calls = Calls()
    with Engine(seed=seed_value, concurrent=True) as engine:
        # the zones and records as they stood before the campaign: not calls of the campaign
        budget, engine.route53.budget = engine.route53.budget, None
        file, zone_ids = stage(engine, campaign)
        engine.route53.budget = budget
        assert engine.stack is not None
        engine.route53.on_call.append(lambda operation: _count(calls, engine, operation))
        plans = {c.id: c for c in campaign.cutovers}
        engine.on_invocation.append(lambda inv: _heard(inv, engine, plans, failing, say))
        say(f"rehearsing {campaign.describe()} (seed {seed_value}; Route 53 budget "
            f"{engine.harsh.route53_rate:g} requests a second for the account; no per-app traffic: "
            f"each plan's {', '.join(UNSIMULATED_CHECKS)} checks are skipped)")
        sfn = boto3.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=engine.stack.outputs["CampaignStateMachineArn"], name=campaign.id,
                                  input=json.dumps(file))["executionArn"]
        store = Store(engine.stack.table_name)
        operator = _CampaignOperator(engine, store, campaign.id, abort_after, promote_after, say)
        described = engine.wait(arn, timeout=WALL_LIMIT, on_poll=operator.act, virtual_limit=VIRTUAL_LIMIT)
        ended_at = engine.clock.elapsed
        engine.settle(SETTLE_SECONDS)
        result = _result(engine, store, campaign, described, zone_ids, calls, ended_at, time.perf_counter() - started)
    say(summary(result))
    return result


def stage(engine: Engine, campaign: cp.Campaign, allowed_zones: Sequence[str] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The account as it stands before ``campaign``: each name a CNAME to Heroku in its zone
    (created on the engine; each plan's ``hosted_zone_id`` replaced by it), its origins routed to
    the loopback ones, every alarm OK, the stack deployed for those zones and names (or only for
    ``allowed_zones``, zone names). Returns the campaign file as it should be started, and the
    zone ids by zone name."""
    zone_ids: dict[str, str] = {}
    file: dict[str, Any] = {"campaign": campaign.id, "on_rollback": campaign.on_rollback, "waves": []}
    alarms: list[str] = []
    for wave in campaign.waves:
        entries = []
        for cutover in wave.cutovers:
            plan = cutover.plan.to_dict()
            plan.update({check: {"skip": NOT_SIMULATED} for check in UNSIMULATED_CHECKS})
            for record in cutover.plan.records:
                heroku = record.heroku_target or f"{cp.slug(record.name)}.herokudns.com"
                engine.origins.route(heroku, "heroku")
                engine.origins.route(record.aws_target, "aws")
                zone = zone_of(record.name)
                if zone in zone_ids:
                    seed.add_heroku_record(zone_ids[zone], record.name, heroku, ORIGINAL_TTL)
                else:
                    zone_ids[zone] = seed.zone_with_heroku_record(zone, record.name, heroku, ORIGINAL_TTL)
                plan["hosted_zone_id"] = zone_ids[zone]
            alarms += [a for a in cutover.plan.alarms if a not in alarms]
            entries.append({"name": cutover.id, **plan})
        file["waves"].append({"name": wave.name, "max_parallel": wave.max_parallel, "cutovers": entries,
                              **({"after": {"gate": "manual"}} if wave.gate else
                                 {"after": {"pause": wave.pause}} if wave.pause else {})})
    seed.alarms(alarms, state="OK")
    names = [n for c in campaign.cutovers for n in c.plan.names]
    allowed = list(zone_ids.values()) if allowed_zones is None else [zone_ids[z] for z in allowed_zones]
    engine.deploy({"HostedZoneIds": ",".join(allowed), "RecordNames": ",".join(names)})
    return file, zone_ids


def _count(calls: Calls, engine: Engine, operation: str) -> None:
    second = int(engine.clock.elapsed)
    if engine.route53.calls.get("Throttled", 0) > calls.throttled:  # this call was throttled
        calls.throttled = engine.route53.calls["Throttled"]
        return
    calls.by_second[second] = calls.by_second.get(second, 0) + 1


def _heard(inv: Invocation, engine: Engine, plans: dict[str, cp.Cutover], failing: set[str], say: Printer) -> None:
    """Progress lines, and the failing apps' alarms set off after their first shift."""
    at = engine.clock.elapsed
    result = inv.result or {}
    if inv.function == "CampaignFunction" and not inv.error:
        step = inv.event.get("step")
        if step == "wave_start" and result.get("go"):
            say(f"[{_t(at)}] wave {inv.event['wave'] + 1} starts")
        elif step == "after_cutover":
            say(f"[{_t(at)}] {result.get('id')}: {result.get('status')}")
        elif step == "end":
            say(f"[{_t(at)}] campaign {result.get('status')}: {result.get('summary')}")
    if inv.function == "ShiftFunction" and not inv.error and result.get("stage_index") == 0:
        cutover_id = result.get("id")
        if cutover_id in failing and cutover_id in plans:
            failing.discard(cutover_id)
            engine.clock.call_at(at + FAIL_AFTER_SECONDS, lambda: _breach(engine, plans[cutover_id], say))


def _breach(engine: Engine, cutover: cp.Cutover, say: Printer) -> None:
    cloudwatch = boto3.client("cloudwatch")
    for alarm in cutover.plan.alarms[:1]:
        reason = "Threshold Crossed: 2 of 3 datapoints were greater than the threshold (fleet rehearsal)"
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason=reason)
        described = cloudwatch.describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
        assert engine.events is not None
        engine.events.put(alarm_state_change(described, "OK", "ALARM", reason, engine.clock.now(), ACCOUNT, REGION))
        say(f"[{_t(engine.clock.elapsed)}] alarm {alarm}: OK → ALARM ({cutover.id}'s AWS side fails)")


class _CampaignOperator:
    """Opens a gate between waves after a while; aborts the campaign at a moment, if told to."""

    def __init__(self, engine: Engine, store: Store, campaign_id: str, abort_after: float | None,
                 promote_after: float, say: Printer) -> None:
        self.engine, self.store, self.campaign_id = engine, store, campaign_id
        self.abort_after, self.promote_after, self.say = abort_after, promote_after, say
        self.gate_seen: float | None = None
        self.gate: dict[str, Any] | None = None
        self.gate_read_at = -1  # how many invocations had ended when the gate was last read

    def act(self) -> None:
        now = self.engine.clock.elapsed
        assert self.engine.stack is not None
        if self.abort_after is not None and now >= self.abort_after:
            self.abort_after = None
            answer = self._invoke("AbortFunctionName", {"campaign_id": self.campaign_id, "actor": "rehearsal operator",
                                                        "reason": "rehearsal: operator aborts the campaign"})
            self.say(f"[{_t(now)}] operator: cutover campaign abort: rolled back {answer.get('rolled_back', answer)}")
            return
        # the gate is written and removed by functions only: read again once an invocation ended
        if self.gate_read_at != len(self.engine.invocations):
            self.gate_read_at = len(self.engine.invocations)
            with self.engine.outside():
                self.gate = self.store.campaign_gate(self.campaign_id)
        gate = self.gate
        if gate is None:
            self.gate_seen = None
            return
        if self.gate_seen is None:
            self.gate_seen = now
        elif now >= self.gate_seen + self.promote_after:
            self.gate_seen = None
            answer = self._invoke("PromoteFunctionName", {"campaign_id": self.campaign_id, "actor": "rehearsal operator"})
            self.say(f"[{_t(now)}] operator: cutover campaign promote"
                     + ("" if answer.get("promoted") else f" refused: {answer}"))

    def _invoke(self, output: str, payload: dict[str, Any]) -> dict[str, Any]:
        assert self.engine.stack is not None
        answer = boto3.client("lambda").invoke(FunctionName=self.engine.stack.outputs[output], Payload=json.dumps(payload))
        return dict(json.loads(answer["Payload"].read()))


def _result(engine: Engine, store: Store, campaign: cp.Campaign, described: dict[str, Any], zone_ids: dict[str, str],
            calls: Calls, ended_at: float, wall: float) -> dict[str, Any]:
    r53 = boto3.client("route53")
    listed = {zone: r53.list_resource_record_sets(HostedZoneId=zid)["ResourceRecordSets"] for zone, zid in zone_ids.items()}
    saved = store.campaign(campaign.id) or {}
    names: dict[str, Any] = {}
    transitions = 0
    for cutover in campaign.cutovers:
        state = store.state(cutover.id) or {}
        status = state.get("status") or "NOT_STARTED"
        for name in cutover.plan.names:
            names[name] = {"cutover": cutover.id, "status": status,
                           "final_weights": _weights(listed[zone_of(name)], name)}
        if state:
            transitions += _transitions(engine, state.get("execution_arn"))
    transitions += _transitions(engine, described["executionArn"])
    ledger = store.campaign_ledger(campaign.id)
    ended = next((e for e in reversed(ledger) if e["event"] == "campaign_ended"), None)
    invocations = len(engine.invocations)
    cutovers = max(1, len(campaign.cutovers))
    return {
        "campaign": campaign.id,
        "status": saved.get("status"),
        "execution_status": described["status"],
        "error": described.get("error"),
        "on_rollback": campaign.on_rollback,
        "names": names,
        "ledger": [{k: v for k, v in e.items() if k != "seq"} for e in ledger],
        "summary": ended,
        "virtual_seconds": round(ended_at, 3),
        "wall_seconds": round(wall, 3),
        "route53": calls.figures(engine.harsh.route53_rate, ended_at),
        "counters": {
            "state_transitions": transitions,
            "state_transitions_per_name": round(transitions / max(1, len(names)), 1),
            "lambda_invocations": invocations,
            "lambda_invocations_per_name": round(invocations / max(1, len(names)), 1),
            "cutovers": cutovers,
            "stalls": engine.shared.stalls if engine.shared else 0,
        },
    }


def _transitions(engine: Engine, arn: str | None) -> int:
    if not arn:
        return 0
    return engine.state_transitions(arn)


def _weights(listed: list[dict[str, Any]], name: str) -> dict[str, int]:
    mine = [r for r in listed if rr.bare(r["Name"]) == name]
    weights = {r["SetIdentifier"]: r["Weight"] for r in mine if r.get("SetIdentifier") in (rr.HEROKU_ID, rr.AWS_ID)}
    if weights:
        heroku, aws = weights.get(rr.HEROKU_ID, 0), weights.get(rr.AWS_ID, 0)
        total = heroku + aws or 1
        return {"heroku": round(100 * heroku / total), "aws": round(100 * aws / total)}
    simple = [r for r in mine if r["Type"] == "CNAME"]
    on_heroku = bool(simple) and rr.bare(simple[0]["ResourceRecords"][0]["Value"]).endswith(".herokudns.com")
    return {"heroku": 100 if on_heroku else 0, "aws": 0 if on_heroku else 100}


def summary(result: dict[str, Any]) -> str:
    on_aws = sorted(n for n, v in result["names"].items() if v["final_weights"]["aws"] == 100)
    on_heroku = sorted(n for n, v in result["names"].items() if v["final_weights"]["heroku"] == 100)
    r53 = result["route53"]
    lines = [
        f"campaign {result['campaign']} {result['status']} ({result['execution_status']}): {len(on_aws)} name(s) on AWS, "
        f"{len(on_heroku)} on Heroku, after {result['virtual_seconds'] / 3600:.1f} h of virtual time "
        f"({result['wall_seconds']:.0f}s wall)",
        f"Route 53: {r53['calls']} calls, peak {r53['peak_per_second']}/s, mean {r53['mean_per_second']:.3f}/s against a budget "
        f"of {r53['budget_per_second']:g}/s; {r53['throttled']} throttled (retried, never failing a cutover)",
    ]
    not_on_aws = [f"{n} ({v['cutover']}: {v['status']})" for n, v in sorted(result["names"].items())
                  if v["final_weights"]["aws"] != 100]
    if not_on_aws:
        lines.append("on Heroku: " + ", ".join(not_on_aws[:10]) + (" …" if len(not_on_aws) > 10 else ""))
    return "\n".join(lines)


def _t(seconds: float) -> str:
    whole = int(seconds)
    return f"+{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"

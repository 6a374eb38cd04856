"""The steps of a cutover, one function per state machine task.

Each step takes the cutover state the state machine carries (a JSON-ready dict, see
``STATE_FIELDS``), does its one thing through the adapters in ``Deps``, records the decision in
the ledger, and returns the new state. Handlers in ``functions/`` are one call to one of these.

The state's ``pairs`` are the records exactly as this cutover last wrote them: the expected
side of every compare-and-swap. They are never refreshed by reading Route 53 before a swap.
"""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import arrival, compare, healthcheck, probes, readiness
from . import records as rr
from .adapters.cloudwatch import CloudWatch
from .adapters.notify import Notifier
from .adapters.route53 import Route53
from .adapters.stepfunctions import StepFunctions
from .adapters.store import Store
from .alarms import FAIL, PASS, WAIT, Transition, judge
from .clock import iso, now, parse_iso
from .dryrun import lowered_ttls, starting_pairs
from .errors import (
    AlarmBreached,
    AlarmDataMissing,
    ChangeNotInSync,
    CutoverError,
    HealthCheckPending,
    HealthCheckUnhealthy,
    InvalidChangeBatch,
    NotReady,
    PlanInvalid,
    RecordsNotReady,
    RollbackIncomplete,
    StaleRecords,
    TrafficNotArriving,
    WorseThanHeroku,
)
from .observability import logger, metrics, record_aws_percent
from .plan import Plan, check_against_zone, parse_plan
from .settings import Settings

# A Route 53 change is usually INSYNC within 60 s: the state machine polls it every
# FAST_POLL_SECONDS for the first FAST_POLLS polls, then every SLOW_POLL_SECONDS, and gives up
# after MAX_CHANGE_POLLS (about 10 minutes). Every loop is bounded so that the longest plan the
# validator accepts stays far below the history limit (``history.py``).
FAST_POLL_SECONDS, FAST_POLLS, SLOW_POLL_SECONDS = 10, 6, 60
MAX_CHANGE_POLLS = 15
# Route 53's API budget is per account (five requests a second), shared by every live cutover:
# their change polls together stay within POLLS_PER_SECOND, so the more cutovers are live the
# slower each polls (a campaign of 40 at once: every 40 s), never slower than MAX_POLL_SECONDS.
POLLS_PER_SECOND = 1.0
MAX_POLL_SECONDS = 120
# With insufficient_data: wait, Evaluate runs again every data_wait_seconds (at least
# DATA_WAIT_SECONDS, a tenth of the bake for long bakes) for at most one more bake of the stage:
# at most MAX_DATA_WAITS waits.
DATA_WAIT_SECONDS = 60
MAX_DATA_WAITS = 10
# The first Shift waits for a new health check's first reports: the ASL retries
# HealthCheckPending this many times (15 s, then 1.5 times longer, at most 60 s apart: ~6 min).
HEALTH_CHECK_WAITS = 8
# Readiness checks run side by side: up to this many names' origins within one check's timeout.
READINESS_WORKERS = 32

STATE_FIELDS = (
    "id", "plan", "zone_id", "zone_name", "pairs", "original_ttls", "snapshot",
    "wait_seconds", "stage_index", "stage_count", "aws_percent", "bake_seconds", "judge_after_seconds", "is_last",
    "change_id", "change_status", "change_polls", "poll_seconds", "after_change", "shifted_at", "data_waits",
    "data_wait_seconds", "verdict", "status", "execution_arn", "rollback_reason", "gate", "promote_at", "promotion", "change_ids",
    "traffic", "watch",
)


@dataclass
class Deps:
    """The adapters a step may use; tests pass fakes or moto-backed ones."""

    settings: Settings
    route53: Route53 = field(default_factory=Route53)
    cloudwatch: CloudWatch = field(default_factory=CloudWatch)
    store: Store | None = None
    notifier: Notifier | None = None
    stepfunctions: StepFunctions = field(default_factory=StepFunctions)

    def __post_init__(self) -> None:
        self.store = self.store or Store(self.settings.table_name)
        self.notifier = self.notifier or Notifier(self.settings.topic_arn)


def _pairs(state: dict[str, Any]) -> list[rr.Pair]:
    return [rr.Pair.from_dict(p) for p in state["pairs"]]


def _plan(state: dict[str, Any]) -> Plan:
    return parse_plan(state["plan"])


def _weights(pairs: list[rr.Pair]) -> dict[str, dict[str, int]]:
    return {p.name: {"heroku": p.heroku_weight, "aws": p.aws_weight} for p in pairs}


def notify(deps: Deps, state: dict[str, Any], event: str, once: str | None = None, **details: Any) -> None:
    """One message per state change. One SNS would not take goes to the outbox (the reconciler
    sends it again) and is counted (the NotificationFailed metric is alarmed): never lost silently.
    ``once``: a key for a step Step Functions may run again (a lost response): the message goes out
    only if no earlier run of the step sent it."""
    assert deps.notifier is not None and deps.store is not None
    topic = (state.get("plan") or {}).get("notify", {}).get("topic_arn") or deps.notifier.default_topic_arn
    if not topic or (once and deps.store.notified(state["id"], once)):
        return
    names = ", ".join(p["name"] for p in state.get("pairs", []))
    subject, message = f"cutover {event}: {names}", {"cutover": state["id"], "event": event, **details}
    if deps.notifier.send(topic, subject, message) is not None:
        if once:
            deps.store.mark_notified(state["id"], once)
        return
    try:
        entry = deps.store.record(state["id"], "notification_failed", "notifier", notification=event, topic=topic)
        deps.store.outbox_add(state["id"], entry["seq"], topic, subject, message)
    except (CutoverError, ClientError, BotoCoreError) as exc:  # the table is down too: the log and the metric remain
        logger.error("notification lost", extra={"cutover": state["id"], "event": event, "error": str(exc)})


def check_before_start(plan: Plan, route53: Route53, cloudwatch: CloudWatch, settings: Settings) -> tuple[str, str | None]:
    """Every check of the live account a cutover makes before it changes anything, the same for
    Preflight, ``cutover plan`` and ``cutover start``: the zone and the names are ones the stack
    may change, the names are in the zone, the alarms exist and none is in ALARM, and the load
    balancer the traffic check counts at is known. Raises ``PlanInvalid`` or ``AlarmBreached``;
    returns the zone's name and that load balancer (None: the traffic check is off)."""
    allowed = settings.allowed_zone_ids
    if allowed is not None and plan.hosted_zone_id not in allowed:
        raise PlanInvalid(
            [("hosted_zone_id", f"{plan.hosted_zone_id} is not a zone this stack may change "
              f"({', '.join(sorted(allowed))}); add it to the HostedZoneIds parameter")]
        )
    zone_name = route53.zone_name(plan.hosted_zone_id)
    alarm_states = cloudwatch.states(plan.alarms)
    check_against_zone(plan, zone_name, settings.allowed_names, frozenset(a.name for a in alarm_states))
    traffic = watched_load_balancer(plan, cloudwatch)
    breached = sorted(a.name for a in alarm_states if a.state == "ALARM")
    if breached:  # the guard rails already say no: not even 10% moves (nothing is changed)
        raise AlarmBreached(f"{', '.join(breached)} in ALARM before the cutover started: nothing was changed; "
                            "start again once the alarms are OK")
    return zone_name, traffic


def preflight(raw_plan: Any, cutover_id: str, deps: Deps, actor: str = "execution",
              execution_arn: str | None = None) -> dict[str, Any]:
    """Validate, lock, snapshot and convert to the weighted pair at Heroku 100 / AWS 0."""
    plan = parse_plan(raw_plan)
    zone_name, traffic = check_before_start(plan, deps.route53, deps.cloudwatch, deps.settings)
    assert deps.store is not None
    earlier = deps.store.state(cutover_id)  # a retried preflight keeps the first snapshot
    live = deps.route53.records_of(plan.hosted_zone_id, plan.names)

    changes, pairs = starting_pairs(plan, live)
    # what users would meet on AWS, before anything changes (and Heroku's answer as the baseline)
    checked = check_readiness(plan, pairs)

    snapshot = earlier["snapshot"] if earlier else {name: live[name] for name in plan.names}
    original_ttls = earlier["original_ttls"] if earlier else {p.name: p.ttl for p in pairs}
    state: dict[str, Any] = {
        "id": cutover_id,
        "execution_arn": execution_arn,
        "plan": plan.to_dict(),
        "zone_id": plan.hosted_zone_id,
        "zone_name": zone_name,
        "pairs": [p.to_dict() for p in pairs],
        "original_ttls": original_ttls,
        "snapshot": snapshot,
        "stage_index": 0,
        "stage_count": len(plan.stages),
        "aws_percent": 0,
        "change_id": None,
        "change_status": "INSYNC",
        "change_polls": 0,
        "poll_seconds": FAST_POLL_SECONDS,
        "after_change": "converted",
        "status": "RUNNING",
        # the load balancer whose requests show that traffic arrives, and each stage's rate
        "traffic": {"load_balancer": traffic, "stages": {}} if traffic else None,
        "watch": plan.watch,  # seconds watched at 100% before the commit
    }
    if changes:
        rr.check_changes(changes, zone_name)  # before the lock: a bad batch changes nothing

    deps.store.acquire(plan.names, cutover_id)
    try:
        deps.store.mark_live(cutover_id, execution_arn, plan.alarms,
                             probes.live_entry(plan.probe, plan.readiness.path, pairs))
        # the health checks first (a retried Preflight gets the same ones back), so that the
        # conversion attaches them and the saved state names them for whatever rolls back
        health_checks = create_health_checks(plan, cutover_id, pairs, deps)
        if health_checks:
            changes, pairs = starting_pairs(plan, live, health_checks)
            state["pairs"] = [p.to_dict() for p in pairs]
        deps.store.save_state(cutover_id, state)
        deps.store.watch(cutover_id, plan.alarms, execution_arn)
        if deps.store.claim(cutover_id, "started"):  # a retried preflight records its start once
            deps.store.record(cutover_id, "started", actor, plan=plan.to_dict(), snapshot=snapshot)
            _record_readiness(deps, cutover_id, plan, checked, actor, "before any change")
            _record_health_checks(deps, cutover_id, plan, health_checks, actor)
        if changes:
            state["change_id"] = _swap(deps, state, changes, "convert to weighted pair")
            state["change_status"] = "PENDING"
            deps.store.record(
                cutover_id, "converted", actor, change_id=state["change_id"],
                weights_after=_weights(pairs), records_before=snapshot,
            )
        deps.store.save_state(cutover_id, state)
    except Exception:
        # Nothing after the conversion can leave traffic off Heroku (the pair is Heroku 100 /
        # AWS 0), so on any failure here the only things to undo are the lock and the watches.
        deps.store.unwatch(cutover_id, plan.alarms)
        deps.store.release(plan.names, cutover_id)
        deps.store.end_live(cutover_id)
        raise
    notify(deps, state, "started", once="started", plan=plan.describe())
    logger.info("cutover started", extra={"cutover": cutover_id, "names": list(plan.names)})
    return state


def watched_load_balancer(plan: Plan, cloudwatch: CloudWatch) -> str | None:
    """The load balancer whose requests the traffic check counts: the plan's, else the one its
    alarms watch. ``PlanInvalid`` when there is none or more than one; None when switched off."""
    if plan.traffic.skip:
        return None
    if plan.traffic.load_balancer:
        return plan.traffic.load_balancer
    found = sorted(cloudwatch.load_balancers(plan.alarms))
    if len(found) == 1:
        return found[0]
    why = (f"the plan's alarms watch {len(found)} load balancers ({', '.join(found)})" if found
           else "none of the plan's alarms watches an application load balancer (AWS/ApplicationELB LoadBalancer)")
    raise PlanInvalid([("traffic.load_balancer", f"{why}: name the one users reach on AWS, like "
                        "app/shop-alb/0123456789abcdef, or switch the check off with traffic.skip and a reason")])


def check_readiness(plan: Plan, pairs: list[rr.Pair], heroku: bool = True) -> list[readiness.Result]:
    """Every name's AWS target checked (and its Heroku target, the baseline); ``NotReady`` naming
    each AWS failure. Nothing when the plan switched readiness off (its reason is recorded)."""
    results = readiness_results(plan, pairs, heroku)
    failed = [r for r in results if r.origin != "heroku" and not r.ok]
    if failed:
        raise NotReady("; ".join(not_ready(r, plan) for r in failed) + "; nothing was shifted")
    return results


def readiness_results(plan: Plan, pairs: list[rr.Pair], heroku: bool = True) -> list[readiness.Result]:
    """The readiness checks of ``check_readiness``, failed or not (``cutover plan`` shows them all)."""
    if plan.readiness.skip:
        return []
    wanted = [(p.name, p.aws_target, "aws") for p in pairs]
    wanted += [(p.name, p.heroku_target, "heroku") for p in pairs] if heroku else []
    if not plan.health_check.skip:
        # the Route 53 health check's own request: the target's name as Host and SNI, the
        # certificate not checked, the load balancer's default rule answering the health path
        wanted += [(t, t, HEALTH_CHECK_ORIGIN) for t in sorted({p.aws_target for p in pairs})]
    as_checker = replace(plan.readiness, path=plan.health_check_path, expect=readiness.DEFAULT_EXPECT, min_cert_days=0)

    def one(w: tuple[str, str, str]) -> readiness.Result:
        if w[2] == HEALTH_CHECK_ORIGIN:
            return readiness.check(w[0], w[1], w[2], as_checker, now=now, verify=False)
        return readiness.check(w[0], w[1], w[2], plan.readiness, now=now)

    # side by side, so that the step takes one check's time (at most readiness.timeout), not their sum
    with ThreadPoolExecutor(max_workers=min(READINESS_WORKERS, len(wanted))) as pool:
        return list(pool.map(one, wanted))


HEALTH_CHECK_ORIGIN = "aws-health-check"


def not_ready(result: readiness.Result, plan: Plan) -> str:
    if result.origin == HEALTH_CHECK_ORIGIN:
        return (f"the Route 53 health check's request to {result.target} (GET {plan.health_check_path} with Host "
                f"{result.target}, as its checkers send it) failed at {result.failed_at}: {result.reason}; the load "
                "balancer's default rule must answer it with 2XX or 3XX (or set health_check.path)")
    return f"readiness of {result.name} on AWS ({result.target}) failed at {result.failed_at}: {result.reason}"


def create_health_checks(plan: Plan, cutover_id: str, pairs: list[rr.Pair], deps: Deps) -> dict[str, str]:
    """One Route 53 health check per name, on its AWS target; each name's id. Idempotent: the
    same cutover and name get the health check an earlier attempt created."""
    if plan.health_check.skip:
        return {}
    return {
        p.name: deps.route53.create_health_check(
            healthcheck.caller_reference(cutover_id, p.name),
            healthcheck.config(p.aws_target, plan.health_check_path, plan.health_check),
        )
        for p in pairs
    }


def _record_health_checks(deps: Deps, cutover_id: str, plan: Plan, ids: dict[str, str], actor: str) -> None:
    assert deps.store is not None
    if plan.health_check.skip:
        deps.store.record(cutover_id, "health_check_skipped", actor, reason=plan.health_check.skip)
    else:
        deps.store.record(cutover_id, "health_checks_created", actor, health_checks=ids,
                          path=plan.health_check_path, interval=plan.health_check.interval,
                          failure_threshold=plan.health_check.failure_threshold)


def _health_checks_seen(state: dict[str, Any], deps: Deps) -> tuple[dict[str, tuple[str, str]], dict[str, str]]:
    """Each name's health check status (and why), and each name's AWS target."""
    pairs = [p for p in _pairs(state) if p.health_check_id]
    seen = {p.name: healthcheck.status(deps.route53.health_check_observations(str(p.health_check_id))) for p in pairs}
    return seen, {p.name: p.aws_target for p in pairs}


def unhealthy_reason(state: dict[str, Any], deps: Deps) -> str | None:
    """Why the stage fails if a name's health check is unhealthy now (Route 53 already answers
    with Heroku only for it), or None."""
    seen, targets = _health_checks_seen(state, deps)
    bad = {n: why for n, (status, why) in seen.items() if status == healthcheck.UNHEALTHY}
    if not bad:
        return None
    return "; ".join(f"the Route 53 health check of {n} ({targets[n]}) is unhealthy: {why}" for n, why in bad.items())


def require_healthy(state: dict[str, Any], deps: Deps, actor: str) -> None:
    """Before the first shift: every name's health check must be Healthy. ``HealthCheckPending``
    while no checker has reported (the state machine retries); ``NotReady`` when unhealthy."""
    seen, targets = _health_checks_seen(state, deps)
    pending = [n for n, (status, _) in seen.items() if status == healthcheck.PENDING]
    if pending:
        raise HealthCheckPending(f"no Route 53 health checker has reported on {', '.join(pending)} yet")
    unhealthy = {n: why for n, (status, why) in seen.items() if status == healthcheck.UNHEALTHY}
    if unhealthy:
        raise NotReady("; ".join(f"the Route 53 health check of {n} ({targets[n]}) is unhealthy: {why}"
                                 for n, why in unhealthy.items()) + "; nothing was shifted")
    if seen and deps.store.claim(state["id"], "healthy:first-shift"):
        deps.store.record(state["id"], "health_checks_healthy", actor,
                          health_checks={n: why for n, (_, why) in seen.items()})


def _record_readiness(deps: Deps, cutover_id: str, plan: Plan, results: list[readiness.Result], actor: str,
                      when: str) -> None:
    assert deps.store is not None
    if plan.readiness.skip:
        deps.store.record(cutover_id, "readiness_skipped", actor, when=when, reason=plan.readiness.skip)
    else:
        deps.store.record(cutover_id, "readiness", actor, when=when, checks=[r.to_dict() for r in results])


def gate_fields(plan: Plan, index: int) -> dict[str, Any]:
    """What the next stage waits for: ``gate`` (none, manual, scheduled) and ``promote_at``."""
    if index >= len(plan.stages) or plan.stages[index].promote is None:
        return {"gate": "none", "promote_at": None}
    gate = plan.stages[index].promote
    opens = gate.opens_at(now())
    if opens is None:
        return {"gate": "manual", "promote_at": None}
    # Step Functions' Wait Timestamp takes whole seconds in UTC
    return {"gate": "scheduled", "promote_at": opens.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


def lower_ttl(state: dict[str, Any], deps: Deps, actor: str = "execution") -> dict[str, Any]:
    """Lower the TTL of every pair to the plan's ``ttl.during`` (compare-and-swap)."""
    plan = _plan(state)
    pairs = _pairs(state)
    targets = lowered_ttls(pairs, plan)
    changes, new = rr.ttl_changes(pairs, targets)
    state = dict(state, after_change="lowered", change_polls=0, poll_seconds=FAST_POLL_SECONDS, promotion=None, **gate_fields(plan, 0))
    # After lowering, wait the old TTL: until then resolvers may hold answers with it.
    state["wait_seconds"] = max(state["original_ttls"].values())
    if new == pairs:
        state.update(change_id=None, change_status="INSYNC")
        deps.store.record(state["id"], "ttl_already_low", actor, ttl=targets)
        return state
    change_id = _swap_once(deps, state, changes, new, "lower TTL")
    state.update(pairs=[p.to_dict() for p in new], change_id=change_id, change_status="PENDING")
    deps.store.save_state(state["id"], state)
    if deps.store.claim(state["id"], "ttl_lowered"):
        deps.store.record(state["id"], "ttl_lowered", actor, change_id=change_id, ttl_before=state["original_ttls"], ttl_after=targets)
    return state


def _swap_once(deps: Deps, state: dict[str, Any], changes: list[rr.Change], after: list[rr.Pair],
               what: str) -> str | None:
    """``_swap``, for a step Step Functions may run again after its change went through (a lost
    response, a timeout after the call): a refused swap whose records are already exactly what
    this step writes is recognised as its own, and the step goes on (None: no change to wait for)."""
    try:
        return _swap(deps, state, changes, what)
    except StaleRecords:
        live = deps.route53.records_of(state["zone_id"], [p.name for p in after])
        if all(_sorted(live.get(p.name, [])) == _sorted(p.records()) for p in after):
            logger.info("change already applied by an earlier attempt", extra={"cutover": state["id"], "what": what})
            return None
        raise


def _sorted(records: list[rr.Record]) -> list[rr.Record]:
    return sorted((rr.as_held(r) for r in records), key=lambda r: str(r.get("SetIdentifier")))


def _swap(deps: Deps, state: dict[str, Any], changes: list[rr.Change], what: str) -> str:
    """Submit a compare-and-swap batch; a refusal by Route 53 means our view is stale."""
    rr.check_changes(changes, state["zone_name"])
    try:
        return deps.route53.change(state["zone_id"], changes, f"cutover {state['id']}: {what}")
    except InvalidChangeBatch as exc:
        raise StaleRecords(
            f"{what} refused: the records are no longer what this cutover last wrote "
            f"(a rollback happened or someone edited them): {exc}"
        ) from exc


def shift(state: dict[str, Any], deps: Deps, actor: str = "execution") -> dict[str, Any]:
    """Move to the next stage's weight: DELETE the pair as last written + CREATE the new one."""
    plan = _plan(state)
    index = state["stage_index"]
    promotion = state.get("promotion") or {}
    if promotion.get("full"):
        index = len(plan.stages) - 1  # ``cutover promote --full``: straight to the last stage
    stage = plan.stages[index]
    before = _pairs(state)
    if state.get("aws_percent", 0) == 0:
        # again right before the first shift: an hour may have passed since the preflight
        checked = check_readiness(plan, before, heroku=False)
        if deps.store.claim(state["id"], "ready:first-shift"):
            _record_readiness(deps, state["id"], plan, checked, actor, "before the first shift")
        require_healthy(state, deps, actor)
    changes, after = rr.shift_changes(before, stage.weight)
    change_id = _swap_once(deps, state, changes, after, f"shift to AWS {stage.weight}%")
    state = dict(
        state,
        stage_index=index,
        promotion=None,
        pairs=[p.to_dict() for p in after],
        aws_percent=stage.weight,
        bake_seconds=stage.bake,
        # the Bake wait: the bake, then the time its last minutes of data take to reach the alarms
        judge_after_seconds=stage.bake + plan.metric_delay,
        is_last=index == len(plan.stages) - 1,
        change_id=change_id,
        change_status="PENDING",
        change_polls=0, poll_seconds=FAST_POLL_SECONDS,
        after_change="shifted",
        shifted_at=iso(now()),
        data_waits=0,
        verdict=None,
    )
    deps.store.save_state(state["id"], state)
    if deps.store.claim(state["id"], f"shifted:{index + 1}"):  # one entry, even when the step ran twice
        deps.store.record(
            state["id"], "shifted", actor, stage=index + 1, change_id=change_id,
            weights_before=_weights(before), weights_after=_weights(after),
            **({"promoted_by": promotion.get("by"), "full": bool(promotion.get("full"))} if promotion else {}),
        )
        metrics.add_metric(name="WeightShift", unit="Count", value=1)
        record_aws_percent(state["id"], stage.weight)
    # with what the stage before saw: its intended share and the requests that arrived
    observed = ((state.get("traffic") or {}).get("stages") or {}).get(str(index))
    notify(deps, state, "promoted", once=f"promoted:{index + 1}", stage=index + 1, aws_percent=stage.weight,
           change_id=change_id, **({"previous_stage_traffic": observed} if observed else {}))
    return state


def change_status(state: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """Poll the last change(s) (GetChange). Gives up with ``ChangeNotInSync`` after MAX_CHANGE_POLLS.

    A rollback sends one batch per name (``change_ids``): it is INSYNC when all of them are."""
    if not state.get("change_id"):
        return dict(state, change_status="INSYNC")
    statuses = [deps.route53.change_status(c) for c in (state.get("change_ids") or [state["change_id"]])]
    status = "INSYNC" if all(s == "INSYNC" for s in statuses) else "PENDING"
    polls = state.get("change_polls", 0) + 1
    if status != "INSYNC" and polls >= MAX_CHANGE_POLLS:
        raise ChangeNotInSync(f"change {state['change_id']} still {status} after {polls} polls")
    if status == "INSYNC":
        deps.store.record(state["id"], "in_sync", "route53", change_id=state["change_id"], polls=polls)
    wait = poll_interval(polls, deps.store.live_count() if status != "INSYNC" else 0)
    return dict(state, change_status=status, change_polls=polls, poll_seconds=wait)


def poll_interval(polls: int, live: int) -> int:
    """Seconds to the next poll of a change: fast at first, then slow, and slower still as more
    cutovers are live in the account (their polls share its Route 53 budget)."""
    base = FAST_POLL_SECONDS if polls < FAST_POLLS else SLOW_POLL_SECONDS
    return int(min(MAX_POLL_SECONDS, max(base, math.ceil(live / POLLS_PER_SECOND))))


def evaluate(state: dict[str, Any], deps: Deps, actor: str = "execution", recheck: bool = False) -> dict[str, Any]:
    """Judge the stage's alarms over the whole bake; raise ``AlarmBreached`` on a breach.

    ``recheck``: the check before a gated promotion, over everything since the last shift (or
    the alarms' current states before the first); it does not move to the next stage.
    """
    plan = _plan(state)
    until = now()
    since = parse_iso(state["shifted_at"]) if state.get("shifted_at") else until
    # Transitions from CloudWatch's history, and those the alarm listener recorded in the ledger.
    seen = deps.cloudwatch.transitions_since(plan.alarms, since, until)
    seen += [
        Transition(e["alarm"], e["state"], e["changed_at"], e.get("alarm_reason", ""))
        for e in deps.store.ledger(state["id"], event="alarm_state")
        if since <= parse_iso(e["changed_at"]) <= until
    ]
    verdict = judge(plan.alarms, deps.cloudwatch.states(plan.alarms), seen, plan.insufficient_data)
    stage = state["stage_index"] + (0 if recheck else 1)
    # the alarms passed the stage, or wait for data: is Route 53's health check of AWS healthy, and
    # did users reach the load balancer the alarms watch? (alarms without data and no requests at
    # all: the data will never come)
    unhealthy = unhealthy_reason(state, deps) if verdict.outcome != FAIL and state.get("aws_percent") else None
    unhealthy = f"stage {stage} at AWS {state['aws_percent']}%: {unhealthy}" if unhealthy else None
    # and were the probes' answers from AWS markedly worse than Heroku's over the bake?
    compared = (compare_origins(plan, deps, since, until)
                if verdict.outcome != FAIL and not unhealthy and state.get("shifted_at") else [])
    worse = [c.reason for c in compared if c.outcome == "fail"]
    worse_reason = f"stage {stage} at AWS {state['aws_percent']}%: worse than Heroku: {'; '.join(worse)}" if worse else None
    measured = verdict.outcome != FAIL and not recheck and not unhealthy and not worse
    arrived = measure_traffic(state, plan, deps, stage, until) if measured else None
    failed = unhealthy or worse_reason or (arrived.reason if arrived and not arrived.ok else None)
    deps.store.record(
        state["id"], "rechecked" if recheck else "evaluated", actor, stage=stage, aws_percent=state["aws_percent"],
        outcome=FAIL if failed else verdict.outcome, reason=failed or verdict.reason,
        alarms=list(verdict.evidence), window={"from": iso(since), "to": iso(until)},
        **({"traffic": arrived.to_dict()} if arrived else {}),
        **({"compare": [c.to_dict() for c in compared]} if compared else {}),
    )
    if verdict.outcome == FAIL:
        error = AlarmDataMissing if verdict.cause == "no_data" else AlarmBreached
        raise error(f"stage {stage} at AWS {state['aws_percent']}%: {verdict.reason}")
    if unhealthy:
        raise HealthCheckUnhealthy(unhealthy)
    if worse_reason:
        raise WorseThanHeroku(worse_reason)
    if arrived and not arrived.ok:
        raise TrafficNotArriving(arrived.reason)
    if arrived and verdict.outcome == PASS:
        traffic = state["traffic"]
        state = dict(state, traffic=dict(traffic, stages={**traffic["stages"], str(stage): arrived.to_dict()}))
    if verdict.outcome == WAIT:
        bake = state.get("bake_seconds") or DATA_WAIT_SECONDS * MAX_DATA_WAITS
        interval = max(DATA_WAIT_SECONDS, -(-bake // MAX_DATA_WAITS))
        waits = state.get("data_waits", 0) + 1
        if waits > MAX_DATA_WAITS or waits * interval > bake:
            raise AlarmDataMissing(
                f"stage {stage}: still no data after waiting {(waits - 1) * interval}s "
                f"beyond the bake: {verdict.reason}"
            )
        return dict(state, verdict=WAIT, data_waits=waits, data_wait_seconds=interval)
    assert verdict.outcome == PASS
    if recheck:
        return dict(state, verdict=PASS, data_waits=0)
    following = state["stage_index"] + 1
    return dict(state, verdict=PASS, stage_index=following, data_waits=0, **gate_fields(plan, following))


def compare_origins(plan: Plan, deps: Deps, since: Any, until: Any) -> list[compare.Comparison]:
    """Each name's probe figures at AWS and at Heroku from ``since`` to ``until``, compared
    (none when the comparison or the probes are off)."""
    if plan.compare.skip or plan.probe.skip:
        return []
    start, end, period = compare.window(since, until)
    values = deps.cloudwatch.values(compare.queries(plan.names, period), start, end)
    return compare.compare_all(plan.compare, compare.figures(plan.names, values))


def measure_traffic(state: dict[str, Any], plan: Plan, deps: Deps, stage: int, until: Any) -> arrival.Arrival | None:
    """The stage's requests at the load balancer, judged against its weight and the stage before."""
    traffic = state.get("traffic")
    if not traffic or not state.get("shifted_at"):
        return None
    start, end = arrival.window(parse_iso(state["shifted_at"]), until, plan.ttl_during, state.get("bake_seconds") or 0,
                                plan.metric_delay)
    requests = deps.cloudwatch.requests(traffic["load_balancer"], start, end)
    minutes = max(1, round((end - start).total_seconds() / 60))
    earlier = traffic["stages"].get(str(stage - 1))
    before = (earlier["intended_percent"], earlier["requests_per_minute"]) if earlier else None
    return arrival.judge(plan.traffic, stage, state["aws_percent"], requests, minutes, before, ", ".join(plan.names))


def restore_ttl(state: dict[str, Any], deps: Deps, actor: str = "execution") -> dict[str, Any]:
    """At AWS 100%: put the original TTLs back (compare-and-swap)."""
    pairs = _pairs(state)
    changes, new = rr.ttl_changes(pairs, state["original_ttls"])
    state = dict(state, after_change="restored", change_polls=0, poll_seconds=FAST_POLL_SECONDS)
    if new == pairs:
        return dict(state, change_id=None, change_status="INSYNC")
    change_id = _swap_once(deps, state, changes, new, "restore TTL")
    state.update(pairs=[p.to_dict() for p in new], change_id=change_id, change_status="PENDING")
    deps.store.save_state(state["id"], state)
    if deps.store.claim(state["id"], "ttl_restored"):
        deps.store.record(state["id"], "ttl_restored", actor, change_id=change_id, ttl_after=state["original_ttls"])
    return state


def commit_records(state: dict[str, Any], deps: Deps, actor: str) -> list[str]:
    """Each name's weighted pair, as the cutover last wrote it, replaced by a simple CNAME to its
    AWS target at the original TTL (one batch a name; a name an earlier attempt committed is left
    alone); then the health checks deleted. The change ids."""
    pairs, ttls = _pairs(state), state["original_ttls"]
    live = deps.route53.records_of(state["zone_id"], [p.name for p in pairs])
    change_ids = []
    for pair in pairs:
        if live.get(pair.name) == [rr.simple_record(pair.name, pair.aws_target, ttls[pair.name])]:
            continue
        change_ids.append(_swap(deps, state, rr.commit_changes(pair, ttls[pair.name]), f"commit {pair.name}"))
    delete_health_checks(deps, state["id"], pairs, actor)
    return change_ids


def finish(state: dict[str, Any], deps: Deps, actor: str = "execution") -> dict[str, Any]:
    """The cutover succeeded and its watch is over: commit it (a simple CNAME to AWS, its health
    check deleted), record it, release the locks, tell people when Heroku can go."""
    assert deps.store is not None
    names = [p["name"] for p in state["pairs"]]
    change_ids = commit_records(state, deps, actor)
    by = (state.get("promotion") or {}).get("by")
    committed_by = f"cutover commit ({by})" if by else "the end of the watch" if state["plan"].get("watch") else "no watch"
    state = dict(state, status="SUCCEEDED", commit_change_ids=change_ids,
                 pairs=[rr.Pair.from_dict(p).with_health_check(None).to_dict() for p in state["pairs"]])
    # Step Functions runs Finalize again when its response is lost: one ledger entry, one message.
    first = deps.store.set_status(state["id"], "SUCCEEDED", only_if_not=("SUCCEEDED",))
    deps.store.save_state(state["id"], state)
    if first:
        deps.store.record(state["id"], "succeeded", actor, committed_by=committed_by, commit_change_ids=change_ids,
                          targets={p.name: p.aws_target for p in _pairs(state)})
    deps.store.mark_committed(names, state["id"])  # before the locks go: a later cutover's commit comes after
    deps.store.unwatch(state["id"], state["plan"]["alarms"])
    deps.store.release(names, state["id"])
    deps.store.end_live(state["id"])
    drain = max(state["original_ttls"].values())
    notify(
        deps, state, "succeeded", once="succeeded",
        committed_by=committed_by,
        advice=f"committed: each name is a simple CNAME to AWS; keep Heroku serving for a drain period (at least "
        f"{drain}s, longer for clients that ignore TTLs) before scaling it down",
    )
    return state


def describe_error(error: dict[str, Any] | None) -> tuple[str, str]:
    """The error name and a readable message from a Step Functions Catch result."""
    if not error:
        return "Unknown", "no error was given"
    name = str(error.get("Error", "Unknown"))
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
        message = parsed.get("errorMessage", cause) if isinstance(parsed, dict) else cause
    except (TypeError, ValueError):
        message = cause
    return name, str(message)


def not_live(saved: dict[str, Any], deps: Deps, succeeded_is_final: bool = True) -> str | None:
    """Why a reaction from outside the execution (the alarm listener, an abort, the safety net)
    must leave this cutover's names alone, or None. Read consistently from the table, never from
    an index: a cutover that succeeded keeps its traffic, and names another cutover holds now are
    that cutover's. ``succeeded_is_final=False`` (the safety net): an execution that did not end
    SUCCEEDED rolls back even if its Finalize had recorded success."""
    assert deps.store is not None
    if succeeded_is_final and saved.get("status") == "SUCCEEDED":
        return "it succeeded: its traffic stays on AWS"
    names = [p["name"] for p in saved.get("pairs", [])]
    others = {n: h for n in names if (h := deps.store.lock_holder(n)) not in (None, saved["id"])}
    if others:
        return "another cutover holds its names now: " + ", ".join(f"{n} ({h})" for n, h in others.items())
    return None


def delete_health_checks(deps: Deps, cutover_id: str, pairs: list[rr.Pair], actor: str) -> None:
    """Delete the health checks of ``pairs`` (their records no longer carry them). One that
    cannot be deleted now is recorded (``health_check_left``, with its id) and logged: it costs
    money, not safety (it is on no record), so it never holds a rollback up."""
    assert deps.store is not None
    ids = {p.name: str(p.health_check_id) for p in pairs if p.health_check_id}
    if not ids:
        return
    deleted, left = {}, {}
    for name, health_check_id in ids.items():
        try:
            deps.route53.delete_health_check(health_check_id)
            deleted[name] = health_check_id
        except (CutoverError, ClientError, BotoCoreError) as exc:
            left[name] = {"health_check_id": health_check_id, "error": str(exc)}
    if deleted:
        deps.store.record(cutover_id, "health_checks_deleted", actor, health_checks=deleted)
    if left:
        logger.error("health check left behind", extra={"cutover": cutover_id, "left": left})
        metrics.add_metric(name="HealthCheckLeft", unit="Count", value=len(left))
        deps.store.record(cutover_id, "health_check_left", actor, health_checks=left,
                          advice="on no record any more; delete it with aws route53 delete-health-check")


def rollback(cutover_id: str, reason: str, actor: str, deps: Deps, state: dict[str, Any] | None = None,
             **evidence: Any) -> dict[str, Any]:
    """Put 100% of traffic back on Heroku. Idempotent; every rollback path ends here.

    Route 53 first, the table after: the state it needs (zone, pairs, original TTLs) comes with
    the execution (``state``) and is read from the table only by the paths that have none, so a
    table outage cannot hold traffic on AWS. Each name is put back in its own batch, whatever its
    records are now (``records.rollback_name_changes``): the pair is UPSERT to Heroku 255 / AWS 0
    at the original TTL (a pair no shift ever expects, so a shift still in flight fails its
    compare-and-swap), a name restored by hand is left alone, and one name in a state Route 53
    refuses never keeps another on AWS. Notifies and releases the locks once; raises
    ``RollbackIncomplete`` (after doing every name it could) while any name is not on Heroku.
    """
    assert deps.store is not None
    saved = state if state and state.get("pairs") and state.get("zone_id") and state.get("original_ttls") else None
    if saved is None:
        saved = deps.store.state(cutover_id)
    if saved is None:
        raise RecordsNotReady(f"no cutover {cutover_id} is recorded: nothing to roll back")
    before = _pairs(saved)
    after = [rr.rolled_back(p, saved["original_ttls"][p.name]) for p in before]
    live = deps.route53.records_of(saved["zone_id"], [p.name for p in before])
    found: dict[str, str] = {}
    change_ids: list[str] = []
    refused: dict[str, str] = {}
    for pair in before:
        changes, found[pair.name] = rr.rollback_name_changes(pair, live.get(pair.name, []), saved["original_ttls"][pair.name])
        if not changes:
            continue
        try:
            change_ids.append(deps.route53.change(saved["zone_id"], changes, f"cutover {cutover_id}: rollback"))
        except InvalidChangeBatch as exc:  # this name only: the others still go back
            refused[pair.name] = str(exc)
    change_id = change_ids[-1] if change_ids else None
    # the names now on Heroku no longer carry their health check: delete it (not a refused name's)
    delete_health_checks(deps, cutover_id, [p for p in before if p.name not in refused], actor)
    stored = deps.store.state(cutover_id) or saved
    new_state = dict(
        saved,
        pairs=[p.to_dict() for p in after],
        change_id=change_id,
        change_ids=change_ids,
        change_status="PENDING" if change_ids else "INSYNC",
        change_polls=0, poll_seconds=FAST_POLL_SECONDS,
        after_change="rolled_back",
        status="ROLLED_BACK" if not refused else "ROLLING_BACK",
        # the first reason stands: a repeated rollback (the execution's own, after an abort or
        # the listener) is in the ledger, but does not rewrite why traffic went back
        rollback_reason=stored.get("rollback_reason") or reason,
    )
    if refused:
        # Loud every time it cannot get through: the ledger, a metric (alarmed), a notification.
        deps.store.save_state(cutover_id, new_state)
        deps.store.record(cutover_id, "rollback_blocked", actor, reason=reason, change_ids=change_ids,
                          found=found, refused=refused, **evidence)
        metrics.add_metric(name="RollbackBlocked", unit="Count", value=1)
        notify(deps, new_state, "rollback_blocked", reason=reason, refused=refused, found=found)
        raise RollbackIncomplete(
            "rolled back every name Route 53 accepted; still not on Heroku: "
            + "; ".join(f"{name}: {why}" for name, why in refused.items())
        )
    first = deps.store.set_status(cutover_id, "ROLLED_BACK", only_if_not=("ROLLED_BACK",))
    if first:
        new_state["rollback_reason"] = reason if stored.get("status") != "ROLLING_BACK" else new_state["rollback_reason"]
    deps.store.record(
        cutover_id, "rolled_back", actor, reason=reason, change_id=change_id, change_ids=change_ids,
        weights_before=_weights(before), weights_after=_weights(after), found=found, repeated=not first, **evidence,
    )
    deps.store.save_state(cutover_id, new_state)
    deps.store.unwatch(cutover_id, saved["plan"]["alarms"])
    deps.store.release([p.name for p in before], cutover_id)
    deps.store.end_live(cutover_id)
    if first:
        metrics.add_metric(name="Rollback", unit="Count", value=1)
        record_aws_percent(cutover_id, 0)
        notify(deps, new_state, "rolled_back", reason=new_state["rollback_reason"], actor=actor, change_id=change_id,
               found=found, **evidence)
    logger.warning("cutover rolled back", extra={"cutover": cutover_id, "reason": reason, "actor": actor})
    return new_state

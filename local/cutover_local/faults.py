"""The engine's fault catalogue: every fault a rehearsal, a test or the chaos campaign can inject.

Each fault is a small frozen value with ``install(world)``, declared once here. Times are
virtual seconds since the rehearsal's start; functions are the template's logical ids;
``invocation`` counts that function's invocations from 1 and ``call`` its AWS calls within one
invocation from 1. ``draw(rng)`` picks a random mix for the chaos campaign.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
from botocore.exceptions import ClientError

from cutover import records as rr
from cutover.adapters.store import Store
from cutover.clock import iso
from cutover.errors import CutoverError

from .engine import ACCOUNT, REGION, CallSite, Killed
from .eventbridge import alarm_state_change
from .harsh import outage, throttling
from .traffic import Effect

if TYPE_CHECKING:
    from .rehearsal import World

STATE_MACHINE_FUNCTIONS = ("PreflightFunction", "LowerTtlFunction", "ShiftFunction", "CheckChangeFunction",
                           "EvaluateAlarmsFunction", "RestoreTtlFunction", "FinalizeFunction", "RollbackFunction")
REACTION_FUNCTIONS = ("AlarmListenerFunction", "SafetyNetFunction")
LambdaServiceException = type("Lambda.ServiceException", (Exception,), {"__module__": __name__})


def _at(world: World, at: float, action: Any) -> None:
    """Run a harness action (a person, another system) at virtual second ``at``. It meets AWS as it
    is then: an outage or throttling makes the action fail, and the failure is noted."""

    def run() -> None:
        with world.engine.outside():
            try:
                action()
            except (ClientError, CutoverError) as exc:
                world.note(world.engine.clock.elapsed, f"injected action failed: {type(exc).__name__}: {exc}")

    world.engine.clock.call_at(at, run)


def _matches(site: CallSite, function: str, invocation: int, call: int) -> bool:
    return (site.function, site.invocation, site.call) == (function, invocation, call)


# --- functions --------------------------------------------------------------------------------

@dataclass(frozen=True)
class LambdaError:
    """The Lambda service fails ``times`` invocations from the ``invocation``-th, before the handler runs (retryable)."""

    function: str
    invocation: int = 1
    times: int = 1
    kind: str = "lambda-error"

    def install(self, world: World) -> None:
        seen = [0]

        def fault(event: dict[str, Any]) -> None:
            seen[0] += 1
            if self.invocation <= seen[0] < self.invocation + self.times:
                raise LambdaServiceException(f"injected: {self.function} unavailable")

        world.engine.faults[self.function] = fault


@dataclass(frozen=True)
class ControlPlaneDown:
    """Every function of the control plane fails (the Lambda service answers an error before any
    handler runs) from ``after`` seconds past stage ``stage``'s shift, for ``duration`` seconds:
    what is left to protect users then is Route 53 itself (the health check on the AWS record)."""

    stage: int = 1
    after: float = 60
    duration: float = 1800
    kind: str = "control-plane-down"

    def install(self, world: World) -> None:
        def fault(event: dict[str, Any]) -> None:
            begin = world.stage_started.get(self.stage)
            now = world.engine.clock.elapsed
            if begin is not None and begin + self.after <= now < begin + self.after + self.duration:
                raise LambdaServiceException("injected: the whole control plane is down")

        assert world.engine.stack is not None
        for function in world.engine.stack.functions.values():
            world.engine.faults[function.logical_id] = fault


@dataclass(frozen=True)
class AwsBreaks:
    """The AWS load balancer loses its healthy targets at ``at`` for ``duration`` seconds: it
    answers 503 itself, and Route 53's health checkers see it (users, alarms and DNS all react)."""

    at: float
    duration: float
    kind: str = "aws-breaks"

    def install(self, world: World) -> None:
        world.effects.append(Effect("aws", None, self.at, self.duration, unhealthy=True))


@dataclass(frozen=True)
class AwsUnseen:
    """From ``at`` on, the users DNS sends to AWS reach another load balancer than the one the
    alarms watch (a target changed by hand, resolvers): no metric of the watched one moves."""

    at: float
    kind: str = "aws-unseen"

    def install(self, world: World) -> None:
        world.effects.append(Effect("aws", None, self.at, unseen=True))


@dataclass(frozen=True)
class Crash:
    """The function's process dies just before its ``call``-th AWS call (Lambda.Unknown)."""

    function: str
    invocation: int = 1
    call: int = 1
    kind: str = "crash"

    def install(self, world: World) -> None:
        def hook(site: CallSite) -> None:
            if _matches(site, self.function, self.invocation, self.call):
                raise Killed("Runtime exited without providing a reason", False)

        world.engine.before_call.append(hook)


@dataclass(frozen=True)
class Hang:
    """The function's ``call``-th AWS call never answers: it runs into its timeout (Lambda.Unknown)."""

    function: str
    invocation: int = 1
    call: int = 1
    kind: str = "timeout"

    def install(self, world: World) -> None:
        def hook(site: CallSite) -> None:
            if _matches(site, self.function, self.invocation, self.call):
                world.engine.hang()

        world.engine.before_call.append(hook)


@dataclass(frozen=True)
class LostResponse:
    """The function did everything, then its response was lost (the caller retries it)."""

    function: str
    invocation: int = 1
    kind: str = "lost-response"

    def install(self, world: World) -> None:
        world.engine.lose_response.append(
            lambda inv: inv.function == self.function and inv.number == self.invocation and inv.error is None)


# --- services ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class ServiceDown:
    """``service`` answers 5XX (``throttle``: Throttling) to every call, or to a share ``rate``."""

    service: str
    start: float
    duration: float
    throttle: bool = False
    rate: float = 1.0

    @property
    def kind(self) -> str:
        return f"{self.service}-{'throttling' if self.throttle else 'outage'}"

    def install(self, world: World) -> None:
        fault = (throttling(self.service, self.start, self.duration, self.rate) if self.throttle
                 else outage(self.service, self.start, self.duration))
        world.engine.outages.append(fault)
        world.outages_end = max(world.outages_end, self.start + self.duration)


@dataclass(frozen=True)
class Route53Refusals:
    """Route 53 answers Throttling to ``refusals`` attempts of each write and poll before one passes."""

    refusals: int
    kind: str = "route53-refusals"

    def install(self, world: World) -> None:
        attempts: dict[str, int] = {}
        calls = world.engine.route53.calls

        def throttle(operation: str) -> bool:
            if operation not in ("ChangeResourceRecordSets", "GetChange"):
                return False
            attempts[operation] = attempts.get(operation, 0) + 1
            if attempts[operation] <= self.refusals:
                calls["Throttled"] = calls.get("Throttled", 0) + 1
                return True
            attempts[operation] = 0
            return False

        world.engine.route53.throttle = throttle


@dataclass(frozen=True)
class StuckPending:
    """Route 53 changes submitted between ``start`` and ``start + duration`` stay PENDING ``extra`` s longer."""

    start: float
    duration: float
    extra: float
    kind: str = "stuck-pending"

    def install(self, world: World) -> None:
        clock = world.engine.clock
        world.engine.route53.stuck = lambda: self.extra if self.start <= clock.elapsed < self.start + self.duration else 0.0


@dataclass(frozen=True)
class LostEvents:
    """EventBridge loses ``status_drop`` of the status events; alarm events come late and twice."""

    status_drop: float
    alarm_delay: float
    alarm_duplicate: float
    kind: str = "lost-late-duplicate-events"

    def install(self, world: World) -> None:
        harsh = world.engine.harsh
        harsh.status_event_drop = self.status_drop
        harsh.status_event_delay = (0.0, max(harsh.status_event_delay[1], self.alarm_delay))
        harsh.alarm_event_delay = (0.0, self.alarm_delay)
        harsh.alarm_event_duplicate = self.alarm_duplicate


@dataclass(frozen=True)
class StaleReads:
    """Global secondary index reads lag writes by up to ``lag`` seconds."""

    lag: float
    kind: str = "stale-index"

    def install(self, world: World) -> None:
        world.engine.harsh.index_lag = (0.0, self.lag)


# --- people and other actors ---------------------------------------------------------------------

@dataclass(frozen=True)
class StopAt:
    """Someone stops the execution from the console at ``at``."""

    at: float
    kind: str = "stop"

    def install(self, world: World) -> None:
        _at(world, self.at, lambda: _stop(world, "stopped from the console"))


@dataclass(frozen=True)
class StopInside:
    """The execution is stopped while ``function`` runs, just before its ``call``-th AWS call."""

    function: str
    invocation: int = 1
    call: int = 1
    kind: str = "stop-inside-function"

    def install(self, world: World) -> None:
        def hook(site: CallSite) -> None:
            if _matches(site, self.function, self.invocation, self.call):
                _stop(world, f"stopped while {self.function} ran")

        world.engine.before_call.append(hook)


def _stop(world: World, cause: str) -> None:
    sfn = boto3.client("stepfunctions")
    if sfn.describe_execution(executionArn=world.execution_arn)["status"] == "RUNNING":
        sfn.stop_execution(executionArn=world.execution_arn, error="Chaos", cause=cause)


EDITS = ("weights", "ttl", "delete-pair", "restore-cname", "zero-zero")


@dataclass(frozen=True)
class HandEdit:
    """Someone edits the records of the ``name``-th name by hand at ``at`` (``edit``: one of EDITS),
    while the cutover holds the name."""

    at: float
    edit: str
    name: int = 0
    kind: str = "hand-edit"

    def install(self, world: World) -> None:
        _at(world, self.at, lambda: _edit(world, world.names[self.name % len(world.names)], self.edit))


def _edit(world: World, name: str, edit: str) -> None:
    assert world.engine.stack is not None
    if Store(world.engine.stack.table_name).lock_holder(name) != world.cutover_id:
        return  # the cutover no longer holds the name: what people do with it now is their business
    try:
        _try_edit(world, name, edit)
    except ClientError as exc:  # Route 53 is down or throttling for the person too
        world.note(world.engine.clock.elapsed, f"hand edit of {name} ({edit}) failed: {exc.response['Error']['Code']}")


def _try_edit(world: World, name: str, edit: str) -> None:
    r53 = boto3.client("route53")
    listed = [r for r in r53.list_resource_record_sets(HostedZoneId=world.zone_id)["ResourceRecordSets"]
              if rr.bare(r["Name"]) == name]
    pair = {r.get("SetIdentifier"): r for r in listed if r.get("SetIdentifier") in (rr.HEROKU_ID, rr.AWS_ID)}
    if len(pair) != 2:
        return  # nothing of the control plane's to edit (not converted yet, or already restored)
    heroku, aws = pair[rr.HEROKU_ID], pair[rr.AWS_ID]
    if edit == "weights":
        changes = [_upsert(heroku, Weight=50), _upsert(aws, Weight=50)]
    elif edit == "ttl":
        changes = [_upsert(heroku, TTL=30), _upsert(aws, TTL=30)]
    elif edit == "zero-zero":
        changes = [_upsert(heroku, Weight=0), _upsert(aws, Weight=0)]
    else:
        changes = [{"Action": "DELETE", "ResourceRecordSet": heroku}, {"Action": "DELETE", "ResourceRecordSet": aws}]
        if edit == "restore-cname":
            changes.append({"Action": "CREATE", "ResourceRecordSet": {
                "Name": heroku["Name"], "Type": "CNAME", "TTL": heroku["TTL"], "ResourceRecords": heroku["ResourceRecords"]}})
    r53.change_resource_record_sets(HostedZoneId=world.zone_id, ChangeBatch={"Comment": f"hand edit: {edit}", "Changes": changes})
    world.note(world.engine.clock.elapsed, f"hand edit of {name}: {edit}")


def _upsert(record: dict[str, Any], **changed: Any) -> dict[str, Any]:
    return {"Action": "UPSERT", "ResourceRecordSet": {**record, **changed}}


@dataclass(frozen=True)
class AlarmFlap:
    """``alarm`` goes to ALARM at ``at`` and back to OK ``duration`` later (events delivered)."""

    alarm: int
    at: float
    duration: float
    kind: str = "alarm-flap"

    def install(self, world: World) -> None:
        name = sorted(world.alarms)[self.alarm % len(world.alarms)]
        _at(world, self.at, lambda: _set_alarm(world, name, "ALARM"))
        _at(world, self.at + self.duration, lambda: _set_alarm(world, name, "OK"))


@dataclass(frozen=True)
class AlarmAtStart:
    """``alarm`` is already in ALARM when the cutover starts (and stays there a while)."""

    alarm: int
    duration: float
    kind: str = "alarm-in-alarm-at-start"

    def install(self, world: World) -> None:
        name = sorted(world.alarms)[self.alarm % len(world.alarms)]
        _set_alarm(world, name, "ALARM")
        _at(world, self.duration, lambda: _set_alarm(world, name, "OK"))


def _set_alarm(world: World, name: str, state: str) -> None:
    cw = boto3.client("cloudwatch")
    old = cw.describe_alarms(AlarmNames=[name])["MetricAlarms"][0]["StateValue"]
    if old == state:
        return
    cw.set_alarm_state(AlarmName=name, StateValue=state, StateReason="chaos")
    world.note(world.engine.clock.elapsed, f"alarm {name}: {old} → {state} (injected)")
    assert world.engine.events is not None
    world.engine.events.put(alarm_state_change(world.alarms[name], old, state, "chaos", world.engine.clock.now(), ACCOUNT, REGION))


@dataclass(frozen=True)
class OperatorAction:
    """An operator runs ``cutover promote`` or ``cutover abort`` at ``at`` (racing whatever runs)."""

    at: float
    action: str  # "promote" or "abort"
    kind: str = "operator-race"

    def install(self, world: World) -> None:
        def act() -> None:
            payload = {"cutover_id": world.cutover_id, "actor": "chaos operator", "reason": "chaos", "full": False}
            answer = world.invoke("PromoteFunction" if self.action == "promote" else "AbortFunction", payload)
            world.note(world.engine.clock.elapsed, f"operator: cutover {self.action}: {json.dumps(answer)[:120]}")

        _at(world, self.at, act)


@dataclass(frozen=True)
class AbortOld:
    """A cutover of the same names that ended long ago is aborted at ``at`` (a stale terminal)."""

    at: float
    kind: str = "abort-old-cutover"

    def install(self, world: World) -> None:
        assert world.engine.stack is not None
        store = Store(world.engine.stack.table_name)
        assert world.engine.service_faults is not None
        world.engine.service_faults.paused = True  # the old cutover's record was written long before
        pairs = [rr.Pair(n, "old-app-1.herokudns.com", "old-alb.elb.amazonaws.com", 300, 0, 100).to_dict()
                 for n in world.names]
        store.save_state("old-cutover", {
            "id": "old-cutover", "status": "SUCCEEDED", "zone_id": world.zone_id, "zone_name": world.names[0].split(".", 1)[1],
            "pairs": pairs, "original_ttls": {n: 300 for n in world.names}, "plan": {**world.plan, "alarms": []},
            "execution_arn": f"arn:aws:states:{REGION}:{ACCOUNT}:execution:old:old-cutover", "finished_at": iso(world.engine.clock.now()),
        })
        world.engine.service_faults.paused = False

        def act() -> None:
            answer = world.invoke("AbortFunction", {"cutover_id": "old-cutover", "actor": "chaos operator", "reason": "old"})
            world.note(world.engine.clock.elapsed, f"operator: cutover abort old-cutover: {json.dumps(answer)[:120]}")

        _at(world, self.at, act)


@dataclass(frozen=True)
class SecondCutover:
    """A second cutover of the same names is started at ``at`` while the first holds them (it must be refused)."""

    at: float
    kind: str = "second-cutover"

    def install(self, world: World) -> None:
        def start() -> None:
            assert world.engine.stack is not None
            holders = {Store(world.engine.stack.table_name).lock_holder(name) for name in world.names}
            if holders != {world.cutover_id}:
                return  # the first one no longer holds the names: a new cutover of them is no race
            name = f"second-cutover-{int(self.at)}"
            world.raced.append(name)
            world.engine.start_now(world.plan, name=name)
            world.note(world.engine.clock.elapsed, "a second cutover of the same names was started")

        _at(world, self.at, start)


# --- the chaos campaign's draw ----------------------------------------------------------------------

def draw(rng: random.Random, horizon: float) -> list[Any]:
    """A random mix of one to four faults over the first ``horizon`` virtual seconds."""
    def when() -> float:
        return round(rng.uniform(0, horizon), 1)

    def function(reactions: bool = True) -> str:
        return rng.choice(STATE_MACHINE_FUNCTIONS + (REACTION_FUNCTIONS if reactions else ()))

    def length() -> float:
        return rng.choice((5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0, 4 * 3600.0))

    makers = [
        lambda: LambdaError(function(), rng.randint(1, 3)),
        lambda: Crash(function(), rng.randint(1, 3), rng.randint(1, 6)),
        lambda: Hang(function(), rng.randint(1, 3), rng.randint(1, 6)),
        lambda: LostResponse(function(), rng.randint(1, 3)),
        lambda: ServiceDown("route53", when(), length(), throttle=rng.random() < 0.5, rate=rng.choice((0.5, 1.0))),
        lambda: ServiceDown("dynamodb", when(), length(), throttle=rng.random() < 0.5, rate=rng.choice((0.5, 1.0))),
        lambda: ServiceDown("sns", when(), length()),
        lambda: StuckPending(when(), rng.choice((60.0, 600.0)), rng.choice((120.0, 1800.0, 7200.0))),
        lambda: LostEvents(rng.choice((0.5, 1.0)), rng.choice((30.0, 120.0)), rng.choice((0.5, 1.0))),
        lambda: StaleReads(rng.choice((5.0, 30.0, 120.0))),
        lambda: StopAt(when()),
        lambda: StopInside(function(reactions=False), rng.randint(1, 2), rng.randint(1, 4)),
        lambda: HandEdit(when(), rng.choice(EDITS), rng.randint(0, 1)),
        lambda: AlarmFlap(rng.randint(0, 1), when(), rng.choice((30.0, 90.0, 300.0))),
        lambda: AlarmAtStart(rng.randint(0, 1), rng.choice((60.0, 400.0))),
        lambda: OperatorAction(when(), rng.choice(("promote", "abort"))),
        lambda: OperatorAction(horizon + rng.uniform(0, 600), "abort"),  # after the end: too late
        lambda: AbortOld(when()),
        lambda: SecondCutover(when()),
        lambda: AwsBreaks(when(), rng.choice((60.0, 300.0, 1800.0, 4 * 3600.0))),
        lambda: AwsUnseen(when()),
    ]
    return [rng.choice(makers)() for _ in range(rng.randint(1, 4))]


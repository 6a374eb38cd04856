"""Reactions from outside the state machine: the alarm listener, the safety net, the reconciler
and the probe.

The first three end in ``steps.rollback``, the one idempotent rollback every path converges on;
the probe only measures (its alarms act through the listener).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from . import probes
from . import records as rr
from .clock import iso, now, parse_iso, sleep
from .errors import EventInvalid
from .observability import logger
from .plan import normalize_name, parse_plan
from .steps import Deps, compare_origins, not_live, notify, rollback

ENDED_BADLY = ("FAILED", "TIMED_OUT", "ABORTED")
# after an alarm's rollback, the ledger shows what the probes saw over this long before it (at most:
# never from before the stage's shift)
PROBE_EVIDENCE_SECONDS = 180


@dataclass(frozen=True)
class AlarmChange:
    alarm: str
    state: str
    previous: str
    reason: str
    changed_at: str  # ISO 8601

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> AlarmChange:
        try:
            if event["detail-type"] != "CloudWatch Alarm State Change":
                raise EventInvalid(f"not an alarm state change: {event['detail-type']}")
            detail = event["detail"]
            state = detail["state"]
            changed = state.get("timestamp") or event["time"]
            return cls(
                alarm=detail["alarmName"],
                state=state["value"],
                previous=detail.get("previousState", {}).get("value", ""),
                reason=state.get("reason", ""),
                changed_at=iso(parse_iso(changed.replace("+0000", "+00:00"))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EventInvalid(f"not a CloudWatch Alarm State Change event: missing or bad {exc}") from exc


def on_alarm(event: dict[str, Any], deps: Deps) -> dict[str, Any]:
    """An alarm changed state: every live cutover watching it records it, and rolls back on ALARM.

    Harmless when repeated or late: the rollback is idempotent, a change older than the watch
    is ignored, and an alarm no live cutover watches costs one index query.
    """
    assert deps.store is not None
    change = AlarmChange.from_event(event)
    watchers = deps.store.watchers(change.alarm)
    acted = []
    for watch in watchers:
        cutover_id = watch["cutover_id"]
        if change.changed_at < watch["since"]:
            deps.store.record(cutover_id, "alarm_state_ignored", "alarm-listener", alarm=change.alarm,
                              state=change.state, changed_at=change.changed_at, why="older than the cutover's watch")
            continue
        if _react(cutover_id, change, watch.get("execution_arn"), "alarm-listener", deps):
            acted.append(cutover_id)
    logger.info("alarm event", extra={"alarm": change.alarm, "state": change.state, "watchers": len(watchers), "acted": acted})
    return {"alarm": change.alarm, "state": change.state, "watchers": len(watchers), "rolled_back": acted}


def _react(cutover_id: str, change: AlarmChange, execution_arn: str | None, actor: str, deps: Deps) -> bool:
    """Record an alarm change for one watching cutover and, on ALARM, roll it back and end its
    execution, if it is still live, owns its names and still watches the alarm (consistent reads:
    the index can still show a watch a finished cutover left). True when it rolled back."""
    assert deps.store is not None
    received = now()
    deps.store.record(cutover_id, "alarm_state", actor, alarm=change.alarm, state=change.state,
                      previous=change.previous, alarm_reason=change.reason, changed_at=change.changed_at)
    if change.state != "ALARM":
        return False
    saved = deps.store.state(cutover_id)
    why = "no state recorded" if saved is None else not_live(saved, deps)
    if why is None and saved is not None and saved.get("status") != "RUNNING" and not deps.store.watching(cutover_id, change.alarm):
        why = f"its watch of {change.alarm} has ended ({saved.get('status')})"
    if why:
        deps.store.record(cutover_id, "alarm_state_ignored", actor, alarm=change.alarm,
                          state=change.state, changed_at=change.changed_at, why=why)
        return False
    reason = f"AlarmBreached: alarm {change.alarm} went to ALARM: {change.reason}"
    state = rollback(cutover_id, reason, actor, deps, alarm=change.alarm, changed_at=change.changed_at,
                     reaction_seconds=round((received - parse_iso(change.changed_at)).total_seconds(), 3))
    cause = f"alarm {change.alarm} went to ALARM; rolled back to Heroku: {change.reason}"
    stopped = False
    gate = deps.store.gate(cutover_id)
    if gate is not None:  # a stage waiting for a promotion: refuse it (abort wins)
        deps.store.release_gate(cutover_id)
        stopped = deps.stepfunctions.send_failure(gate["token"], "AlarmBreached", cause)
    elif execution_arn:
        stopped = deps.stepfunctions.stop(execution_arn, "AlarmBreached", cause)
    deps.store.record(cutover_id, "execution_stopped" if stopped else "execution_already_ended", actor,
                      execution_arn=execution_arn, change_id=state["change_id"])
    _record_probe_figures(cutover_id, saved, change, actor, deps)
    return True


def _record_probe_figures(cutover_id: str, saved: dict[str, Any], change: AlarmChange, actor: str, deps: Deps) -> None:
    """Once traffic is on Heroku (never before: a read must not delay a rollback), what the probes
    saw at both origins in the minutes before the alarm, side by side, in the ledger: the evidence
    a person reads next to the alarm's reason. Best effort: without it the rollback stands."""
    assert deps.store is not None
    try:
        plan = parse_plan(saved["plan"])
        until = parse_iso(change.changed_at)
        since = until - timedelta(seconds=PROBE_EVIDENCE_SECONDS)
        if saved.get("shifted_at"):  # from the minute of the stage's shift, when that is later
            since = max(since, parse_iso(saved["shifted_at"]))
        compared = compare_origins(plan, deps, since, until)
    except Exception as exc:  # noqa: BLE001 - evidence only; the rollback is done
        logger.warning("probe figures not read", extra={"cutover_id": cutover_id, "error": str(exc)})
        deps.store.record(cutover_id, "probe_figures_unavailable", actor, alarm=change.alarm, why=f"{type(exc).__name__}: {exc}"[:300])
        return
    if compared:
        deps.store.record(cutover_id, "probe_figures", actor, alarm=change.alarm, since=iso(since),
                          until=change.changed_at, compare=[c.to_dict() for c in compared])


def recheck_alarms(cutover_id: str, alarms: list[str], execution_arn: str | None, deps: Deps) -> str | None:
    """The reconciler's backstop for a running cutover (a stage waiting hours at a gate has only
    the listener watching, and a listener invocation can fail for good): an alarm the cutover
    watches that is in ALARM now is reacted to as the listener would (which checks, with
    consistent reads, that it is still live and owns its names). The alarm that acted, or None."""
    assert deps.store is not None
    for alarm in deps.cloudwatch.states(alarms) if alarms else []:
        if alarm.state != "ALARM" or not deps.store.watching(cutover_id, alarm.name):
            continue
        change = AlarmChange(alarm.name, "ALARM", "", alarm.reason, alarm.updated_at)
        if _react(cutover_id, change, execution_arn, "reconciler", deps):
            return alarm.name
    return None


def on_execution_ended(event: dict[str, Any], deps: Deps, actor: str = "safety-net") -> dict[str, Any]:
    """A cutover's execution ended FAILED, TIMED_OUT or ABORTED: make sure traffic is on Heroku.

    A no-op (but for the ledger) when the rollback already happened: the live records are read
    (the one place a fresh read is right: nothing is swapped on it) and left alone when every
    pair already sends nothing to AWS.
    """
    assert deps.store is not None
    try:
        detail = event["detail"]
        status, cutover_id = detail["status"], detail["name"]
    except (KeyError, TypeError) as exc:
        raise EventInvalid(f"not a Step Functions Execution Status Change event: missing {exc}") from exc
    if status not in ENDED_BADLY:
        return {"cutover": cutover_id, "acted": False, "why": f"execution {status}"}
    why = f"execution {status}" + (f": {detail['error']}" if detail.get("error") else "") + (
        f": {detail['cause']}" if detail.get("cause") else "")
    saved = deps.store.state(cutover_id)
    if saved is None:
        # Preflight never saved a state: nothing was converted. Release what it may hold.
        names = _names_in(detail.get("input"))
        released = deps.store.release(names, cutover_id) if names else []
        return {"cutover": cutover_id, "acted": bool(released), "released": released, "why": why}
    why_not = not_live(saved, deps, succeeded_is_final=False)
    if why_not:
        deps.store.record(cutover_id, "safety_net_checked", actor, execution_status=status, why=why, left_alone=why_not)
        deps.store.unwatch(cutover_id, saved["plan"]["alarms"])
        deps.store.end_live(cutover_id)
        return {"cutover": cutover_id, "acted": False, "why": f"left alone: {why_not}"}
    live = deps.route53.records_of(saved["zone_id"], [p["name"] for p in saved["pairs"]])
    on_heroku = all(
        {r.get("SetIdentifier"): r.get("Weight") for r in records}.get(rr.AWS_ID) == 0
        for records in live.values()
    )
    if saved.get("status") == "ROLLED_BACK" and on_heroku:
        deps.store.unwatch(cutover_id, saved["plan"]["alarms"])
        released = deps.store.release([p["name"] for p in saved["pairs"]], cutover_id)
        deps.store.end_live(cutover_id)
        deps.store.record(cutover_id, "safety_net_checked", actor, execution_status=status, why=why,
                          released=released)
        return {"cutover": cutover_id, "acted": False, "why": "already rolled back"}
    state = rollback(cutover_id, f"{actor.replace('-', ' ')}: {why}", actor, deps, execution_status=status)
    notify(deps, state, "safety_net_acted", reason=why, execution_status=status, change_id=state["change_id"])
    return {"cutover": cutover_id, "acted": True, "why": why, "change_id": state["change_id"]}


# The reconciler runs on a schedule (template.yaml: every RECONCILE_MINUTES minutes).
RECONCILE_MINUTES = 5


def reconcile(deps: Deps) -> dict[str, Any]:
    """What the safety net would have done, for every execution whose end it did not hear of.

    Status events are best effort and the safety net is one asynchronous invocation: on a
    schedule, every cutover still live in the table is checked against Step Functions; one whose
    execution has ended without a recorded end is made safe (rolled back unless it succeeded)
    and its locks released. Then every notification SNS did not take is sent again.
    """
    assert deps.store is not None and deps.notifier is not None
    acted, checked = [], 0
    for item in deps.store.live():
        cutover_id = item["cutover_id"]
        checked += 1
        arn = item.get("execution_arn")
        saved = None if arn and item.get("alarms") else deps.store.state(cutover_id) or {}
        arn = arn or (saved or {}).get("execution_arn")
        status = deps.stepfunctions.status(arn) if arn else None
        if status == "RUNNING":
            alarms = item.get("alarms") or ((saved or {}).get("plan") or {}).get("alarms") or []
            alarm = recheck_alarms(cutover_id, alarms, arn, deps)
            if alarm:
                acted.append({"cutover": cutover_id, "execution_status": status, "acted": True,
                              "why": f"alarm {alarm} in ALARM"})
            continue
        saved = saved if saved is not None else deps.store.state(cutover_id) or {}
        if status == "SUCCEEDED" and saved.get("status") == "SUCCEEDED":
            deps.store.unwatch(cutover_id, saved["plan"]["alarms"])
            deps.store.release([p["name"] for p in saved["pairs"]], cutover_id)
            deps.store.end_live(cutover_id)
            continue
        ended = {"detail": {"status": status if status in ENDED_BADLY else "FAILED", "name": cutover_id,
                            "error": "ExecutionEndedUnheard" if status else "ExecutionNotFound",
                            "cause": f"the execution is {status or 'gone'} and no end was recorded"}}
        result = on_execution_ended(ended, deps, actor="reconciler")
        acted.append({"cutover": cutover_id, "execution_status": status, **result})
    resent = 0
    for waiting in deps.store.outbox():
        if deps.notifier.send(waiting["topic"], waiting["subject"], waiting["message"]) is None:
            break  # SNS still refuses: try again at the next run
        deps.store.outbox_done(waiting["sk"])
        resent += 1
    logger.info("reconciled", extra={"checked": checked, "acted": acted, "resent": resent})
    return {"checked": checked, "acted": acted, "notifications_resent": resent}


def _names_in(raw_input: Any) -> list[str]:
    """Record names from an execution's input (the plan), best effort: used only to free locks."""
    try:
        plan = json.loads(raw_input) if isinstance(raw_input, str) else raw_input
        items = plan.get("records", []) if isinstance(plan, dict) else []
    except ValueError:
        return []
    names = [i if isinstance(i, str) else i.get("name") for i in items if isinstance(i, str | dict)]
    return [normalize_name(n) for n in names if isinstance(n, str)]


def probe(deps: Deps) -> dict[str, Any]:
    """The probe function's minute: every live cutover's names at both origins, round after
    round, each round published as high-resolution metrics (``probes.run``). Idle, after one
    query of the table, while no cutover is live."""
    assert deps.store is not None
    cloudwatch = deps.cloudwatch
    return probes.run(deps.store.live(), lambda data: cloudwatch.publish(probes.NAMESPACE, data), now, sleep)

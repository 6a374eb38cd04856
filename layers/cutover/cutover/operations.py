"""What operators do to a cutover: hold for, promote, or abort it while it runs; commit it once
it succeeded.

Operator actions go through the control plane's own functions, so the ledger records who did
what and the permissions stay in one place. Abort always wins: it rolls back first, then ends
whatever the execution is waiting for.
"""

from __future__ import annotations

from typing import Any

from . import records as rr
from .errors import CutoverNotFound, CutoverNotLive, NotWaiting, StaleRecords
from .steps import Deps, _pairs, delete_health_checks, not_live, notify, rollback


def hold(state: dict[str, Any], token: str, deps: Deps) -> dict[str, Any]:
    """A stage waits for ``cutover promote``: keep the task token where the operator's call finds it."""
    assert deps.store is not None
    stage = state["stage_index"] + 1
    deps.store.hold(state["id"], token, stage, "manual")
    deps.store.record(state["id"], "waiting_for_promotion", "execution", stage=stage, aws_percent=state["aws_percent"])
    notify(deps, state, "waiting_for_promotion", stage=stage, aws_percent=state["aws_percent"],
           how=f"cutover promote {state['id']}  (or: cutover abort {state['id']} --reason ...)")
    return {"held": True, "stage": stage}


def promote(cutover_id: str, full: bool, actor: str, deps: Deps) -> dict[str, Any]:
    """Let a stage waiting for an operator go on (to the last stage with ``full``)."""
    assert deps.store is not None
    gate = deps.store.gate(cutover_id)
    if gate is None:
        raise NotWaiting(f"cutover {cutover_id} is not waiting for a promotion")
    deps.store.release_gate(cutover_id)
    if not deps.stepfunctions.send_success(gate["token"], {"full": full, "by": actor}):
        raise NotWaiting(f"cutover {cutover_id} stopped waiting before the promotion arrived")
    deps.store.record(cutover_id, "promotion_approved", actor, stage=gate["stage"], full=full)
    return {"cutover": cutover_id, "promoted": True, "stage": gate["stage"], "full": full}


def abort(cutover_id: str, reason: str, actor: str, deps: Deps) -> dict[str, Any]:
    """Roll back now, then end the execution; wins over a pending promotion."""
    assert deps.store is not None
    saved = deps.store.state(cutover_id)
    if saved is None:
        raise CutoverNotFound(f"no cutover named {cutover_id}: see cutover list")
    why = not_live(saved, deps)
    if why:
        deps.store.record(cutover_id, "abort_refused", actor, reason=reason, why=why)
        raise CutoverNotLive(f"cutover {cutover_id} was not aborted, nothing changed: {why}")
    state = rollback(cutover_id, f"OperatorAborted: {reason}", actor, deps)
    gate = deps.store.gate(cutover_id)
    ended = "nothing was waiting"
    if gate is not None:
        deps.store.release_gate(cutover_id)
        if deps.stepfunctions.send_failure(gate["token"], "OperatorAborted", reason):
            ended = "the pending promotion was refused"
    elif saved.get("execution_arn") and deps.stepfunctions.stop(saved["execution_arn"], "OperatorAborted", reason):
        ended = "the execution was stopped"
    deps.store.record(cutover_id, "aborted", actor, reason=reason, ended=ended, change_id=state["change_id"])
    notify(deps, state, "aborted", reason=reason, actor=actor, ended=ended)
    return {"cutover": cutover_id, "aborted": True, "change_id": state["change_id"], "ended": ended}


def commit(cutover_id: str, actor: str, deps: Deps) -> dict[str, Any]:
    """A cutover that succeeded becomes permanent: each name's weighted pair is replaced by a
    simple CNAME to its AWS target at the original TTL (one batch a name, compare-and-swap against
    the pair the cutover last wrote), its health check deleted. Says Heroku may go once the
    answers it still gets have expired. Idempotent; refused, nothing changed, for a cutover that
    has not succeeded, whose names another cutover holds, or whose records were edited since."""
    assert deps.store is not None
    saved = deps.store.state(cutover_id)
    if saved is None:
        raise CutoverNotFound(f"no cutover named {cutover_id}: see cutover list")
    if saved.get("status") == "COMMITTED":
        return {"cutover": cutover_id, "committed": True, "already": True, "change_ids": saved.get("commit_change_ids", [])}
    if saved.get("status") != "SUCCEEDED":
        raise CutoverNotLive(f"cutover {cutover_id} was not committed, nothing changed: it is {saved.get('status')}, "
                             "not SUCCEEDED (only a cutover that reached AWS 100% can be made permanent)")
    pairs = _pairs(saved)
    others = {p.name: h for p in pairs if (h := deps.store.lock_holder(p.name)) not in (None, cutover_id)}
    if others:
        raise CutoverNotLive(f"cutover {cutover_id} was not committed, nothing changed: another cutover holds "
                             + ", ".join(f"{n} ({h})" for n, h in others.items()))
    ttls = saved["original_ttls"]
    live = deps.route53.records_of(saved["zone_id"], [p.name for p in pairs])
    edited = [p.name for p in pairs if sorted(map(rr.as_held, live.get(p.name, [])), key=str)
              != sorted(map(rr.as_held, p.records()), key=str)
              and live.get(p.name) != [rr.simple_record(p.name, p.aws_target, ttls[p.name])]]
    if edited:
        raise StaleRecords(f"cutover {cutover_id} was not committed, nothing changed: the records of {', '.join(edited)} "
                           "are no longer what the cutover left (edited since?); put them back or change them by hand")
    change_ids = []
    for pair in pairs:
        if live.get(pair.name) == [rr.simple_record(pair.name, pair.aws_target, ttls[pair.name])]:
            continue  # an earlier attempt committed this name
        changes = rr.commit_changes(pair, ttls[pair.name])
        rr.check_changes(changes, saved["zone_name"])
        change_ids.append(deps.route53.change(saved["zone_id"], changes, f"cutover {cutover_id}: commit"))
    delete_health_checks(deps, cutover_id, pairs, actor)
    first = deps.store.set_status(cutover_id, "COMMITTED", only_if_not=("COMMITTED",))
    state = dict(saved, status="COMMITTED", commit_change_ids=change_ids,
                 pairs=[p.with_health_check(None).to_dict() for p in pairs])
    deps.store.save_state(cutover_id, state)
    if first:
        targets = {p.name: p.aws_target for p in pairs}
        drain = max(ttls.values())
        deps.store.record(cutover_id, "committed", actor, change_ids=change_ids, targets=targets, ttl=ttls)
        notify(deps, state, "committed", once="committed", actor=actor, targets=targets,
               advice=f"AWS is now the only answer; Heroku still gets requests from answers cached up to {drain}s "
               "(longer for clients that ignore TTLs): scale it down after that")
    return {"cutover": cutover_id, "committed": True, "already": False, "change_ids": change_ids}

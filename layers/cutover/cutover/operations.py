"""What operators do to a cutover: hold for, promote, or abort it while it runs; commit it once
it succeeded.

Operator actions go through the control plane's own functions, so the ledger records who did
what and the permissions stay in one place. Abort always wins: it rolls back first, then ends
whatever the execution is waiting for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .clock import iso, now
from .errors import CutoverNotFound, CutoverNotLive, NotWaiting
from .steps import Deps, not_live, notify, rollback


def hold(state: dict[str, Any], token: str, deps: Deps, purpose: str = "promotion") -> dict[str, Any]:
    """A stage waits for ``cutover promote`` (or, ``purpose="watch"``, the cutover at 100% waits
    for ``cutover commit`` or the end of its watch): keep the task token where the operator's call
    finds it."""
    assert deps.store is not None
    if purpose == "watch":
        until = iso(now() + timedelta(seconds=state["plan"]["watch"]))
        deps.store.hold(state["id"], token, state["stage_count"], "watch")
        deps.store.record(state["id"], "watching", "execution", until=until)
        notify(deps, state, "watching", once="watching", until=until,
               how=f"at 100% and watched until {until}, then committed; cutover commit {state['id']} commits now, "
                   f"cutover abort {state['id']} --reason ... goes back to Heroku")
        return {"held": True, "watch_until": until}
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
    if gate is None or gate.get("kind") == "watch":
        raise NotWaiting(f"cutover {cutover_id} is not waiting for a promotion"
                         + (" (it is at 100%, watched: cutover commit ends the watch)" if gate else ""))
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
    if not why and saved.get("status") == "ROLLED_BACK":  # ended: an abort has nothing left to do
        why = f"it was rolled back already ({saved.get('rollback_reason') or 'no reason recorded'}): its traffic is on Heroku"
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
    """End a cutover's watch now: the execution commits it at once (each name's weighted pair
    replaced by a simple CNAME to AWS at the original TTL, its health check deleted). A cutover
    that already succeeded is committed already; one that is not watched is refused, nothing
    changed."""
    assert deps.store is not None
    saved = deps.store.state(cutover_id)
    if saved is None:
        raise CutoverNotFound(f"no cutover named {cutover_id}: see cutover list")
    if saved.get("status") == "SUCCEEDED":
        return {"cutover": cutover_id, "committed": True, "already": True}
    gate = deps.store.gate(cutover_id)
    if gate is None or gate.get("kind") != "watch" or saved.get("status") != "RUNNING":
        raise CutoverNotLive(f"cutover {cutover_id} was not committed, nothing changed: it is {saved.get('status')} and "
                             "not watched at 100% (only a cutover that reached AWS 100% can be committed)")
    deps.store.release_gate(cutover_id)
    if not deps.stepfunctions.send_success(gate["token"], {"by": actor}):
        raise CutoverNotLive(f"cutover {cutover_id} stopped watching before the commit arrived: see cutover status")
    deps.store.record(cutover_id, "commit_requested", actor)
    return {"cutover": cutover_id, "committed": True, "already": False}

"""What operators do to a running cutover: hold for, promote, or abort it.

Operator actions go through the control plane's own functions, so the ledger records who did
what and the permissions stay in one place. Abort always wins: it rolls back first, then ends
whatever the execution is waiting for.
"""

from __future__ import annotations

from typing import Any

from .errors import CutoverNotFound, CutoverNotLive, NotWaiting
from .steps import Deps, not_live, notify, rollback


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

"""What operators do to a cutover: hold for, promote, or abort it while it runs; commit it once
it succeeded; revert it (back to Heroku) after it was committed.

Operator actions go through the control plane's own functions, so the ledger records who did
what and the permissions stay in one place. Abort always wins: it rolls back first, then ends
whatever the execution is waiting for.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from . import records as rr
from .clock import iso, now
from .errors import CutoverNotFound, CutoverNotLive, InvalidChangeBatch, LockHeld, NotWaiting
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
    if not why and saved.get("status") == "REVERTED":
        why = f"it was reverted after its commit ({(saved.get('revert') or {}).get('reason')}): its traffic is on Heroku"
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


def revert(cutover_id: str, reason: str, actor: str, deps: Deps) -> dict[str, Any]:
    """Move a committed cutover's names back to Heroku (``cutover revert``): each simple CNAME to
    AWS its commit wrote becomes the simple CNAME to Heroku the name had before, at the original
    TTL, all names in one atomic batch. The names are locked while it runs, so no cutover starts
    on them meanwhile; anything not as the commit left it (a name someone edited, or a new
    cutover's) refuses the whole revert, nothing changed. Running it again after it was done is
    harmless: a name already on Heroku is left alone and nothing is recorded twice."""
    assert deps.store is not None
    saved = deps.store.state(cutover_id)
    if saved is None:
        raise CutoverNotFound(f"no cutover named {cutover_id}: see cutover list")
    status = saved.get("status")
    names = [p["name"] for p in saved.get("pairs", [])]
    if status == "REVERTED":
        _refuse_after_a_later_commit(saved, names, reason, actor, deps)
        return {"cutover": cutover_id, "reverted": True, "already": True, "change_id": (saved.get("revert") or {}).get("change_id")}
    if status != "SUCCEEDED":
        why = ("it is still live: cutover abort rolls it back" if status == "RUNNING"
               else f"it is {status}: its traffic never stayed on AWS")
        deps.store.record(cutover_id, "revert_refused", actor, reason=reason, why=why)
        raise CutoverNotLive(f"cutover {cutover_id} was not reverted, nothing changed: {why}")
    try:
        deps.store.acquire(names, cutover_id)
    except LockHeld as exc:
        deps.store.record(cutover_id, "revert_refused", actor, reason=reason, why=str(exc))
        raise CutoverNotLive(f"cutover {cutover_id} was not reverted, nothing changed: {exc} (its names are that "
                             "cutover's now)") from exc
    try:
        _refuse_after_a_later_commit(saved, names, reason, actor, deps)  # under the lock: none can commit meanwhile
        return _revert_locked(saved, reason, actor, deps)
    finally:
        deps.store.release(names, cutover_id)


def _refuse_after_a_later_commit(saved: dict[str, Any], names: list[str], reason: str, actor: str, deps: Deps) -> None:
    """A name a later cutover committed is that cutover's to revert."""
    assert deps.store is not None
    later = {n: by for n in names if (by := deps.store.committed_by(n)) not in (None, saved["id"])}
    if later:
        why = "a later cutover committed its names: " + ", ".join(f"{n} ({by})" for n, by in later.items())
        deps.store.record(saved["id"], "revert_refused", actor, reason=reason, why=why)
        raise CutoverNotLive(f"cutover {saved['id']} was not reverted, nothing changed: {why} (revert that one)")


def _revert_locked(saved: dict[str, Any], reason: str, actor: str, deps: Deps) -> dict[str, Any]:
    assert deps.store is not None
    cutover_id, ttls = saved["id"], saved["original_ttls"]
    pairs = [rr.Pair.from_dict(p) for p in saved["pairs"]]
    live = deps.route53.records_of(saved["zone_id"], [p.name for p in pairs])
    changes: list[rr.Change] = []
    found, problems = [], []
    for pair in pairs:
        name_changes, what = rr.revert_changes(pair, live.get(pair.name, []), ttls[pair.name])
        (problems if name_changes is None else found).append(what)
        changes += name_changes or []
    if problems:
        why = "; ".join(problems)
        deps.store.record(cutover_id, "revert_refused", actor, reason=reason, why=why)
        raise CutoverNotLive(f"cutover {cutover_id} was not reverted, nothing changed: {why}")
    change_id = None
    if changes:
        rr.check_changes(changes, saved["zone_name"])
        try:
            change_id = deps.route53.change(saved["zone_id"], changes, f"cutover {cutover_id}: revert to Heroku")
        except InvalidChangeBatch as exc:  # changed between our read and the batch: nothing was applied
            deps.store.record(cutover_id, "revert_refused", actor, reason=reason, why=str(exc))
            raise CutoverNotLive(f"cutover {cutover_id} was not reverted, nothing changed: Route 53 refused the "
                                 f"batch (the records changed meanwhile): {exc}") from exc
    revert_info = {"by": actor, "reason": reason, "change_id": change_id, "names": found}
    state = dict(saved, status="REVERTED", revert=revert_info)
    first = deps.store.set_status(cutover_id, "REVERTED", only_if_not=("REVERTED",))
    deps.store.save_state(cutover_id, state)
    if first:
        deps.store.record(cutover_id, "reverted", actor, reason=reason, change_id=change_id, names=found)
        drain = max(ttls.values())
        notify(deps, state, "reverted", reason=reason, actor=actor, change_id=change_id,
               advice=f"each name is a simple CNAME to Heroku again; resolvers may keep the AWS answer for up to "
                      f"{drain}s (longer for clients that ignore TTLs): keep AWS serving until then")
    return {"cutover": cutover_id, "reverted": True, "already": False, "change_id": change_id, "names": found}

"""The steps of a campaign's state machine, and what operators do to a campaign.

The campaign's state machine (``statemachines/campaign.asl.json``) runs the waves one after the
other, and in each wave a Map of its cutovers, ``max_parallel`` at once, each started as a child
execution of the cutover state machine and waited for. These steps record each decision in the
campaign's own ledger and apply its rule: with ``on_rollback: stop`` a cutover that does not end
on AWS halts the campaign (no further cutover starts; those running go on to their own end).

Statuses: RUNNING, HALTED (stopped by its rule, cutovers still running finish), ABORTED (an
operator: every live cutover rolled back), and at the end SUCCEEDED (every cutover on AWS),
COMPLETED_WITH_ROLLBACKS (``continue``: the others went on), or HALTED.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from . import campaign as cp
from .clock import iso, now
from .errors import CutoverError, CutoverNotFound, CutoverNotLive, InputInvalid, NotWaiting
from .observability import logger
from .operations import abort
from .steps import Deps

LIVE = ("RUNNING", "HALTED")
ENDED = ("SUCCEEDED", "COMPLETED_WITH_ROLLBACKS", "ABORTED", "FAILED")


def has_ended(ledger: list[dict[str, Any]]) -> bool:
    """Whether the campaign's last step ran (its ``campaign_ended`` entry): HALTED alone does not say."""
    return any(e["event"] == "campaign_ended" for e in ledger)


class CampaignNotFound(CutoverNotFound):
    """No campaign with that name is recorded."""


class CampaignNotLive(CutoverNotLive):
    """The campaign has ended: nothing was changed."""


def child_arn(cutover_machine_arn: str, cutover_id: str) -> str:
    """The execution ARN a child gets: its state machine's ARN, ``stateMachine`` -> ``execution``."""
    return cutover_machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + cutover_id


def _notify(deps: Deps, campaign_id: str, event: str, **details: Any) -> None:
    """One message per state change of the campaign. One SNS would not take is recorded in the
    campaign's ledger and kept in the outbox, which the reconciler sends again, as a cutover's."""
    assert deps.notifier is not None and deps.store is not None
    topic = deps.notifier.default_topic_arn
    if not topic:
        return
    subject, message = f"campaign {event}: {campaign_id}", {"campaign": campaign_id, "event": event, **details}
    if deps.notifier.send(topic, subject, message):
        return
    try:
        entry = deps.store.record_campaign(campaign_id, "notification_failed", "notifier", notification=event, topic=topic)
        deps.store.outbox_add(f"campaign:{campaign_id}", entry["seq"], topic, subject, message)
    except (CutoverError, ClientError, BotoCoreError) as exc:
        logger.error("campaign notification lost", extra={"campaign": campaign_id, "event": event, "error": str(exc)})


def _saved(campaign_id: str, deps: Deps) -> dict[str, Any]:
    assert deps.store is not None
    saved = deps.store.campaign(campaign_id)
    if saved is None:
        raise CampaignNotFound(f"no campaign named {campaign_id}: see cutover campaign status")
    return saved


# the state machine's steps ------------------------------------------------------------------
def begin(raw: Any, execution_arn: str, cutover_machine_arn: str, deps: Deps) -> dict[str, Any]:
    """Validate the campaign file (nothing starts when it is wrong) and record the campaign."""
    assert deps.store is not None
    campaign = cp.parse(raw)
    existing = deps.store.campaign(campaign.id)
    if existing is None or existing.get("execution_arn") != execution_arn:  # not a repeated Begin
        deps.store.save_campaign(campaign.id, {
            "campaign_id": campaign.id, "status": "RUNNING", "execution_arn": execution_arn,
            "cutover_state_machine_arn": cutover_machine_arn, "on_rollback": campaign.on_rollback,
            "waves": [{"name": w.name, "cutovers": [c.id for c in w.cutovers], "names": [n for c in w.cutovers for n in c.plan.names],
                       "max_parallel": w.max_parallel, "pause": w.pause, "gate": w.gate} for w in campaign.waves],
            "started_at": iso(now()),
        })
        deps.store.record_campaign(campaign.id, "campaign_started", "execution", execution_arn=execution_arn,
                                   waves=len(campaign.waves), cutovers=len(campaign.cutovers),
                                   on_rollback=campaign.on_rollback)
        _notify(deps, campaign.id, "started", description=campaign.describe())
    return campaign.to_input()


def wave_start(campaign_id: str, wave: int, deps: Deps) -> dict[str, Any]:
    """A wave begins unless the campaign was halted or aborted meanwhile."""
    assert deps.store is not None
    saved = _saved(campaign_id, deps)
    if saved.get("status") != "RUNNING":
        deps.store.record_campaign(campaign_id, "wave_skipped", "execution", wave=wave + 1, why=f"campaign {saved.get('status')}")
        return {"go": False}
    deps.store.record_campaign(campaign_id, "wave_started", "execution", wave=wave + 1,
                               cutovers=saved["waves"][wave]["cutovers"])
    return {"go": True}


def before_cutover(campaign_id: str, cutover_id: str, deps: Deps) -> dict[str, Any]:
    """A cutover starts only while the campaign runs (a halt or an abort stops new ones)."""
    assert deps.store is not None
    saved = _saved(campaign_id, deps)
    if saved.get("status") != "RUNNING":
        deps.store.record_campaign(campaign_id, "cutover_skipped", "execution", cutover=cutover_id,
                                   why=f"campaign {saved.get('status')}")
        return {"start": False, "status": "SKIPPED"}
    deps.store.record_campaign(campaign_id, "cutover_started", "execution", cutover=cutover_id,
                               execution_arn=child_arn(saved["cutover_state_machine_arn"], cutover_id))
    return {"start": True}


def after_cutover(campaign_id: str, cutover_id: str, child_error: dict[str, Any] | None, deps: Deps) -> dict[str, Any]:
    """Record how a cutover ended (the cutover's own recorded status is the evidence) and apply
    the campaign's rule to it."""
    assert deps.store is not None
    saved = _saved(campaign_id, deps)
    cutover = deps.store.state(cutover_id) or {}
    if child_error is None:
        status, reason = "SUCCEEDED", None
    else:
        status = cutover.get("status") if cutover.get("status") in ("ROLLED_BACK", "FAILED") else "FAILED"
        reason = cutover.get("rollback_reason") or _why(child_error, cutover)
    repeated = any(e["event"] == "cutover_ended" and e.get("cutover") == cutover_id
                   for e in deps.store.campaign_ledger(campaign_id))
    if not repeated:
        deps.store.record_campaign(campaign_id, "cutover_ended", "execution", cutover=cutover_id, status=status,
                                   **({"reason": reason} if reason else {}))
    if status != "SUCCEEDED" and saved.get("on_rollback") == "stop" and \
            deps.store.set_campaign_status(campaign_id, "HALTED", only_if_not=("HALTED", *ENDED)):
        deps.store.record_campaign(campaign_id, "campaign_halted", "execution", by=cutover_id, reason=reason,
                                   rule="on_rollback: stop")
        _notify(deps, campaign_id, "halted", by=cutover_id, status=status, reason=reason,
                how="no further cutover starts; those running go on to their own end")
    return {"id": cutover_id, "status": status}


def _why(child_error: dict[str, Any], cutover: dict[str, Any]) -> str:
    error = str(child_error.get("Error") or "")
    cause = " ".join(str(child_error.get("Cause") or "").split())[:300]
    told = f" ({error}: {cause})" if error and cause else f" ({error or cause})" if error or cause else ""
    if not cutover:
        return "the cutover never started (refused before it changed anything, or its name was used already)" + told
    return error or "the cutover's execution did not succeed"


def wave_end(campaign_id: str, wave: int, results: list[dict[str, Any]], deps: Deps) -> dict[str, Any]:
    """Record the wave's outcome; say whether the campaign goes on (and how it waits first)."""
    assert deps.store is not None
    saved = _saved(campaign_id, deps)
    counts: dict[str, int] = {}
    for result in results:
        counts[result.get("status", "SKIPPED")] = counts.get(result.get("status", "SKIPPED"), 0) + 1
    deps.store.record_campaign(campaign_id, "wave_ended", "execution", wave=wave + 1, outcome=counts)
    return {"go_on": saved.get("status") == "RUNNING"}


def hold(campaign_id: str, wave: int, token: str, deps: Deps) -> dict[str, Any]:
    """After a wave with ``after: {gate: manual}``: wait for ``cutover campaign promote``."""
    assert deps.store is not None
    deps.store.hold_campaign(campaign_id, token, wave + 1)
    deps.store.record_campaign(campaign_id, "waiting_for_promotion", "execution", after_wave=wave + 1)
    _notify(deps, campaign_id, "waiting_for_promotion", after_wave=wave + 1,
            how=f"cutover campaign promote {campaign_id}  (or: cutover campaign abort {campaign_id} --reason ...)")
    return {"held": True, "after_wave": wave + 1}


def end(campaign_id: str, error: dict[str, Any] | None, deps: Deps) -> dict[str, Any]:
    """The campaign's last step: its final status from its ledger, recorded and told once."""
    assert deps.store is not None
    saved = _saved(campaign_id, deps)
    ledger = deps.store.campaign_ledger(campaign_id)
    ended = {e["cutover"]: e["status"] for e in ledger if e["event"] == "cutover_ended"}
    every = [c for w in saved["waves"] for c in w["cutovers"]]
    not_on_aws = sorted(c for c, s in ended.items() if s != "SUCCEEDED")
    skipped = [c for c in every if c not in ended]
    status = saved.get("status")
    if status == "RUNNING":
        if error is not None:
            status = "FAILED"
        elif not_on_aws:
            status = "COMPLETED_WITH_ROLLBACKS"
        else:
            status = "SUCCEEDED" if not skipped else "FAILED"
    deps.store.set_campaign_status(campaign_id, status, only_if_not=("ABORTED",))
    if not has_ended(ledger):
        summary = {"status": status, "on_aws": sorted(c for c, s in ended.items() if s == "SUCCEEDED"),
                   "not_on_aws": not_on_aws, "not_started": skipped}
        if error is not None:
            summary["error"] = {"Error": error.get("Error"), "Cause": str(error.get("Cause", ""))[:500]}
        deps.store.record_campaign(campaign_id, "campaign_ended", "execution", **summary)
        _notify(deps, campaign_id, "ended", status=status, on_aws=len(summary["on_aws"]), not_on_aws=not_on_aws,
                not_started=len(skipped))
    return {"status": status, "succeeded": status == "SUCCEEDED",
            "summary": f"{len(ended) - len(not_on_aws)} of {len(every)} cutover(s) on AWS"
                       + (f"; not on AWS: {', '.join(not_on_aws)}" if not_on_aws else "")
                       + (f"; {len(skipped)} not started" if skipped else "")}


# what operators do -----------------------------------------------------------------------------
def promote(campaign_id: str, actor: str, deps: Deps) -> dict[str, Any]:
    """Open the gate the campaign waits at between two waves."""
    assert deps.store is not None
    _saved(campaign_id, deps)
    gate = deps.store.campaign_gate(campaign_id)
    if gate is None:
        raise NotWaiting(f"campaign {campaign_id} is not waiting at a gate between waves")
    deps.store.release_campaign_gate(campaign_id)
    if not deps.stepfunctions.send_success(gate["token"], {"by": actor}):
        raise NotWaiting(f"campaign {campaign_id} stopped waiting before the promotion arrived")
    deps.store.record_campaign(campaign_id, "promotion_approved", actor, after_wave=gate["wave"])
    return {"campaign": campaign_id, "promoted": True, "after_wave": gate["wave"]}


def abort_campaign(campaign_id: str, reason: str, actor: str, deps: Deps) -> dict[str, Any]:
    """Stop the campaign and roll every cutover of it still live back to Heroku.

    First the campaign is marked ABORTED (no cutover starts after that), then its execution is
    stopped, then each cutover still live is aborted as ``cutover abort`` would (rollback first);
    a child started but not yet recorded (its Preflight still running) has its execution stopped,
    which the safety net turns into a rollback once anything changed."""
    assert deps.store is not None
    saved = _saved(campaign_id, deps)
    # HALTED is live while the cutovers its rule let run finish, and final once the campaign ended
    if saved.get("status") not in LIVE or has_ended(deps.store.campaign_ledger(campaign_id)):
        state = saved.get("status") if saved.get("status") not in LIVE else f"{saved.get('status')} and has ended"
        deps.store.record_campaign(campaign_id, "abort_refused", actor, reason=reason, why=f"it is {state}")
        raise CampaignNotLive(f"campaign {campaign_id} was not aborted, nothing changed: it is {state} "
                              "(cutover abort NAME rolls back one cutover that is still live)")
    deps.store.set_campaign_status(campaign_id, "ABORTED")
    deps.store.record_campaign(campaign_id, "campaign_abort_requested", actor, reason=reason)
    gate = deps.store.campaign_gate(campaign_id)
    if gate is not None:
        deps.store.release_campaign_gate(campaign_id)
        deps.stepfunctions.send_failure(gate["token"], "CampaignAborted", reason)
    stopped = deps.stepfunctions.stop(saved["execution_arn"], "CampaignAborted", reason)
    aborted, stopped_children, untouched = [], [], []
    for cutover_id in (c for w in saved["waves"] for c in w["cutovers"]):
        state = deps.store.state(cutover_id)
        if state is not None and state.get("status") == "RUNNING":
            try:
                abort(cutover_id, f"campaign {campaign_id} aborted: {reason}", actor, deps)
                aborted.append(cutover_id)
            except CutoverNotLive:
                untouched.append(cutover_id)
            continue
        if state is None and deps.stepfunctions.stop(child_arn(saved["cutover_state_machine_arn"], cutover_id),
                                                     "CampaignAborted", reason):
            stopped_children.append(cutover_id)
    deps.store.record_campaign(campaign_id, "campaign_aborted", actor, reason=reason, aborted=aborted,
                               stopped_before_preflight=stopped_children, execution_stopped=stopped)
    _notify(deps, campaign_id, "aborted", reason=reason, actor=actor, rolled_back=aborted)
    return {"campaign": campaign_id, "aborted": True, "rolled_back": aborted, "stopped": stopped_children}


# the state machine's call -----------------------------------------------------------------------
STEPS = {
    "begin": lambda e, d: begin(e["campaign"], e["execution_arn"], e["cutover_state_machine_arn"], d),
    "wave_start": lambda e, d: wave_start(e["campaign_id"], int(e["wave"]), d),
    "before_cutover": lambda e, d: before_cutover(e["campaign_id"], e["cutover_id"], d),
    "after_cutover": lambda e, d: after_cutover(e["campaign_id"], e["cutover_id"], e.get("child_error"), d),
    "wave_end": lambda e, d: wave_end(e["campaign_id"], int(e["wave"]), e.get("results") or [], d),
    "hold": lambda e, d: hold(e["campaign_id"], int(e["wave"]), e["token"], d),
    "end": lambda e, d: end(e["campaign_id"], e.get("error"), d),
}


def run(event: Any, deps: Deps) -> dict[str, Any]:
    """One step of the campaign's state machine: ``{"step": NAME, ...}`` as the ASL passes it."""
    step = STEPS.get(event.get("step")) if isinstance(event, dict) else None
    if step is None:
        raise InputInvalid(f"expected {{'step': one of {', '.join(STEPS)}, ...}} from the campaign state machine")
    try:
        return step(event, deps)
    except (KeyError, TypeError, ValueError) as exc:
        raise InputInvalid(f"step {event['step']}: the state machine passed no valid {exc}") from exc

"""The safety invariants of ``../shared/DESIGN.md``, checked on the world a rehearsal left behind.

``check(world, described)`` runs once the world has settled (late events delivered, Lambda's
asynchronous retries done, injected outages over) and returns one line per violation, each
starting with the invariant's name (``INVARIANTS``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import boto3

from cutover import records as rr
from cutover.adapters.store import Store

if TYPE_CHECKING:
    from .rehearsal import World

INVARIANTS = {
    "not-succeeded-on-heroku": "an execution that did not succeed leaves every name serving only Heroku",
    "succeeded-on-aws": "an execution that succeeded leaves every name on AWS",
    "locks-released": "every lock is released (and every execution has ended)",
    "one-entry-per-change": "one ledger entry and one notification per state change",
    "rollback-has-reason": "every rollback is recorded with its reason",
    "never-zero-zero": "the control plane never writes every weight of a name at 0",
    "refused-changes-nothing": "a plan refused at preflight changes nothing (one live cutover per name)",
    "rollback-not-undone": "no step undoes a rollback",
    "watches-ended": "once its execution ended, a cutover watches no alarm and is no longer listed live",
    "health-checks-cleaned": "once its execution ended (rolled back, or succeeded and committed), a cutover leaves "
                             "no health check (none that is not recorded as left)",
}
NOTIFIED = {"started": "started", "shifted": "promoted", "succeeded": "succeeded"}


def _serving(records: list[dict[str, Any]]) -> str:
    """Where a name's answers go: heroku, aws, both, or nowhere."""
    pair = {r.get("SetIdentifier"): r for r in records if r.get("SetIdentifier") in (rr.HEROKU_ID, rr.AWS_ID)}
    if len(pair) == 2:
        heroku, aws = pair[rr.HEROKU_ID]["Weight"], pair[rr.AWS_ID]["Weight"]
        if heroku == 0 and aws == 0:
            return "both"  # Route 53 answers every record equally
        return "heroku" if aws == 0 else "aws" if heroku == 0 else "both"
    simple = [r for r in records if "SetIdentifier" not in r and r["Type"] == "CNAME"]
    if len(simple) == 1 and not pair:
        return "heroku" if rr.bare(simple[0]["ResourceRecords"][0]["Value"]).endswith(".herokudns.com") else "aws"
    return "nowhere" if not records else "both"


def check(world: World, described: dict[str, Any]) -> list[str]:
    engine = world.engine
    assert engine.stack is not None
    store = Store(engine.stack.table_name)
    sfn = boto3.client("stepfunctions")
    listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=world.zone_id)["ResourceRecordSets"]
    serving = {name: _serving([r for r in listed if rr.bare(r["Name"]) == name]) for name in world.names}
    found: list[str] = []
    status = sfn.describe_execution(executionArn=world.execution_arn)["status"]

    if status == "RUNNING":
        found.append("locks-released: the execution is still running after the rehearsal's time limit")
    elif status != "SUCCEEDED":
        found += [f"not-succeeded-on-heroku: execution {status}, {name} serves {where}"
                  for name, where in serving.items() if where != "heroku"]
    else:
        found += [f"succeeded-on-aws: execution SUCCEEDED, {name} serves {where}"
                  for name, where in serving.items() if where != "aws"]
    for name in world.names:
        holder = store.lock_holder(name)
        if holder == world.cutover_id or holder in world.raced:
            found.append(f"locks-released: {name} still locked by {holder}")

    ledger = store.ledger(world.cutover_id)
    counts = Counter((e["event"], e.get("stage")) for e in ledger if not e.get("repeated"))
    for (event, stage), n in counts.items():
        if event in ("started", "converted", "succeeded", "rolled_back", "shifted") and n > 1:
            found.append(f"one-entry-per-change: {n} ledger entries '{event}'" + (f" for stage {stage}" if stage else ""))
    notes = [m for m in world.notifications() if m.get("cutover") == world.cutover_id]
    sent = Counter((m.get("event"), m.get("stage")) for m in notes)
    for (event, stage), n in sent.items():
        if event in ("started", "promoted", "succeeded", "rolled_back") and n > 1:
            found.append(f"one-entry-per-change: {n} notifications '{event}'" + (f" for stage {stage}" if stage else ""))
    for (event, stage) in counts:
        wanted = NOTIFIED.get(event) or ("rolled_back" if event == "rolled_back" else None)
        if wanted and not sent.get((wanted, stage if event == "shifted" else None)):
            found.append(f"one-entry-per-change: '{event}'" + (f" (stage {stage})" if stage else "") + " recorded, but nobody was notified")

    product = [(cid, origin, engine.route53.changes[cid][1]) for cid, origin in engine.route53.origins.items() if origin[0]]
    mine = [(cid, origin, changes) for cid, origin, changes in product if origin[1].startswith(f"cutover {world.cutover_id}:")]
    rollbacks = [cid for cid, origin, _ in mine if origin[1].endswith(": rollback")]
    if rollbacks and not any(e["event"] == "rolled_back" and e.get("reason") for e in ledger):
        found.append(f"rollback-has-reason: {len(rollbacks)} rollback change(s) sent, no rollback recorded with a reason")
    state = store.state(world.cutover_id) or {}
    if state.get("status") == "ROLLED_BACK" and not state.get("rollback_reason"):
        found.append("rollback-has-reason: the cutover is ROLLED_BACK without a reason")

    for cid, origin, changes in product:
        written: dict[str, list[int]] = {}
        for change in changes:
            record = change["ResourceRecordSet"]
            if change["Action"] != "DELETE" and "Weight" in record:
                written.setdefault(rr.bare(record["Name"]), []).append(record["Weight"])
        for name, weights in written.items():
            if len(weights) > 1 and not any(weights):
                found.append(f"never-zero-zero: {origin[0]} wrote every weight of {name} at 0 (change {cid})")

    if described.get("error") == "PreflightFailed" and mine:
        found.append(f"refused-changes-nothing: preflight refused the plan, yet {len(mine)} change(s) were sent")
    for other in sfn.list_executions(stateMachineArn=engine.stack.state_machine_arn)["executions"]:
        if other["name"] not in world.raced:
            continue
        theirs = [cid for cid, origin, _ in product if origin[1].startswith(f"cutover {other['name']}:")]
        ended = sfn.describe_execution(executionArn=other["executionArn"])
        if theirs or ended["status"] == "SUCCEEDED":
            found.append(f"refused-changes-nothing: a second cutover of the same names ran ({ended['status']}, "
                         f"{len(theirs)} change(s))")

    if status != "RUNNING":
        alarms = (state.get("plan") or {}).get("alarms") or world.plan.get("alarms", [])
        leaked = [alarm for alarm in alarms if store.watching(world.cutover_id, alarm)]
        if leaked:
            found.append(f"watches-ended: execution {status}, the cutover still watches {', '.join(leaked)}")
        if any(item["cutover_id"] == world.cutover_id for item in store.live()):
            found.append(f"watches-ended: execution {status}, the cutover is still listed live")

    if status != "RUNNING":
        found += _health_checks(world, status, listed, ledger)

    if rollbacks:
        first = min(rollbacks)
        for cid, origin, changes in mine:
            if cid > first and any(c["Action"] != "DELETE" and c["ResourceRecordSet"].get("SetIdentifier") == rr.AWS_ID
                                   and c["ResourceRecordSet"].get("Weight", 0) > 0 for c in changes):
                found.append(f"rollback-not-undone: {origin[0]} sent AWS weight > 0 after the rollback (change {cid})")
    return found


def _health_checks(world: World, status: str, listed: list[dict[str, Any]], ledger: list[dict[str, Any]]) -> list[str]:
    """Whatever the end (rolled back, or succeeded and committed), no health check is left but
    one recorded as left (its deletion failed and an operator was told)."""
    checks = world.engine.health_checks
    created = {hc for e in ledger if e["event"] == "health_checks_created" for hc in e["health_checks"].values()}
    recorded_left = {v["health_check_id"] for e in ledger if e["event"] == "health_check_left"
                     for v in e["health_checks"].values()}
    live = sorted(hc for hc in created if not checks.checks[hc].deleted and hc not in recorded_left)
    return [f"health-checks-cleaned: execution {status}, health check {hc} is still there, not recorded as left"
            for hc in live]

"""What a cutover will send to Route 53, computed before it starts: the plan's dry run.

The state machine's steps build their batches with the same functions (``starting_pairs``,
``lowered_ttls`` and ``cutover.records``), so the dry run shows the batches a cutover really
sends, in order, with the earliest time each can go out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import records as rr
from .errors import PlanInvalid, RecordsNotReady
from .plan import Plan

# What Heroku gives a custom domain to point at (the legacy SSL endpoint name included).
HEROKU_DNS_SUFFIXES = (".herokudns.com", ".herokussl.com")
HEALTH_CHECK_MADE_AT_START = "(the health check the cutover creates)"


def _classify(name: str, live: list[rr.Record], spec_heroku: str | None) -> tuple[str, rr.Record | None, rr.Pair | None]:
    """What the live records of ``name`` are: a simple CNAME to convert, or this tool's pair.

    Raises ``RecordsNotReady`` naming the problem and the way out for anything else.
    """
    if not live:
        raise RecordsNotReady(
            f"{name} has no record in the zone: create it as a CNAME to your Heroku DNS target first"
        )
    ids = {r.get("SetIdentifier") for r in live}
    if len(live) == 1 and live[0]["Type"] == "CNAME" and not rr.routed(live[0]):
        target = live[0]["ResourceRecords"][0]["Value"]
        if target.endswith(".herokuapp.com"):
            raise RecordsNotReady(
                f"{name} points at {target}, a *.herokuapp.com name that breaks Heroku's certificates: "
                "add the domain to Heroku (heroku domains:add) and point the CNAME at its .herokudns.com target"
            )
        if spec_heroku and spec_heroku != target:
            raise PlanInvalid(
                [("heroku.target", f"is {spec_heroku} but {name} points at {target} today; fix the plan or leave the field out")]
            )
        if not spec_heroku and not target.endswith(HEROKU_DNS_SUFFIXES):
            raise RecordsNotReady(
                f"{name} points at {target}, which is not a Heroku DNS target (*.herokudns.com): it may already "
                "be on AWS. If it really is your Heroku target, name it in the plan as heroku.target"
            )
        return "simple", live[0], None
    if ids == {rr.HEROKU_ID, rr.AWS_ID} and len(live) == 2 and all(r["Type"] == "CNAME" for r in live):
        by_id = {r["SetIdentifier"]: r for r in live}
        heroku, aws = by_id[rr.HEROKU_ID], by_id[rr.AWS_ID]
        if aws["Weight"] != 0:
            raise RecordsNotReady(
                f"{name} already sends {aws['Weight']} weight to AWS: a cutover may be under way, or an "
                "earlier one did not end; finish it or roll it back first"
            )
        target = heroku["ResourceRecords"][0]["Value"]
        if spec_heroku and spec_heroku != target:
            raise PlanInvalid(
                [("heroku.target", f"is {spec_heroku} but {name} points at {target} today; fix the plan or leave the field out")]
            )
        pair = rr.Pair(name, target, aws["ResourceRecords"][0]["Value"], heroku["TTL"], heroku["Weight"], 0,
                       aws.get("HealthCheckId"))
        return "pair", None, pair
    kinds = ", ".join(sorted(f"{r['Type']}{' weighted ' + str(r.get('SetIdentifier')) if 'Weight' in r else ''}" for r in live))
    raise RecordsNotReady(
        f"{name} has records this tool does not cut over ({kinds}): it needs one simple CNAME to the Heroku "
        "DNS target (an A or alias record at this name means the traffic is not on Heroku by DNS)"
    )


def starting_pairs(plan: Plan, live: dict[str, list[rr.Record]],
                   health_checks: dict[str, str] | None = None) -> tuple[list[rr.Change], list[rr.Pair]]:
    """The batch that puts every name on its weighted pair at Heroku 100 / AWS 0, and the pairs.

    A simple CNAME is converted (DELETE it + CREATE the pair, one batch); a pair this tool left
    at AWS 0 is reused, swapped only if its targets, weights or health check differ from the
    plan's. ``health_checks``: each name's health check id, attached to its AWS record.
    """
    health_checks = health_checks or {}
    changes: list[rr.Change] = []
    pairs: list[rr.Pair] = []
    for spec in plan.records:
        kind, original, existing = _classify(spec.name, live.get(spec.name, []), spec.heroku_target)
        if kind == "simple":
            assert original is not None
            target = original["ResourceRecords"][0]["Value"]
            pair = rr.Pair(spec.name, target, spec.aws_target, original["TTL"], 100, 0, health_checks.get(spec.name))
            changes += rr.convert_changes(original, pair)
        else:
            assert existing is not None
            pair = rr.Pair(spec.name, existing.heroku_target, spec.aws_target, existing.ttl, 100, 0,
                           health_checks.get(spec.name))
            if pair != existing:
                changes += rr.swap_changes([existing], [pair])
        pairs.append(pair)
    return changes, pairs


def lowered_ttls(pairs: list[rr.Pair], plan: Plan) -> dict[str, int]:
    """The TTL of each pair during the cutover: the plan's, never higher than the original."""
    return {p.name: min(p.ttl, plan.ttl_during) for p in pairs}


@dataclass(frozen=True)
class Step:
    what: str
    earliest_at: int  # seconds after the start
    changes: tuple[rr.Change, ...]
    aws_percent: int


def dry_run(plan: Plan, live: dict[str, list[rr.Record]], insync_seconds: int = 60) -> dict[str, Any]:
    """Every batch the cutover will send, in order, with the earliest time each can go out, the
    earliest finish, and the worst-case exposure with between-stage checks alone (a breach right
    after a shift, caught when that stage is judged, its bake and metric_delay after the shift: AWS percent x seconds to Heroku INSYNC).
    """
    steps: list[Step] = []
    at = 0
    # the health checks are made when the cutover starts: their ids are not known before
    made_at_start = {} if plan.health_check.skip else {n: HEALTH_CHECK_MADE_AT_START for n in plan.names}
    changes, pairs = starting_pairs(plan, live, made_at_start)
    original_ttls = {p.name: p.ttl for p in pairs}
    if changes:
        steps.append(Step("convert to weighted pair Heroku 100 / AWS 0", at, tuple(changes), 0))
        at += insync_seconds
    lowered_changes, lowered = rr.ttl_changes(pairs, lowered_ttls(pairs, plan))
    if lowered != pairs:
        steps.append(Step(f"lower TTL to {plan.ttl_during}s", at, tuple(lowered_changes), 0))
        at += insync_seconds
    at += max(original_ttls.values())  # resolvers may hold answers with the old TTL until then
    current = lowered
    worst = (0, 0)
    for index, stage in enumerate(plan.stages):
        shift, current = rr.shift_changes(current, stage.weight)
        steps.append(Step(f"stage {index + 1}: AWS {stage.weight}%, bake {stage.bake}s", at, tuple(shift), stage.weight))
        at += insync_seconds + stage.bake + plan.metric_delay
        exposure = stage.weight * (stage.bake + plan.metric_delay + insync_seconds)
        worst = max(worst, (exposure, index + 1))
    restore, restored = rr.ttl_changes(current, original_ttls)
    if restored != current:
        steps.append(Step("restore the original TTL", at, tuple(restore), 100))
        at += insync_seconds
    at += plan.watch  # watched at 100% (alarms, listener and health check armed), then committed
    commit = tuple(c for p in restored for c in rr.commit_changes(p, original_ttls[p.name]))
    steps.append(Step("commit: each name a simple CNAME to AWS, the health check deleted", at, commit, 100))
    at += insync_seconds
    rollback, _ = rr.rollback_changes(current, original_ttls)
    return {
        "steps": steps,
        "rollback": tuple(rollback),
        "earliest_finish_seconds": at,
        "worst_case_exposure": {"percent_seconds": worst[0], "stage": worst[1]},
        "insync_seconds": insync_seconds,
    }

"""The chaos campaign's instrument: faults from the catalogue, invariants that can fail, replay."""

from __future__ import annotations

import json

import boto3
import pytest

from cutover.adapters.store import Store
from cutover_local import chaos, invariants
from cutover_local.faults import draw
from cutover_local.rehearsal import rehearse
from cutover_local.scenarios import DEFAULT_PLAN, Scenario

SHORT = {**DEFAULT_PLAN, "stages": [{"weight": 10, "bake": "3m"}, {"weight": 50, "bake": "3m"}, {"weight": 100, "bake": "3m"}],
         "watch": 0}  # committed as it succeeds


def short_run(faults=()):
    result, _ = rehearse(Scenario("short", "", plan=SHORT), say=lambda line: None, faults=faults,
                         inspect=invariants.check, original_ttl=300)
    return result


@pytest.mark.e2e  # a whole rehearsal
def test_a_cutover_without_faults_breaks_no_invariant():
    result = short_run()
    assert result["status"] == "SUCCEEDED" and result["violations"] == []


class EditAfterTheEnd:
    """Someone points the committed CNAME back at Heroku long after the cutover ended (not a
    catalogue fault: the chaos campaign leaves names alone once the cutover released them)."""

    kind = "edit-after-the-end"

    def install(self, world):
        def edit():
            listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=world.zone_id)["ResourceRecordSets"]
            simple = [r for r in listed if r["Type"] == "CNAME" and not r.get("SetIdentifier")]
            boto3.client("route53").change_resource_record_sets(HostedZoneId=world.zone_id, ChangeBatch={"Changes": [
                {"Action": "UPSERT", "ResourceRecordSet": {**r, "ResourceRecords": [{"Value": "x.herokudns.com"}]}}
                for r in simple]})

        world.engine.clock.call_at(2000, edit)


@pytest.mark.e2e  # a whole rehearsal
def test_the_checker_sees_a_name_that_no_longer_serves_aws_after_success():
    result = short_run([EditAfterTheEnd()])  # the cutover ends at about 1,750 s
    assert result["status"] == "SUCCEEDED"
    assert any(v.startswith("succeeded-on-aws:") and "serves heroku" in v for v in result["violations"])


@pytest.mark.e2e  # whole rehearsals
def test_a_chaos_run_is_fully_determined_by_its_seed():
    first, second = chaos.run(20), chaos.run(20)
    assert first["faults"] == second["faults"] and first["faults"]
    assert (first["status"], first["violations"]) == (second["status"], second["violations"])


def test_the_draw_uses_the_catalogue_and_the_seed():
    import random

    mixes = [draw(random.Random(seed), 1800) for seed in range(50)]
    assert all(1 <= len(mix) <= 4 for mix in mixes)
    kinds = {fault.kind for mix in mixes for fault in mix}
    assert {"crash", "timeout", "lost-response", "hand-edit", "stop", "second-cutover"} <= kinds
    assert [f.kind for f in draw(random.Random(3), 1800)] == [f.kind for f in draw(random.Random(3), 1800)]


def test_the_summary_counts_runs_faults_and_invariants():
    runs = [{"seed": 1, "faults": ["crash"], "violations": []},
            {"seed": 2, "faults": ["crash", "stop"], "violations": ["locks-released: x", "locks-released: y"]},
            {"seed": 3, "faults": ["stop"], "violations": [], "error": "broken"}]
    summary = chaos.summarize(runs)
    assert summary["runs"] == 3 and summary["violations"] == 2 and summary["violating_seeds"] == [2]
    assert summary["by_invariant"]["locks-released"] == 1 and summary["faults"] == {"crash": 2, "stop": 2}
    assert summary["harness_errors"] == [{"seed": 3, "error": "broken"}]


@pytest.mark.e2e  # a whole rehearsal through the CLI
def test_rehearse_chaos_replays_a_run_with_its_violations(capsys):
    from cutover_cli.main import main as cli

    code = cli(["rehearse", "--chaos", "20", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert "violations" in result
    assert code == (1 if result["violations"] else {"SUCCEEDED": 0, "ROLLED_BACK": 3}.get(result["status"], 1))
    assert cli(["rehearse", "--chaos", "20", "--scenario", "healthy"]) == 2


class WatchAgainAfterTheEnd:
    """A stale writer puts one of the cutover's watches back after it ended."""

    kind = "watch-after-the-end"

    def install(self, world):
        def rewatch():
            Store(world.engine.stack.table_name).watch(world.cutover_id, [world.plan["alarms"][0]], world.execution_arn)

        world.engine.clock.call_at(2000, rewatch)


@pytest.mark.e2e  # a whole rehearsal
def test_the_checker_sees_a_watch_left_after_the_end():
    result = short_run([WatchAgainAfterTheEnd()])
    assert result["status"] == "SUCCEEDED"
    assert any(v.startswith("watches-ended:") and "shop-5xx-rate" in v for v in result["violations"])


def test_no_end_leaves_a_watch_behind_even_when_another_cutover_holds_the_names(engine):
    """The safety net leaves alone a cutover whose names another one holds now: it still ends its watches."""
    from tests.support import plan

    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="first")
    store = Store(engine.stack.table_name)
    store.acquire(["www.shop.example.com"], "second")
    store.watch("first", ["shop-5xx-rate"], described["executionArn"])  # as if it had been left behind
    store.set_status("first", "ROLLED_BACK")
    function = next(f.name for f in engine.stack.functions.values() if f.logical_id == "SafetyNetFunction")
    event = {"detail-type": "Step Functions Execution Status Change", "source": "aws.states",
             "detail": {"status": "FAILED", "name": "first", "executionArn": described["executionArn"]}}
    answer = boto3.client("lambda").invoke(FunctionName=function, Payload=json.dumps(event))
    outcome = json.loads(answer["Payload"].read())
    assert outcome["acted"] is False and "another cutover" in outcome["why"]
    assert not store.watching("first", "shop-5xx-rate")


CAMPAIGN_SEEDS = range(30)  # the first runs of `bench/chaos.py --seed 0`; the full campaign runs on its own


@pytest.mark.e2e  # a sweep of whole rehearsals
@pytest.mark.parametrize("seed", CAMPAIGN_SEEDS)
def test_a_seeded_chaos_run_breaks_no_invariant(seed):
    run = chaos.run(seed)
    assert run["faults"], "every run injects at least one fault"
    assert run["violations"] == [], f"replay: cutover rehearse --chaos {seed}"


@pytest.mark.e2e  # a whole rehearsal
def test_the_checker_sees_a_health_check_a_rollback_left_behind(monkeypatch):
    from cutover import steps

    monkeypatch.setattr(steps, "delete_health_checks", lambda *args, **kwargs: None)  # a rollback that forgets it
    from cutover_local.faults import AlarmFlap

    result = short_run([AlarmFlap(0, 420, 600)])  # an alarm in stage 1 (its shift is at about 360 s)
    assert result["status"] == "ROLLED_BACK"
    assert any(v.startswith("health-checks-cleaned: execution") and "is still there" in v for v in result["violations"])

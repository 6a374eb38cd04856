"""``cutover plan``: the dry run shows exactly the batches the state machine sends."""

from __future__ import annotations

import json

import boto3
import yaml

from cutover.adapters.route53 import Route53
from cutover.dryrun import HEALTH_CHECK_MADE_AT_START, dry_run
from cutover.plan import parse_plan
from cutover.records import to_route53
from cutover_cli.main import main
from cutover_local import seed
from cutover_local.traffic import LOAD_BALANCER
from tests.support import ALARMS, ALB, NAME, ZONE, plan


def write(tmp_path, raw) -> str:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_the_dry_run_lists_every_batch_with_its_earliest_time(world, tmp_path, capsys):
    assert main(["plan", write(tmp_path, plan(hosted_zone_id=world.zone_id)), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert [s["what"].split(":")[0] for s in result["steps"]] == [
        "convert to weighted pair Heroku 100 / AWS 0", "lower TTL to 60s", "stage 1", "stage 2", "stage 3", "restore the original TTL",
        "commit"]
    # each stage is judged its bake + metric_delay (240 s) after its change is INSYNC (60 s)
    assert [s["earliest_at"] for s in result["steps"]] == [0, 60, 3720, 4620, 6120, 8220, 8280]  # no watch
    assert result["earliest_finish_seconds"] == 8340
    assert result["worst_case_exposure"] == {"percent_seconds": 100 * (1800 + 240 + 60), "stage": 3}
    assert [c["Action"] for c in result["rollback"]] == ["UPSERT", "UPSERT"]
    assert world.route53.calls.get("ChangeResourceRecordSets", 0) == 0, "a dry run changes nothing"


def test_the_dry_run_shows_the_readiness_checks_the_cutover_makes_first(world, tmp_path, capsys):
    assert main(["plan", write(tmp_path, plan(hosted_zone_id=world.zone_id)), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ready"] is True and result["traffic_load_balancer"] == LOAD_BALANCER
    assert [(c["origin"], c["ok"]) for c in result["readiness"]] == [("aws", True), ("heroku", True), ("aws-health-check", True)]
    world.origins.aws.certificate = "wrong-name"
    assert main(["plan", write(tmp_path, plan(hosted_zone_id=world.zone_id))]) == 2
    captured = capsys.readouterr()
    assert f"FAIL aws              {NAME} via {ALB}: certificate: the certificate does not cover {NAME}" in captured.out
    assert captured.err.startswith("\ncutover start would be refused, nothing changed: readiness of www.shop.example.com")
    assert world.route53.calls.get("ChangeResourceRecordSets", 0) == 0


def test_the_dry_run_prints_a_readable_plan(world, tmp_path, capsys):
    assert main(["plan", write(tmp_path, plan(hosted_zone_id=world.zone_id))]) == 0
    out = capsys.readouterr().out
    assert "DELETE www.shop.example.com CNAME TTL 3600 -> tranquil-reef-1234.herokudns.com" in out
    assert "CREATE www.shop.example.com CNAME [cutover-aws] weight 10 TTL 60 -> shop-alb" in out
    assert "earliest finish: +2h19m" in out
    assert "CREATE www.shop.example.com CNAME TTL 3600 -> shop-alb" in out, "the commit's simple CNAME"


def test_the_dry_run_refuses_an_invalid_plan_or_the_apex(world, tmp_path, capsys):
    assert main(["plan", write(tmp_path, plan(hosted_zone_id=world.zone_id, stages=[{"weight": 50, "bake": "1m"}]))]) == 2
    assert "stages[0].weight" in capsys.readouterr().err
    assert main(["plan", write(tmp_path, plan(hosted_zone_id=world.zone_id, records=[ZONE]))]) == 2
    assert "zone apex" in capsys.readouterr().err


def test_the_dry_run_of_the_example_plan_matches_the_batches_the_state_machine_sends(engine):
    from cutover.plan import load_plan_text
    from tests.support import ROOT

    # without its 24-hour watch (a day of virtual time is a minute of wall time on the engine)
    raw = dict(load_plan_text((ROOT / "examples" / "plan.yaml").read_text()), hosted_zone_id=engine.zone_id, watch=0)
    seed.alarms([a for a in raw["alarms"] if a not in ALARMS])  # the example plan's third alarm
    live = Route53().records_of(engine.zone_id, [NAME])
    expected = [to_route53(step.changes) for step in dry_run(parse_plan(raw), live, 25)["steps"]]
    described = engine.run(raw, name="compared")
    assert described["status"] == "SUCCEEDED"
    sent = [batch for _, batch in engine.route53.changes.values()]
    # the dry run cannot know the id of the health check the cutover creates: it says so instead
    (made,) = engine.health_checks.checks
    expected = json.loads(json.dumps(expected).replace(json.dumps(HEALTH_CHECK_MADE_AT_START), json.dumps(made)))
    assert sent == expected
    assert boto3.client("route53").get_hosted_zone(Id=engine.zone_id)["HostedZone"]["Name"] == ZONE + "."


def test_the_dry_run_refuses_a_plan_whose_alarms_watch_no_load_balancer_as_start_would(world, tmp_path, capsys):
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="no-dimensions", Namespace="Custom", MetricName="Errors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    assert main(["plan", write(tmp_path, plan(hosted_zone_id=world.zone_id, alarms=["no-dimensions"]))]) == 2
    assert "traffic.load_balancer: none of the plan's alarms watches an application load balancer" in capsys.readouterr().err

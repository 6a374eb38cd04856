"""The real state machine (statemachines/cutover.asl.json) with the real handlers, on the local engine."""

from __future__ import annotations

import json

import boto3
import pytest

from cutover import records as rr
from cutover.adapters.store import Store
from cutover.plan import DEFAULT_METRIC_DELAY
from tests.support import ALARMS, ALB, NAME, plan, template


def weights(engine) -> dict[str, int]:
    listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"]
    return {r["SetIdentifier"]: r["Weight"] for r in listed if r["Name"].rstrip(".") == NAME and "SetIdentifier" in r}


def ttls(engine) -> set[int]:
    listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"]
    return {r["TTL"] for r in listed if r["Name"].rstrip(".") == NAME}


def store(engine) -> Store:
    return Store(engine.stack.table_name)


def at_virtual_second(engine, second: float, action) -> None:
    """Run ``action`` when the engine's clock reaches ``second`` (even inside a long Wait)."""
    engine.clock.call_at(second, action)


def brief_breach(engine, second: float, alarm: str = ALARMS[0], reason: str = "5xx rate 7%") -> None:
    """The alarm in ALARM at ``second`` and OK again 30 s later, between two runs of the reconciler
    (every 300 s from the start, and it reacts to an alarm in ALARM now): no event is delivered,
    so only the execution's own EvaluateAlarms sees it, in the alarm's history."""
    assert second % 300 < 270, "a reconciler run would see it"
    cw = boto3.client("cloudwatch")
    at_virtual_second(engine, second, lambda: cw.set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason=reason))
    at_virtual_second(engine, second + 30, lambda: cw.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="recovered"))


def assert_all_on_heroku_unless_succeeded(engine, described) -> None:
    if described["status"] != "SUCCEEDED":
        assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


def committed(engine) -> list[dict]:
    listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"]
    return [r for r in listed if r["Name"].rstrip(".") == NAME]


def test_a_healthy_cutover_ends_committed_on_aws_with_the_ttl_restored_and_the_lock_released(engine):
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="healthy")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    # committed (the plan's watch is 0): one simple CNAME to AWS at the original TTL, no health check left
    assert committed(engine) == [{"Name": f"{NAME}.", "Type": "CNAME", "TTL": 3600, "ResourceRecords": [{"Value": ALB}]}]
    assert all(c.deleted for c in engine.health_checks.checks.values())
    assert store(engine).lock_holder(NAME) is None
    # preflight + ttl: 3600 s wait + bakes 10 + 20 + 30 minutes, plus the INSYNC polls
    assert engine.clock.elapsed >= 3600 + 600 + 1200 + 1800
    output = json.loads(described["output"])
    assert output["cutover"]["status"] == "SUCCEEDED"


@pytest.mark.parametrize("stage", [1, 2, 3])
def test_a_breach_at_each_stage_rolls_back_to_heroku_with_the_reason_recorded(engine, stage):
    # stage n is baking from about 3600 + the earlier bakes, each judged metric_delay after it (+ polls)
    starts = {1: 3700, 2: 3700 + 600 + DEFAULT_METRIC_DELAY + 60, 3: 3700 + 600 + 1200 + 2 * DEFAULT_METRIC_DELAY + 120}
    brief_breach(engine, starts[stage] + 120)
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name=f"breach-{stage}")
    assert described["status"] == "FAILED"
    assert described["error"] == "CutoverRolledBack"
    assert "AlarmBreached" in described["cause"] and f"stage {stage}" in described["cause"]
    assert_all_on_heroku_unless_succeeded(engine, described)
    assert ttls(engine) == {3600}
    rolled = [e for e in store(engine).ledger(f"breach-{stage}") if e["event"] == "rolled_back"]
    assert len(rolled) == 1 and ALARMS[0] in rolled[0]["reason"]
    assert store(engine).lock_holder(NAME) is None


def test_a_breach_that_recovers_inside_the_bake_still_fails_the_stage(engine):
    brief_breach(engine, 3910, ALARMS[1], "p99 2.4s")
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="recovered")
    assert described["status"] == "FAILED" and "recovered" in described["cause"]
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


TASKS = ["LowerTtlFunction", "ShiftFunction", "CheckChangeFunction", "EvaluateAlarmsFunction", "RestoreTtlFunction", "FinalizeFunction"]


class InjectedFault(Exception):
    pass


@pytest.mark.parametrize("function", TASKS)
def test_a_failure_of_each_lambda_task_ends_with_all_traffic_on_heroku(engine, function):
    def fault(event):
        # CheckChange fails for the cutover, not for the rollback's own INSYNC poll: that one
        # retries for a day (tests/unit/test_asl.py), which says nothing more here.
        if (event.get("cutover") or {}).get("after_change") != "rolled_back":
            raise InjectedFault(f"{function} failed")

    engine.faults[function] = fault
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name=f"fault-{function}")
    assert described["status"] == "FAILED"
    assert described["error"] == "CutoverRolledBack"
    assert "InjectedFault" in described["cause"]
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert store(engine).lock_holder(NAME) is None


def test_a_failing_preflight_changes_nothing(engine):
    before = boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"]

    def fault(event):
        raise InjectedFault("preflight broken")

    engine.faults["PreflightFunction"] = fault
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="preflight-fault")
    assert (described["status"], described["error"]) == ("FAILED", "InjectedFault")
    assert boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"] == before
    assert store(engine).lock_holder(NAME) is None


def test_a_rollback_that_fails_transiently_is_retried_and_ends_on_heroku(engine):
    from cutover_local.faults import LambdaServiceException

    failures = []

    def once(event):
        if not failures:
            failures.append(1)
            raise LambdaServiceException("Rollback unavailable")

    engine.faults["RollbackFunction"] = once
    brief_breach(engine, 3800)
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="rollback-retried")
    assert (described["status"], described["error"]) == ("FAILED", "CutoverRolledBack")
    assert failures == [1]
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


def test_a_transient_lambda_fault_is_retried_and_the_cutover_completes(engine):
    from cutover.errors import Route53Busy

    calls = []

    def once(event):
        calls.append(1)
        if len(calls) == 1:
            raise Route53Busy("Throttling")

    engine.faults["ShiftFunction"] = once
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="transient")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert len(calls) == 4  # three shifts, one of them retried


def test_an_invalid_plan_fails_in_preflight_and_changes_nothing(engine):
    before = boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"]
    described = engine.run(plan(hosted_zone_id=engine.zone_id, stages=[{"weight": 50, "bake": "1m"}]), name="invalid")
    assert described["status"] == "FAILED"
    assert described["error"] == "PlanInvalid"
    assert "stages[0].weight" in described["cause"]
    assert boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"] == before
    assert engine.route53.calls.get("ChangeResourceRecordSets", 0) == 0


def test_an_out_of_band_edit_makes_the_next_shift_fail_its_swap_and_roll_back(engine):
    r53 = boto3.client("route53")

    def edit():
        live = [r for r in r53.list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"] if r.get("SetIdentifier") == rr.AWS_ID][0]
        r53.change_resource_record_sets(HostedZoneId=engine.zone_id, ChangeBatch={"Changes": [
            {"Action": "UPSERT", "ResourceRecordSet": {**live, "Weight": 30}}]})

    at_virtual_second(engine, 3900, edit)  # during the first bake
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="edited")
    assert described["status"] == "FAILED"
    assert "StaleRecords" in described["cause"]
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


def test_every_state_change_notifies_once(engine):
    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="watch")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=engine.stack.topic_arn, Protocol="sqs", Endpoint=arn)
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="notified")
    assert described["status"] == "SUCCEEDED"
    events = []
    while True:
        got = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        events += [json.loads(json.loads(m["Body"])["Message"])["event"] for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    assert sorted(events) == sorted(["started", "promoted", "promoted", "promoted", "succeeded"])


def test_the_iam_check_of_the_engine_fixture_catches_a_missing_permission(engine):
    """Every engine test ends by checking each function's calls against its policy (conftest)."""
    from tests.integration.conftest import allowed_actions, assert_calls_allowed_by_iam

    engine.run(plan(hosted_zone_id=engine.zone_id), name="iam")
    assert "dynamodb:UpdateItem" in engine.api_calls["LowerTtlFunction"]
    assert "dynamodb:UpdateItem" in allowed_actions(template(), "LowerTtlFunction")
    engine.api_calls["LowerTtlFunction"].add("route53:DeleteHostedZone")
    with pytest.raises(AssertionError, match="DeleteHostedZone"):
        assert_calls_allowed_by_iam(engine)
    engine.api_calls["LowerTtlFunction"].discard("route53:DeleteHostedZone")


def test_at_100_percent_the_cutover_is_watched_then_committed_and_a_breach_while_watched_rolls_back(engine):
    from cutover.adapters.store import Store

    described = engine.run(plan(hosted_zone_id=engine.zone_id, watch="30m"), name="watched")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    ledger = Store(engine.stack.table_name).ledger("watched")
    watching, succeeded = [e for e in ledger if e["event"] == "watching"], [e for e in ledger if e["event"] == "succeeded"]
    assert len(watching) == 1 and succeeded[0]["committed_by"] == "the end of the watch"
    assert [r.get("SetIdentifier") for r in committed(engine)] == [None], "committed at the end of the watch"



def test_an_alarm_in_alarm_while_the_cutover_is_watched_at_100_percent_rolls_it_back(engine):
    # about 8,000 s to reach 100% (the TTL wait, three bakes each judged metric_delay later): the
    # alarm goes to ALARM half an hour into the 1-hour watch and stays (no event reaches the
    # listener here: the reconciler's recheck of running cutovers acts)
    cw = boto3.client("cloudwatch")
    at_virtual_second(engine, 10_000, lambda: cw.set_alarm_state(AlarmName=ALARMS[0], StateValue="ALARM", StateReason="5xx"))
    described = engine.run(plan(hosted_zone_id=engine.zone_id, watch="1h"), name="watched")
    assert described["status"] == "FAILED" and "AlarmBreached" in described["cause"], described.get("cause")
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert all(c.deleted for c in engine.health_checks.checks.values())

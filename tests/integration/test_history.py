"""The execution history's size: the per-state costs against the engine's histories, and the
worst case of the longest plan the validator accepts against the budget."""

from __future__ import annotations

import boto3
import pytest

from cutover import history
from cutover.errors import PlanInvalid
from cutover.plan import MAX_STAGES, parse_plan
from cutover.steps import FAST_POLL_SECONDS
from cutover_local.faults import LambdaServiceException
from tests.integration.test_state_machine import at_virtual_second
from tests.support import plan


def events_of(arn: str) -> list[dict]:
    sf = boto3.client("stepfunctions")
    events, kwargs = [], {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sf.get_execution_history(**kwargs)
        events += page["events"]
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def longest(stages: int, promote: object = "manual") -> dict:
    weights = list(range(100 - (stages - 1) * 5, 101, 5))
    return plan(stages=[{"weight": w, "bake": "24h", "promote": promote} for w in weights], insufficient_data="wait")


@pytest.mark.parametrize("polls", [1, 2])
def test_the_model_counts_a_cutover_exactly_as_the_engine_writes_its_history(engine, polls):
    # a change is INSYNC after the polls-th poll, 10 s apart
    engine.route53.insync_after = FAST_POLL_SECONDS * polls - 5
    raw = plan(hosted_zone_id=engine.zone_id, stages=[
        {"weight": 10, "bake": "10m"}, {"weight": 50, "bake": "10m", "promote": {"at": "2026-11-25T00:00:00Z"}},
        {"weight": 100, "bake": "10m"}])
    described = engine.run(raw, name=f"counted-{polls}")
    assert described["status"] == "SUCCEEDED"
    assert len(events_of(described["executionArn"])) == history.path_events(parse_plan(raw), polls)


def test_each_retry_adds_three_events(engine):
    engine.route53.insync_after = 5
    raw = plan(hosted_zone_id=engine.zone_id)
    failed = []

    def once(event):
        if not failed:
            failed.append(1)
            raise LambdaServiceException("injected")

    engine.faults["ShiftFunction"] = once
    described = engine.run(raw, name="retried")
    assert described["status"] == "SUCCEEDED" and failed == [1]
    assert len(events_of(described["executionArn"])) == history.path_events(parse_plan(raw), 1) + history.RETRY


def test_insufficient_data_waits_are_counted_as_the_engine_writes_them(engine):
    engine.route53.insync_after = 5
    raw = plan(hosted_zone_id=engine.zone_id, stages=[{"weight": 10, "bake": "10m"}, {"weight": 100, "bake": "10m"}])
    cw = boto3.client("cloudwatch")
    # the first stage is judged at about 3,600 + 10 + 840 s: two more minutes without data, then data
    at_virtual_second(engine, 4000, lambda: cw.set_alarm_state(AlarmName="shop-p99-latency", StateValue="INSUFFICIENT_DATA", StateReason="no requests"))
    at_virtual_second(engine, 4560, lambda: cw.set_alarm_state(AlarmName="shop-p99-latency", StateValue="OK", StateReason="data"))
    described = engine.run(raw, name="waited")
    assert described["status"] == "SUCCEEDED"
    waits = sum(1 for e in events_of(described["executionArn"])
                if e["type"] == "WaitStateEntered" and e["stateEnteredEventDetails"]["name"] == "WaitForData")
    assert waits >= 1
    per_wait = history.TASK + history.CHOICE + history.WAIT  # EvaluateAlarms, Verdict, WaitForData
    assert len(events_of(described["executionArn"])) == history.path_events(parse_plan(raw), 1) + waits * per_wait


def test_the_longest_plan_the_validator_accepts_stays_below_the_budget():
    worst = history.worst_case(parse_plan(longest(MAX_STAGES)))
    assert worst < history.HISTORY_BUDGET < history.HISTORY_LIMIT
    # the bound is not vacuous: one stage fewer costs less, and the rollback's day is most of it
    assert history.worst_case(parse_plan(longest(MAX_STAGES - 1))) < worst
    assert history.RETRY * history.ROLLBACK_ATTEMPTS > worst / 3
    with pytest.raises(PlanInvalid, match="at most 10 stages"):
        parse_plan(longest(MAX_STAGES + 1))


def test_the_dry_run_states_the_worst_case_history(world, tmp_path, capsys):
    import json

    import yaml

    from cutover_cli.main import main

    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan(hosted_zone_id=world.zone_id)))
    assert main(["plan", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["history_events_worst_case"] == history.worst_case(parse_plan(plan()))


def test_the_watch_at_100_percent_is_counted_as_the_engine_writes_it(engine):
    engine.route53.insync_after = FAST_POLL_SECONDS - 5
    raw = plan(hosted_zone_id=engine.zone_id, watch="1h",
               stages=[{"weight": 10, "bake": "10m"}, {"weight": 100, "bake": "10m"}])
    described = engine.run(raw, name="watched")
    assert described["status"] == "SUCCEEDED"
    assert len(events_of(described["executionArn"])) == history.path_events(parse_plan(raw), 1)

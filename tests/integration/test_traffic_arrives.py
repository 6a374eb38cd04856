"""Traffic arrives, step by step: the evaluation of a stage counts the requests at the load
balancer the alarms watch (the test's users go where DNS sends them)."""

from __future__ import annotations

import boto3
import pytest

from cutover.errors import PlanInvalid, TrafficNotArriving
from cutover_local.traffic import LOAD_BALANCER
from tests.integration.driver import run_stage, settle, start, step, to_stage
from tests.support import NAME, plan


def test_each_stage_records_its_traffic_intended_and_observed_side_by_side(world):
    to_stage(world, 2)
    evaluated = [e for e in world.ledger("exec-1") if e["event"] == "evaluated"]
    (first, second) = [e["traffic"] for e in evaluated]
    assert (first["intended_percent"], second["intended_percent"]) == (10, 50)
    assert first["requests_per_minute"] == pytest.approx(120, rel=0.01)  # 10% of the users' 1,200 a minute
    assert second["expected_growth"] == 5 and second["observed_growth"] == pytest.approx(5, rel=0.01)
    promoted = [n for n in world.notifications() if n["event"] == "promoted"]
    assert promoted[1]["previous_stage_traffic"]["requests_per_minute"] == first["requests_per_minute"]


def test_a_stage_whose_requests_never_reach_the_watched_load_balancer_fails_naming_the_check_and_the_name(world):
    # the plan watches another load balancer than the one users reach: nothing arrives there
    raw = plan(hosted_zone_id=world.zone_id, traffic={"load_balancer": "app/staging-alb/0123456789abcdef"})
    state = step(world, "LowerTtl", settle(world, start(world, raw)))
    world.clock.advance(state["wait_seconds"])
    with pytest.raises(TrafficNotArriving, match=f"stage 1 at AWS 10%: traffic not arriving for {NAME}: the AWS load "
                                                 "balancer saw 0.0 requests a minute"):
        run_stage(world, state)
    (entry,) = [e for e in world.ledger("exec-1") if e["event"] == "evaluated"]
    assert entry["outcome"] == "FAIL" and entry["traffic"]["ok"] is False


def test_the_load_balancer_comes_from_the_alarms_and_a_plan_whose_alarms_watch_none_is_refused(world):
    assert start(world)["traffic"]["load_balancer"] == LOAD_BALANCER
    boto3.client("cloudwatch").put_metric_alarm(
        AlarmName="no-dimensions", Namespace="Custom", MetricName="Errors", Statistic="Sum", Period=60,
        EvaluationPeriods=1, Threshold=1.0, ComparisonOperator="GreaterThanThreshold")
    with pytest.raises(PlanInvalid, match="traffic.load_balancer: none of the plan's alarms watches an application load "
                                          "balancer.*or switch the check off with traffic.skip"):
        start(world, plan(hosted_zone_id=world.zone_id, alarms=["no-dimensions"]), name="exec-2")
    assert world.lock_holder() in (None, "exec-1")


def test_the_check_switched_off_with_a_reason_measures_nothing(world):
    state = to_stage(world, 1, raw=plan(hosted_zone_id=world.zone_id,
                                        traffic={"skip": "the AWS side is CloudFront, not a load balancer"}))
    assert state["traffic"] is None and state["verdict"] == "PASS"
    assert all("traffic" not in e for e in world.ledger("exec-1") if e["event"] == "evaluated")

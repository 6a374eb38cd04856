"""The health check's pure parts: the plan section, what observations mean, and how Route 53
chooses answers among health-checked weighted records (the engine's model of it)."""

from __future__ import annotations

import pytest

from cutover import healthcheck as hc
from cutover.errors import PlanInvalid
from cutover.plan import parse_plan
from cutover_local.health_checks import HealthCheck, answer_shares
from tests.support import plan


def test_defaults_follow_route53s_and_the_path_is_the_readiness_path_unless_given():
    parsed = parse_plan(plan(readiness={"path": "/up"}))
    assert (parsed.health_check.interval, parsed.health_check.failure_threshold) == (30, 3)
    assert parsed.health_check_path == "/up" and parsed.health_check.failure_seconds() == 90
    assert parse_plan(plan(health_check={"path": "/healthz"})).health_check_path == "/healthz"


@pytest.mark.parametrize(("section", "field", "words"), [
    ({"interval": 20}, "health_check.interval", "must be 10 or 30"),
    ({"failure_threshold": 0}, "health_check.failure_threshold", "from 1 to 10"),
    ({"failure_threshold": True}, "health_check.failure_threshold", "from 1 to 10"),
    ({"path": "healthz"}, "health_check.path", "starting with /"),
    ({"skip": "no"}, "health_check.skip", "a reason of at least 10 characters"),
    ({"intervall": 10}, "health_check.intervall", "unknown field"),
])
def test_a_bad_health_check_section_is_refused_naming_the_field(section, field, words):
    with pytest.raises(PlanInvalid) as refused:
        parse_plan(plan(health_check=section))
    assert any(f == field and words in reason for f, reason in refused.value.problems), refused.value.problems


def test_the_plan_round_trips_with_its_health_check_section():
    parsed = parse_plan(plan(health_check={"interval": 10, "failure_threshold": 2, "skip": "the ALB is internal only"}))
    assert parse_plan(parsed.to_dict()) == parsed


def test_the_caller_reference_is_one_per_cutover_and_name_and_fits_route53s_64_characters():
    a = hc.caller_reference("exec-" + "x" * 80, "www.shop.example.com")
    assert a == hc.caller_reference("exec-" + "x" * 80, "www.shop.example.com") and len(a) <= 64
    assert a != hc.caller_reference("exec-" + "x" * 80, "api.shop.example.com")
    assert a != hc.caller_reference("exec-2", "www.shop.example.com")


def report(status):
    return {"Region": "us-east-1", "IPAddress": "15.177.0.1", "StatusReport": {"Status": status}}


def test_observations_are_healthy_when_more_than_18_percent_of_checkers_report_success():
    ok, bad = "Success: HTTP Status Code 200, OK", "Failure: HTTP Status Code 503"
    assert hc.status([]) == (hc.PENDING, "no health checker has reported yet")
    assert hc.status([report(ok)] * 2 + [report(bad)] * 6)[0] == hc.HEALTHY  # 25%
    status, why = hc.status([report(ok)] + [report(bad)] * 7)  # 12.5%
    assert status == hc.UNHEALTHY and why == "1 of 8 checkers report healthy; " + bad


def test_a_checker_changes_its_view_only_after_the_failure_threshold_of_results_the_other_way():
    check = HealthCheck("hc-1", "ref", {"RequestInterval": 10, "FailureThreshold": 3}, 0)
    assert check.healthy(), "healthy until a checker has reported"
    for index in range(8):
        check.observe(index, True, "Success")
    for _ in range(2):
        for index in range(8):
            check.observe(index, False, "Failure")
    assert check.healthy(), "two failures in a row are not three"
    for index in range(8):
        check.observe(index, False, "Failure")
    assert not check.healthy()
    check.observe(0, True, "Success")
    assert not check.healthy(), "one checker's success is not enough"


def pair(heroku, aws, health_check="hc-1"):
    return [{"SetIdentifier": "cutover-heroku", "Weight": heroku},
            {"SetIdentifier": "cutover-aws", "Weight": aws, **({"HealthCheckId": health_check} if health_check else {})}]


@pytest.mark.parametrize(("records", "aws_healthy", "shares"), [
    (pair(90, 10), True, {"cutover-heroku": 0.9, "cutover-aws": 0.1}),
    (pair(90, 10), False, {"cutover-heroku": 1.0, "cutover-aws": 0.0}),
    # at AWS 100 / Heroku 0 an unhealthy AWS record falls back to the zero-weight Heroku record
    (pair(0, 100), False, {"cutover-heroku": 1.0, "cutover-aws": 0.0}),
    (pair(0, 100), True, {"cutover-heroku": 0.0, "cutover-aws": 1.0}),
    # a record without a health check is always healthy
    (pair(50, 50, None), False, {"cutover-heroku": 0.5, "cutover-aws": 0.5}),
    # every record unhealthy: answered as if all were healthy
    ([{"SetIdentifier": "a", "Weight": 1, "HealthCheckId": "x"}, {"SetIdentifier": "b", "Weight": 3, "HealthCheckId": "y"}],
     False, {"a": 0.25, "b": 0.75}),
    # every weight 0: all answered equally
    (pair(0, 0), True, {"cutover-heroku": 0.5, "cutover-aws": 0.5}),
])
def test_route53_chooses_answers_among_health_checked_weighted_records_by_its_rules(records, aws_healthy, shares):
    assert answer_shares(records, lambda _id: aws_healthy) == shares

"""AWS compared with Heroku: the plan's compare section, the verdict, and the queries behind it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cutover import compare
from cutover.compare import MIN_ANSWERED, Figures, Spec, judge, parse_spec
from cutover.errors import PlanInvalid
from cutover.plan import parse_plan
from cutover.probes import Spec as ProbeSpec
from tests.support import BASE_PLAN

NAME = "www.shop.example.com"
PROBES_ON = ProbeSpec()


def figures(p90=300.0, requests=300, errors=0, answered=None):
    return Figures(requests, errors, requests - errors if answered is None else answered, p90 / 3, p90, p90 * 1.5)


def test_defaults_compare_latency_at_1_5x_and_errors_at_1_point():
    spec, problems = parse_spec(None, PROBES_ON)
    assert problems == [] and spec == Spec(1.5, 1.0, 50.0, None)


@pytest.mark.parametrize(("raw", "field", "words"), [
    ({"latency_ratio": 1.0}, "compare.latency_ratio", "1.05 to 10"),
    ({"latency_ratio": "2x"}, "compare.latency_ratio", "got '2x'"),
    ({"error_rate_delta": 0}, "compare.error_rate_delta", "percent points"),
    ({"latency_margin_ms": -1}, "compare.latency_margin_ms", "milliseconds"),
    ({"latency_ratio": True}, "compare.latency_ratio", "got True"),
    ({"ratio": 2}, "compare.ratio", "unknown field"),
    ({"skip": "no"}, "compare.skip", "a reason of at least"),
    ("1.5", "compare", "must be a mapping"),
])
def test_every_bad_value_is_named(raw, field, words):
    _, problems = parse_spec(raw, PROBES_ON)
    assert any(f == field and words in reason for f, reason in problems), problems


def test_with_the_probes_off_there_is_nothing_to_compare():
    off = ProbeSpec(skip="origins answer only inside the VPC")
    spec, problems = parse_spec(None, off)
    assert problems == [] and spec.skip and "probes are off" in spec.skip
    _, problems = parse_spec({"latency_ratio": 2}, off)
    assert problems and "probe.skip" in problems[0][1]


def test_the_plan_carries_the_section_and_round_trips():
    plan = parse_plan({**BASE_PLAN, "compare": {"latency_ratio": 2, "error_rate_delta": 0.5}})
    assert plan.compare == Spec(2.0, 0.5, 50.0, None)
    assert parse_plan(plan.to_dict()) == plan
    skipped = parse_plan({**BASE_PLAN, "probe": {"skip": "origins answer only inside the VPC"}})
    assert skipped.compare.skip and parse_plan(skipped.to_dict()) == skipped
    with pytest.raises(PlanInvalid, match="compare.latency_ratio"):
        parse_plan({**BASE_PLAN, "compare": {"latency_ratio": 0.5}})


def test_aws_twice_as_slow_fails_and_the_reason_shows_both_origins():
    c = judge(Spec(), NAME, figures(p90=640.0), figures(p90=320.0))
    assert c.outcome == "fail" and c.latency_ratio == pytest.approx(2.0)
    assert "640 ms" in c.reason and "320 ms" in c.reason and "2.00×" in c.reason and NAME in c.reason


def test_a_ratio_over_the_limit_by_less_than_the_margin_passes():
    # 36 ms against 20 ms is 1.8x, but 16 ms is not a regression a user notices
    assert judge(Spec(), NAME, figures(p90=36.0), figures(p90=20.0)).outcome == "pass"
    assert judge(Spec(latency_margin_ms=10), NAME, figures(p90=36.0), figures(p90=20.0)).outcome == "fail"


def test_aws_faster_or_a_little_slower_passes():
    assert judge(Spec(), NAME, figures(p90=260.0), figures(p90=320.0)).outcome == "pass"
    assert judge(Spec(), NAME, figures(p90=460.0), figures(p90=320.0)).outcome == "pass"  # 1.44x


def test_too_few_probe_answers_is_not_a_verdict():
    few = figures(p90=900.0, requests=200, answered=MIN_ANSWERED - 1)
    c = judge(Spec(), NAME, few, figures())
    assert c.outcome == "pass" and c.latency_ratio is None, "errors judged, latency not"
    assert f"fewer than {MIN_ANSWERED} answered" in c.reason
    c = judge(Spec(), NAME, figures(requests=10), figures())
    assert c.outcome == "not_judged" and c.error_rate_delta is None


def test_errors_worse_by_more_than_the_delta_fail():
    # 3% against 0.5% over 400 requests: 12 errors against Heroku's 2
    c = judge(Spec(), NAME, figures(requests=400, errors=12), figures(requests=400, errors=2))
    assert c.outcome == "fail" and c.error_rate_delta == pytest.approx(2.5)
    assert "3.0%" in c.reason and "0.5%" in c.reason


def test_two_failed_probes_more_than_heroku_are_noise_not_a_difference():
    # 2 of 50 is 4 points more than Heroku's 0, but two requests are not evidence
    assert judge(Spec(), NAME, figures(requests=50, errors=2), figures(requests=50)).outcome == "pass"
    assert judge(Spec(), NAME, figures(requests=50, errors=3), figures(requests=50)).outcome == "fail"


def test_the_window_is_whole_minutes_covering_the_bake():
    start, end, period = compare.window(datetime(2026, 12, 1, 10, 0, 42, tzinfo=UTC),
                                        datetime(2026, 12, 1, 10, 10, 5, tzinfo=UTC))
    assert (start.minute, start.second, end.minute, end.second) == (0, 0, 11, 0)
    assert period == 660 and period % 60 == 0
    _, _, short = compare.window(datetime(2026, 12, 1, 10, 0, tzinfo=UTC), datetime(2026, 12, 1, 10, 0, tzinfo=UTC))
    assert short == 60


def test_queries_and_figures_agree_on_ids():
    names = [NAME, "api.shop.example.com"]
    queries = compare.queries(names, 600)
    assert len(queries) == len(names) * 2 * 6 and len({q["Id"] for q in queries}) == len(queries)
    assert all(q["MetricStat"]["Metric"]["Namespace"] == "Cutover/Probes" and q["MetricStat"]["Period"] == 600
               for q in queries)
    values = {}
    for q in queries:
        metric, stat = q["MetricStat"]["Metric"]["MetricName"], q["MetricStat"]["Stat"]
        origin = q["MetricStat"]["Metric"]["Dimensions"][1]["Value"]
        name = q["MetricStat"]["Metric"]["Dimensions"][0]["Value"]
        base = 2 if origin == "aws" else 1
        values[q["Id"]] = {("Requests", "Sum"): [200.0], ("Errors", "Sum"): [float(base)],
                           ("Latency", "p99"): [base * 300.0], ("Latency", "p90"): [base * 200.0],
                           ("Latency", "p50"): [base * 90.0],
                           ("Latency", "SampleCount"): [198.0 if name == NAME else 0.0]}[(metric, stat)]
    found = compare.figures(names, values)
    assert found[NAME]["aws"] == Figures(200, 2, 198, 180.0, 400.0, 600.0)
    assert found[NAME]["heroku"] == Figures(200, 1, 198, 90.0, 200.0, 300.0)
    verdicts = {c.name: c.outcome for c in compare.compare_all(Spec(), found)}
    assert verdicts == {NAME: "fail", "api.shop.example.com": "pass"}  # no answers counted: errors judged only

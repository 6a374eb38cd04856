"""Traffic arrives: the plan's section, the window measured, and the judgement."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cutover import arrival
from cutover.errors import PlanInvalid
from cutover.plan import parse_plan
from tests.support import plan

SPEC = arrival.Spec()


def test_the_first_stage_needs_the_minimum_rate_and_names_the_names_and_what_was_seen():
    assert arrival.judge(SPEC, 1, 10, 240, 8, None).ok
    missing = arrival.judge(SPEC, 1, 10, 0, 8, None, "www.shop.example.com")
    assert not missing.ok and missing.requests_per_minute == 0
    assert missing.reason.startswith("stage 1 at AWS 10%: traffic not arriving for www.shop.example.com: the AWS load "
                                     "balancer saw 0.0 requests a minute over 8 minute(s) at 10% (at least 1 expected)")


def test_a_later_stage_must_grow_with_the_weights_within_the_tolerance():
    assert arrival.judge(SPEC, 2, 50, 1200 * 10, 10, (10, 240)).ok  # x5 of x5
    grown = arrival.judge(SPEC, 2, 50, 610 * 10, 10, (10, 240))  # x2.54: just within half of x5
    assert grown.ok and (grown.expected_growth, grown.observed_growth) == (5, 2.54)
    flat = arrival.judge(SPEC, 2, 50, 300 * 10, 10, (10, 240))
    assert not flat.ok and "requests grew 1.25 times from 10% to 50% where the weights grew 5.00 times" in flat.reason
    strict = arrival.Spec(tolerance=0.1)
    assert not arrival.judge(strict, 2, 50, 1000 * 10, 10, (10, 240)).ok  # x4.2 < 4.5


def test_with_the_sites_total_rate_the_observed_share_is_judged_against_the_intended_one():
    spec = arrival.Spec(total_requests_per_minute=2400)
    ok = arrival.judge(spec, 1, 10, 230 * 8, 8, None)
    assert ok.ok and ok.observed_percent == 9.6
    low = arrival.judge(spec, 1, 10, 100 * 8, 8, None)  # 4.2% of the site where 10% was intended
    assert not low.ok and "AWS saw 4.2% of the site's 2400 requests a minute where 10% was intended" in low.reason


def test_the_window_starts_after_the_ttl_and_ends_where_the_visible_data_ends_in_whole_minutes():
    shifted = datetime(2026, 12, 1, 14, 0, 25, tzinfo=UTC)
    until = datetime(2026, 12, 1, 14, 14, 25, tzinfo=UTC)
    start, end = arrival.window(shifted, until, ttl=60, bake=600, metric_delay=240)
    # 14:00:25 + TTL + 60 s = 14:02:25: the first whole minute after it; the data is visible until 14:10:25
    assert (start.strftime("%H:%M:%S"), end.strftime("%H:%M:%S")) == ("14:03:00", "14:10:00")
    # a short bake: at most half of it is skipped, and at least a minute is measured
    start, end = arrival.window(shifted, shifted.replace(minute=2), ttl=300, bake=60, metric_delay=240)
    assert (end - start).total_seconds() == 60


@pytest.mark.parametrize(("section", "field", "words"), [
    ({"load_balancer": "shop-alb"}, "traffic.load_balancer", "like app/shop-alb/0123456789abcdef"),
    ({"min_requests_per_minute": 0}, "traffic.min_requests_per_minute", "above 0"),
    ({"tolerance": 1.5}, "traffic.tolerance", "from 0 to 0.9"),
    ({"total_requests_per_minute": "lots"}, "traffic.total_requests_per_minute", "at least 1"),
    ({"skip": True}, "traffic.skip", "a reason of at least 10 characters"),
    ({"tolerence": 0.2}, "traffic.tolerence", "unknown field"),
])
def test_a_bad_traffic_section_is_refused_naming_the_field(section, field, words):
    with pytest.raises(PlanInvalid) as refused:
        parse_plan(plan(traffic=section))
    assert any(f == field and words in reason for f, reason in refused.value.problems), refused.value.problems


def test_the_plan_round_trips_with_its_traffic_section():
    parsed = parse_plan(plan(traffic={"load_balancer": "app/shop-alb/0123456789abcdef", "tolerance": 0.3,
                                      "total_requests_per_minute": 2400}))
    assert parse_plan(parsed.to_dict()) == parsed and parsed.traffic.total_requests_per_minute == 2400

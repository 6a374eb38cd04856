"""The Route 53 health check in whole rehearsals: Route 53 itself stops answering with an AWS
target that fails, before any alarm and even with every control-plane function down."""

from __future__ import annotations

import pytest

from cutover_local.rehearsal import rehearse
from cutover_local.scenarios import BUILT_IN, DEFAULT_PLAN, LOAD_BALANCER_ALARMS

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e

# the plan's defaults: a checker every 30 s, 3 failures in a row
FAILURE_SECONDS = 30 * 3


# the health check against the load balancer alarms alone (the probes' alarms roll back before
# the health check's failure time: the last test)
LOAD_BALANCER_ONLY = {**DEFAULT_PLAN, "alarms": list(LOAD_BALANCER_ALARMS)}


def quiet(_: str) -> None:
    return None


@pytest.fixture(scope="module")
def control_plane_down():
    return rehearse(BUILT_IN["control-plane-down"], say=quiet)


def test_with_the_control_plane_down_route53_alone_sends_every_answer_to_heroku_within_the_failure_time(control_plane_down):
    result, timeline = control_plane_down
    health = result["detection"]["health_check"]
    # within the failure time, plus one interval at most for the checkers' stagger
    assert 0 < health["seconds_to_dns_heroku_only"] <= FAILURE_SECONDS + 30, health
    broke, unhealthy = health["aws_broke_at"], health["unhealthy_at"]
    # no function of the control plane acted in between: the rollback came long after
    assert timeline.rollback_submitted_at > unhealthy + 20 * 60
    # what DNS answered: AWS's share of the answers is 0 from the health check on, until the rollback
    after = [s for s in timeline.samples if unhealthy + 60 <= s.t <= timeline.rollback_submitted_at]
    assert after and all(s.dns_aws_percent == 0 for s in after)
    # and users follow within the TTL (60 s), but for the few clients that ignore TTLs
    later = [s for s in after if s.t >= unhealthy + 60 + 60]
    assert later and all(s.client_aws_share < 0.06 for s in later)
    before = [s for s in timeline.samples if timeline.stage_started[1] + 60 <= s.t <= broke]
    assert before and all(s.dns_aws_percent == pytest.approx(10) for s in before), "10% went to AWS while it was healthy"


def test_with_no_healthy_target_the_health_check_drains_aws_before_the_alarms_roll_back():
    result, timeline = rehearse(BUILT_IN["alb-no-healthy-targets"], plan=LOAD_BALANCER_ONLY, say=quiet)
    health = result["detection"]["health_check"]
    assert result["status"] == "ROLLED_BACK" and health["seconds_to_dns_heroku_only"] <= FAILURE_SECONDS + 30
    assert health["unhealthy_at"] < timeline.rollback_submitted_at
    assert health["left"] == 0, "the rollback deleted the health check"


def test_aws_breaking_during_the_watch_at_100_percent_is_drained_by_route53_then_rolled_back():
    """At AWS 100 / Heroku 0 the Heroku record has weight 0: Route 53 falls back to it once the
    AWS record's health check is unhealthy, by itself; the watch's alarms then roll back."""
    from cutover_local.scenarios import Scenario
    from cutover_local.traffic import Effect

    # stage 3's bake, metric_delay and the TTL restore take 35 minutes: AWS breaks a minute into
    # the rehearsal's 10-minute watch
    breaks = Scenario("late-regression", "", plan=LOAD_BALANCER_ONLY,
                      traffic=(Effect("aws", stage=3, after=2160, unhealthy=True),))
    result, timeline = rehearse(breaks, say=quiet)
    watched_at = next(t for t, line in timeline.events if line.startswith("at AWS 100%, watched until"))
    health = result["detection"]["health_check"]
    assert health["aws_broke_at"] > watched_at, "AWS broke during the watch"
    assert 0 < health["seconds_to_dns_heroku_only"] <= FAILURE_SECONDS + 30
    assert result["status"] == "ROLLED_BACK" and result["final_weights"] == {"heroku": 100, "aws": 0}
    assert result["stages_completed"] == 3


def test_with_the_probes_alarm_an_origin_without_healthy_targets_is_rolled_back_before_the_health_check_fails():
    result, timeline = rehearse(BUILT_IN["alb-no-healthy-targets"], say=quiet)
    broke = timeline.stage_started[1] + 120
    assert result["rollback"]["alarm"] == "shop-probe-errors"
    assert timeline.rollback_insync_at - broke < FAILURE_SECONDS, "Heroku INSYNC before the checkers would drain AWS"

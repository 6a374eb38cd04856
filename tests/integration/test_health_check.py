"""The Route 53 health check on the AWS record, step by step against the engine's health checkers
(which judge the loopback origins on the virtual clock, as Route 53's checkers would)."""

from __future__ import annotations

import pytest

from cutover import records as rr
from cutover.errors import HealthCheckPending, NotReady
from tests.integration.driver import settle, start, step, to_stage
from tests.support import ALB, NAME, plan


def aws_record(world):
    return [r for r in world.records() if r.get("SetIdentifier") == rr.AWS_ID][0]


def test_the_conversion_attaches_a_health_check_aimed_at_the_aws_target_with_the_plans_settings(world):
    state = start(world, plan(hosted_zone_id=world.zone_id, health_check={"path": "/healthz", "interval": 10,
                                                                            "failure_threshold": 2}))
    health_check_id = state["pairs"][0]["health_check_id"]
    assert aws_record(world)["HealthCheckId"] == health_check_id
    assert "HealthCheckId" not in [r for r in world.records() if r.get("SetIdentifier") == rr.HEROKU_ID][0]
    config = world.health_checks.checks[health_check_id].config
    assert config == {"Type": "HTTPS", "FullyQualifiedDomainName": ALB, "Port": 443, "ResourcePath": "/healthz",
                      "RequestInterval": 10, "FailureThreshold": 2, "EnableSNI": True}


def test_a_retried_preflight_gets_the_same_health_check_not_a_second_one(world):
    first = start(world)
    again = start(world)
    assert first["pairs"][0]["health_check_id"] == again["pairs"][0]["health_check_id"]
    assert len(world.health_checks.checks) == 1


def test_the_first_shift_waits_until_a_checker_has_reported(world):
    state = settle(world, start(world))
    state = step(world, "LowerTtl", state)  # no wait: the checkers have not reported yet
    for checker in world.health_checks.checks[state["pairs"][0]["health_check_id"]].checkers:
        checker.report = ""
    with pytest.raises(HealthCheckPending, match=NAME):
        world.invoke("Shift", {"cutover": state})
    assert world.weights() == {rr.HEROKU_ID: 100, rr.AWS_ID: 0}
    world.clock.advance(30)  # one interval: every checker has reported
    step(world, "Shift", state)
    assert world.weights() == {rr.HEROKU_ID: 90, rr.AWS_ID: 10}


def test_an_unhealthy_health_check_refuses_the_first_shift_naming_the_name_and_what_the_checkers_saw(world):
    # readiness off (it would refuse this origin first): the health check alone must refuse it
    raw = plan(hosted_zone_id=world.zone_id, readiness={"skip": "tested on its own elsewhere"})
    state = step(world, "LowerTtl", settle(world, start(world, raw)))
    world.origins.aws.status_for_host[ALB] = 404  # the load balancer's default rule does not answer the path
    world.clock.advance(state["wait_seconds"])
    with pytest.raises(NotReady, match=f"health check of {NAME} \\({ALB}\\) is unhealthy: 0 of 8 checkers report "
                                       "healthy; Failure: HTTP Status Code 404"):
        world.invoke("Shift", {"cutover": state})
    assert world.weights() == {rr.HEROKU_ID: 100, rr.AWS_ID: 0}


def test_readiness_sends_the_health_checkers_request_and_refuses_a_default_rule_that_does_not_answer_it(world):
    world.origins.aws.status_for_host[ALB] = 404
    with pytest.raises(NotReady, match=f"the Route 53 health check's request to {ALB} \\(GET / with Host {ALB}.*"
                                       "answered 404.*default rule must answer it"):
        start(world)
    assert {"path": "/", "host": ALB} in world.origins.aws.requests
    assert world.health_checks.checks == {}, "refused before any health check was made"


def test_a_rollback_detaches_the_health_check_then_deletes_it(world):
    state = to_stage(world, 1)
    health_check_id = state["pairs"][0]["health_check_id"]
    rolled = world.invoke("Rollback", {"cutover": state, "error": {"Error": "AlarmBreached", "Cause": "{}"}})
    assert "HealthCheckId" not in aws_record(world) and world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert world.health_checks.checks[health_check_id].deleted
    assert rolled["pairs"][0]["health_check_id"] is None
    (deleted,) = [e for e in world.ledger("exec-1") if e["event"] == "health_checks_deleted"]
    assert deleted["health_checks"] == {NAME: health_check_id}
    # a second rollback (another path acting too) has nothing left to delete and says nothing more
    world.invoke("Rollback", {"cutover": rolled, "error": {"Error": "AlarmBreached", "Cause": "{}"}})
    assert [e["event"] for e in world.ledger("exec-1") if e["event"].startswith("health_check")] == [
        "health_checks_created", "health_checks_healthy", "health_checks_deleted"]


def test_a_health_check_that_cannot_be_deleted_is_recorded_and_never_holds_the_rollback_up(world, monkeypatch):
    from cutover.adapters.route53 import Route53
    from cutover.errors import Route53Busy

    def busy(self, health_check_id):
        raise Route53Busy("Route 53 is busy (Throttling): Rate exceeded")

    state = to_stage(world, 1)
    monkeypatch.setattr(Route53, "delete_health_check", busy)
    rolled = world.invoke("Rollback", {"cutover": state, "error": {"Error": "AlarmBreached", "Cause": "{}"}})
    assert rolled["status"] == "ROLLED_BACK" and world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    (left,) = [e for e in world.ledger("exec-1") if e["event"] == "health_check_left"]
    assert left["health_checks"][NAME]["health_check_id"] == state["pairs"][0]["health_check_id"]
    assert "Throttling" in left["health_checks"][NAME]["error"]


def test_a_health_check_switched_off_with_a_reason_is_recorded_and_none_is_made(world):
    state = start(world, plan(hosted_zone_id=world.zone_id, health_check={"skip": "a CDN answers the health path"}))
    assert "HealthCheckId" not in aws_record(world) and world.health_checks.checks == {}
    assert state["pairs"][0]["health_check_id"] is None
    (entry,) = [e for e in world.ledger("exec-1") if e["event"] == "health_check_skipped"]
    assert entry["reason"] == "a CDN answers the health path"


def test_the_commit_at_the_end_replaces_the_pair_by_a_simple_cname_to_aws_and_deletes_the_health_check(world):
    from tests.integration.driver import committed_on_aws

    state = step(world, "RestoreTtl", to_stage(world, 3))
    health_check_id = state["pairs"][0]["health_check_id"]
    world.invoke("Finalize", {"cutover": state})
    assert committed_on_aws(world) and world.health_checks.checks[health_check_id].deleted
    (note,) = [n for n in world.notifications() if n["event"] == "succeeded"]
    assert note["committed_by"] == "no watch" and "scaling it down" in note["advice"]
    # Finalize again (a lost response): the names already committed are left alone
    world.invoke("Finalize", {"cutover": state})
    assert committed_on_aws(world)


def test_commit_is_refused_for_a_cutover_that_is_not_watched_and_is_already_done_after_success(world):
    from cutover.errors import CutoverNotLive
    from cutover.handler import deps
    from cutover.operations import commit

    state = to_stage(world, 1)
    with pytest.raises(CutoverNotLive, match="is RUNNING and not watched at 100%"):
        commit("exec-1", "carol", deps())
    assert world.weights() == {rr.HEROKU_ID: 90, rr.AWS_ID: 10}
    state = step(world, "RestoreTtl", to_stage_from(world, state))
    world.invoke("Finalize", {"cutover": state})
    assert commit("exec-1", "carol", deps())["already"] is True


def to_stage_from(world, state):
    from tests.integration.driver import run_stage

    for _ in range(2):
        state = run_stage(world, state)
    return state


def test_the_commit_refuses_records_edited_since_the_last_stage_and_the_cutover_rolls_back(world):
    from cutover.errors import StaleRecords

    state = step(world, "RestoreTtl", to_stage(world, 3))
    live = rr.Pair.from_dict(state["pairs"][0])
    world.edit_out_of_band(rr.to_route53(rr.swap_changes([live], [live.with_weights(1, 255)])))
    before = world.records()
    with pytest.raises(StaleRecords, match="commit www.shop.example.com refused"):
        world.invoke("Finalize", {"cutover": state})
    assert world.records() == before, "nothing changed: the state machine's Catch rolls back next"


def test_a_health_check_reference_taken_by_other_settings_is_refused_clearly_with_the_lock_released(world):
    import boto3

    from cutover import healthcheck
    from cutover.errors import HealthCheckConflict

    # someone (an earlier run under the same execution name) made a check with this reference
    boto3.client("route53").create_health_check(
        CallerReference=healthcheck.caller_reference("exec-1", NAME),
        HealthCheckConfig={"Type": "HTTPS", "FullyQualifiedDomainName": "other.example.com", "Port": 443,
                           "ResourcePath": "/", "RequestInterval": 30, "FailureThreshold": 3, "EnableSNI": True})
    with pytest.raises(HealthCheckConflict, match="start the cutover under a new execution name"):
        start(world)
    assert world.lock_holder() is None and world.weights() == {}, "nothing changed, the lock released"

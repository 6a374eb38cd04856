"""The handlers against an embedded AWS: each step does its one thing and records it."""

from __future__ import annotations

import pytest

from cutover import records as rr
from cutover.errors import (
    AlarmBreached,
    AlarmDataMissing,
    LockHeld,
    NotReady,
    PlanInvalid,
    RecordsNotReady,
    StaleRecords,
)
from tests.integration.driver import committed_on_aws, run_stage, settle, start, step, to_stage
from tests.support import ALARMS, ALB, HEROKU, NAME, ZONE, plan


def test_preflight_converts_the_simple_record_to_a_weighted_pair_in_one_batch(world):
    state = start(world)
    assert world.weights() == {rr.HEROKU_ID: 100, rr.AWS_ID: 0}
    assert world.ttls() == {3600}
    assert all("SetIdentifier" in r for r in world.records()), "the simple record must be gone"
    assert len(world.route53.changes) == 1
    (_, batch), = world.route53.changes.values()
    assert [c["Action"] for c in batch] == ["DELETE", "CREATE", "CREATE"]
    assert state["snapshot"][NAME][0]["ResourceRecords"] == [{"Value": HEROKU}]
    assert world.lock_holder() == "exec-1"


def replace_live_record(world, **extra) -> dict:
    """The name's simple CNAME replaced by one that also carries ``extra`` (as Route 53 holds it)."""
    (live,) = world.records()
    record = {**live, **extra}
    world.edit_out_of_band([{"Action": "DELETE", "ResourceRecordSet": live}, {"Action": "CREATE", "ResourceRecordSet": record}])
    return record


def test_the_conversion_deletes_the_live_record_exactly_as_route53_holds_it(world):
    """Route 53 deletes a record that has a health check only if the DELETE names it too."""
    import boto3

    check = boto3.client("route53").create_health_check(CallerReference="heroku", HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": HEROKU, "ResourcePath": "/"})["HealthCheck"]["Id"]
    replace_live_record(world, HealthCheckId=check)
    world.route53.changes.clear()
    start(world)
    assert world.weights() == {rr.HEROKU_ID: 100, rr.AWS_ID: 0}
    (_, batch), = world.route53.changes.values()
    assert batch[0]["Action"] == "DELETE" and batch[0]["ResourceRecordSet"]["HealthCheckId"] == check


def test_a_single_failover_record_is_not_taken_for_a_simple_cname(world):
    replace_live_record(world, SetIdentifier="primary", Failover="PRIMARY")
    with pytest.raises(RecordsNotReady, match="records this tool does not cut over"):
        start(world)
    assert world.lock_holder() is None and [r.get("Failover") for r in world.records()] == ["PRIMARY"]


def test_preflight_takes_the_heroku_target_from_the_live_record_when_the_plan_leaves_it_out(world):
    state = start(world, plan(hosted_zone_id=world.zone_id, heroku=None))
    assert state["pairs"][0]["heroku_target"] == HEROKU


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({"stages": [{"weight": 50, "bake": "10m"}]}, "stages[0].weight"),
        ({"records": [ZONE]}, "records[0]"),
        ({"alarms": ["shop-5xx-rate", "no-such-alarm"]}, "alarms[1]"),
        ({"heroku": {"target": "someone-else-1.herokudns.com"}}, "heroku.target"),
        ({"hosted_zone_id": "Z0000000000OTHER"}, "hosted_zone_id"),
    ],
    ids=["bad stages", "apex", "missing alarm", "heroku target differs from live", "zone not allowed"],
)
def test_an_invalid_plan_changes_nothing(world, raw, field):
    before = world.records()
    with pytest.raises(PlanInvalid) as caught:
        start(world, plan(hosted_zone_id=world.zone_id, **raw) if "hosted_zone_id" not in raw else plan(**raw))
    assert field in [p[0] for p in caught.value.problems]
    assert world.records() == before
    assert world.route53.calls.get("ChangeResourceRecordSets", 0) == 0
    assert world.lock_holder() is None
    assert world.notifications() == []


def test_a_record_already_on_aws_is_refused_before_any_change(world):
    world.edit_out_of_band(
        [{"Action": "DELETE", "ResourceRecordSet": {"Name": NAME, "Type": "CNAME", "TTL": 3600, "ResourceRecords": [{"Value": HEROKU}]}},
         {"Action": "CREATE", "ResourceRecordSet": {"Name": NAME, "Type": "CNAME", "TTL": 3600, "ResourceRecords": [{"Value": ALB}]}}]
    )
    with pytest.raises(RecordsNotReady):
        start(world, plan(hosted_zone_id=world.zone_id, heroku=None, aws={"target": "other-alb.elb.amazonaws.com"}))
    assert world.lock_holder() is None


def test_the_lock_refuses_a_second_cutover_on_the_same_name(world):
    start(world, name="exec-1")
    changes_before = dict(world.route53.changes)
    with pytest.raises(LockHeld, match="held by exec-1"):
        start(world, name="exec-2")
    assert world.route53.changes == changes_before
    assert world.lock_holder() == "exec-1"


def test_a_retried_preflight_keeps_its_lock_and_its_first_snapshot(world):
    first = start(world, name="exec-1")
    again = start(world, name="exec-1")
    assert again["snapshot"] == first["snapshot"]
    assert again["original_ttls"] == {NAME: 3600}
    assert world.weights() == {rr.HEROKU_ID: 100, rr.AWS_ID: 0}


def test_the_lock_is_released_by_a_rollback_and_a_new_cutover_can_start(world):
    state = start(world, name="exec-1")
    world.invoke("Rollback", {"cutover": state, "error": {"Error": "AlarmBreached", "Cause": "{}"}})
    assert world.lock_holder() is None
    restarted = start(world, name="exec-2")
    assert world.lock_holder() == "exec-2"
    assert restarted["original_ttls"] == {NAME: 3600}


def test_lower_ttl_then_wait_the_old_ttl_then_shift(world):
    state = step(world, "LowerTtl", settle(world, start(world)))
    assert world.ttls() == {60}
    assert state["wait_seconds"] == 3600
    world.clock.advance(state["wait_seconds"])  # the WaitOldTtl state
    state = step(world, "Shift", state)
    assert world.weights() == {rr.HEROKU_ID: 90, rr.AWS_ID: 10}
    assert state["aws_percent"] == 10 and state["bake_seconds"] == 600 and state["judge_after_seconds"] == 600 + 240 and state["is_last"] is False


def test_change_status_is_pending_until_route53_has_applied_the_change(world):
    world.route53.insync_after = 30
    state = start(world)
    assert world.invoke("CheckChange", {"cutover": state})["change_status"] == "PENDING"
    world.clock.advance(30)
    assert world.invoke("CheckChange", {"cutover": state})["change_status"] == "INSYNC"


def test_a_shift_from_a_stale_view_is_refused_and_changes_nothing(world):
    state = to_stage(world, 0)
    # someone edits the weights by hand mid-cutover
    live = rr.Pair.from_dict(state["pairs"][0])
    edited = live.with_weights(80, 20)
    world.edit_out_of_band(rr.to_route53(rr.swap_changes([live], [edited])))
    with pytest.raises(StaleRecords, match="no longer what this cutover last wrote"):
        world.invoke("Shift", {"cutover": state})
    assert world.weights() == {rr.HEROKU_ID: 80, rr.AWS_ID: 20}


def test_a_shift_in_flight_after_a_rollback_cannot_undo_it(world):
    state = to_stage(world, 1)
    world.invoke("Rollback", {"cutover": state, "error": {"Error": "Abort", "Cause": "operator"}})
    with pytest.raises(StaleRecords):
        world.invoke("Shift", {"cutover": state})
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


@pytest.mark.parametrize("stages", [0, 1, 2, 3])
def test_rollback_puts_all_traffic_on_heroku_from_any_stage(world, stages):
    state = to_stage(world, stages)
    if stages == 3:
        state = step(world, "RestoreTtl", state)
        assert world.weights() == {rr.HEROKU_ID: 0, rr.AWS_ID: 100}
    rolled = world.invoke("Rollback", {"cutover": state, "error": {"Error": "States.Timeout", "Cause": "bake timed out"}})
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert world.ttls() == {3600}
    assert rolled["status"] == "ROLLED_BACK" and rolled["rollback_reason"] == "States.Timeout: bake timed out"
    assert world.lock_holder() is None


def test_rollback_is_idempotent_and_notifies_once(world):
    state = to_stage(world, 1)
    world.notifications()
    error = {"Error": "AlarmBreached", "Cause": '{"errorMessage": "alarm shop-5xx-rate is in ALARM", "errorType": "AlarmBreached"}'}
    first = world.invoke("Rollback", {"cutover": state, "error": error})
    second = world.invoke("Rollback", {"cutover": state, "error": error})
    assert first["rollback_reason"] == "AlarmBreached: alarm shop-5xx-rate is in ALARM"
    assert second["status"] == "ROLLED_BACK"
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert [n["event"] for n in world.notifications()] == ["rolled_back"]
    rolled = [e for e in world.ledger("exec-1") if e["event"] == "rolled_back"]
    assert [e["repeated"] for e in rolled] == [False, True]


def test_a_breach_during_the_bake_fails_the_stage_even_if_it_recovered(world):
    state = to_stage(world, 0)
    state = step(world, "Shift", state)
    world.clock.advance(180)
    world.set_alarm(ALARMS[0], "ALARM", "5xx rate 8%")
    world.clock.advance(60)
    world.set_alarm(ALARMS[0], "OK", "5xx rate 0.1%")
    world.clock.advance(state["bake_seconds"] - 240)
    with pytest.raises(AlarmBreached, match="went to ALARM during the bake"):
        world.invoke("EvaluateAlarms", {"cutover": state})
    evaluated = [e for e in world.ledger("exec-1") if e["event"] == "evaluated"]
    assert evaluated[-1]["outcome"] == "FAIL"


def test_a_breach_before_the_shift_does_not_fail_the_stage(world):
    state = to_stage(world, 0)
    world.set_alarm(ALARMS[0], "ALARM", "old incident")
    world.clock.advance(10)
    world.set_alarm(ALARMS[0], "OK", "recovered")
    world.clock.advance(10)
    state = run_stage(world, state)
    assert state["verdict"] == "PASS" and state["stage_index"] == 1


def test_insufficient_data_wait_waits_then_gives_up_after_one_more_bake(world):
    state = to_stage(world, 0)
    state = step(world, "Shift", state)
    world.set_alarm(ALARMS[1], "INSUFFICIENT_DATA", "no requests")
    world.clock.advance(state["bake_seconds"])
    waits = 0
    with pytest.raises(AlarmDataMissing):
        while True:
            state = world.invoke("EvaluateAlarms", {"cutover": state})
            assert state["verdict"] == "WAIT"
            waits += 1
            world.clock.advance(60)
    assert waits == state["bake_seconds"] // 60


def test_a_long_bake_waits_for_data_a_tenth_of_it_at_a_time_at_most_ten_times(world):
    raw = plan(hosted_zone_id=world.zone_id, stages=[{"weight": 10, "bake": "24h"}, {"weight": 100, "bake": "10m"}])
    state = step(world, "Shift", to_stage(world, 0, raw=raw))
    world.set_alarm(ALARMS[1], "INSUFFICIENT_DATA", "no requests")
    world.clock.advance(state["judge_after_seconds"])
    intervals = []
    with pytest.raises(AlarmDataMissing, match="beyond the bake"):
        while True:
            state = world.invoke("EvaluateAlarms", {"cutover": state})
            intervals.append(state["data_wait_seconds"])
            world.clock.advance(state["data_wait_seconds"])
    assert intervals == [24 * 3600 // 10] * 10


def test_a_change_is_polled_every_10_s_for_a_minute_then_every_minute_and_given_up_after_15_polls(world):
    from cutover.errors import ChangeNotInSync

    state = start(world)
    world.route53.insync_after = 10**6  # never INSYNC
    state = world.invoke("LowerTtl", {"cutover": state})
    waits = [state["poll_seconds"]]
    with pytest.raises(ChangeNotInSync, match="after 15 polls"):
        while True:
            world.clock.advance(waits[-1])
            state = world.invoke("CheckChange", {"cutover": state})
            waits.append(state["poll_seconds"])
    assert waits == [10] * 6 + [60] * 9  # 15 polls over 10 minutes


def test_insufficient_data_fail_fails_at_once(world):
    state = to_stage(world, 0, raw=plan(hosted_zone_id=world.zone_id, insufficient_data="fail"))
    state = step(world, "Shift", state)
    world.set_alarm(ALARMS[1], "INSUFFICIENT_DATA", "no requests")
    world.clock.advance(state["bake_seconds"])
    with pytest.raises(AlarmDataMissing, match="insufficient_data: fail"):
        world.invoke("EvaluateAlarms", {"cutover": state})


def test_a_full_cutover_ends_on_aws_with_the_ttl_restored_and_every_step_in_the_ledger(world):
    state = to_stage(world, 3)
    assert state["verdict"] == "PASS" and state["is_last"] is True
    state = step(world, "RestoreTtl", state)
    done = world.invoke("Finalize", {"cutover": state})
    assert done["status"] == "SUCCEEDED"
    assert committed_on_aws(world), "committed: one simple CNAME to AWS at the original TTL"
    assert world.lock_holder() is None

    ledger = world.ledger("exec-1")
    events = [e["event"] for e in ledger if e["event"] != "in_sync"]
    assert events == (["started", "readiness", "health_checks_created", "converted", "ttl_lowered", "readiness",
                       "health_checks_healthy"] + ["shifted", "evaluated"] * 3
                      + ["ttl_restored", "health_checks_deleted", "succeeded"])
    before, first_shift = [e for e in ledger if e["event"] == "readiness"]
    assert [(c["origin"], c["ok"], c["status"]) for c in before["checks"]] == [
        ("aws", True, 200), ("heroku", True, 200), ("aws-health-check", True, 200)]
    assert [c["origin"] for c in first_shift["checks"]] == ["aws", "aws-health-check"]
    assert first_shift["when"] == "before the first shift"
    # the commit deleted the health check with the weighted pair
    (created,) = [e for e in ledger if e["event"] == "health_checks_created"]
    assert world.health_checks.checks[created["health_checks"][NAME]].deleted is True
    assert ledger[-1]["committed_by"] == "no watch" and ledger[-1]["targets"] == {NAME: ALB}
    shifts = [e for e in ledger if e["event"] == "shifted"]
    assert [(s["weights_before"][NAME]["aws"], s["weights_after"][NAME]["aws"]) for s in shifts] == [(0, 10), (10, 50), (50, 100)]
    assert all(s["change_id"] and s["actor"] == "execution" for s in shifts)
    evaluations = [e for e in ledger if e["event"] == "evaluated"]
    assert all({a["alarm"] for a in e["alarms"]} == set(ALARMS) and e["outcome"] == "PASS" for e in evaluations)
    converted = next(e for e in ledger if e["event"] == "converted")
    assert converted["records_before"][NAME][0]["ResourceRecords"] == [{"Value": HEROKU}]
    assert [n["event"] for n in world.notifications()] == ["started", "promoted", "promoted", "promoted", "succeeded"]


def test_a_repeated_rollback_keeps_the_first_reason(world):
    state = to_stage(world, 1)
    world.invoke("Rollback", {"cutover": state, "error": {"Error": "OperatorAborted", "Cause": "support reports failed checkouts"}})
    again = world.invoke("Rollback", {"cutover": state, "error": {"Error": "States.TaskFailed", "Cause": ""}})
    assert again["rollback_reason"] == "OperatorAborted: support reports failed checkouts"
    reasons = [e["reason"] for e in world.ledger("exec-1") if e["event"] == "rolled_back"]
    assert reasons == ["OperatorAborted: support reports failed checkouts", "States.TaskFailed: "]


def test_an_aws_origin_whose_certificate_does_not_cover_the_name_is_refused_before_anything_changes(world):
    world.origins.aws.certificate = "wrong-name"
    with pytest.raises(NotReady, match=f"readiness of {NAME} on AWS .* does not cover {NAME}"):
        start(world)
    assert world.route53.changes == {} and world.lock_holder() is None


def test_an_aws_origin_answering_503_is_refused_naming_the_status(world):
    world.origins.aws.status = 503
    with pytest.raises(NotReady, match="answered 503 \\(expected 200-399\\)"):
        start(world)
    assert {"path": "/", "host": NAME} in world.origins.aws.requests, "asked with the custom name as Host"


def test_heroku_is_the_baseline_recorded_not_a_reason_to_refuse(world):
    world.origins.heroku.status = 500
    start(world)
    (entry,) = [e for e in world.ledger("exec-1") if e["event"] == "readiness"]
    assert {c["origin"]: (c["ok"], c["status"]) for c in entry["checks"]} == {
        "aws": (True, 200), "heroku": (False, 500), "aws-health-check": (True, 200)}


def test_readiness_switched_off_in_the_plan_is_recorded_with_its_reason(world):
    start(world, plan(hosted_zone_id=world.zone_id, readiness={"skip": "the ALB accepts only the CDN's addresses"}))
    (entry,) = [e for e in world.ledger("exec-1") if e["event"] == "readiness_skipped"]
    assert "CDN" in entry["reason"] and world.origins.aws.requests == []


def test_the_first_shift_checks_again_and_refuses_an_origin_that_broke_meanwhile(world):
    state = step(world, "LowerTtl", settle(world, start(world)))
    world.origins.aws.certificate = "expired"
    with pytest.raises(NotReady, match="expired"):
        world.invoke("Shift", {"cutover": state})
    assert world.weights() == {rr.HEROKU_ID: 100, rr.AWS_ID: 0}, "nothing shifted"

"""Alarm-driven rollback and the safety net, end to end on the local engine."""

from __future__ import annotations

import boto3
import pytest

from cutover import records as rr
from cutover.adapters.store import Store
from cutover_local.engine import ACCOUNT, REGION, Harshness
from cutover_local.eventbridge import alarm_state_change
from cutover_local.rehearsal import rehearse
from cutover_local.scenarios import DEFAULT_PLAN, LOAD_BALANCER_ALARMS, Scenario
from cutover_local.traffic import Effect
from tests.integration.test_state_machine import at_virtual_second, weights
from tests.support import ALARMS, NAME, plan


def deliver_alarm(engine, alarm: str = ALARMS[0]) -> None:
    """CloudWatch puts the alarm in ALARM and EventBridge delivers the state change."""
    boto3.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="ALARM", StateReason="5xx 9%")
    described = boto3.client("cloudwatch").describe_alarms(AlarmNames=[alarm])["MetricAlarms"][0]
    engine.events.put(alarm_state_change(described, "OK", "ALARM", "5xx 9%", engine.clock.now(), ACCOUNT, REGION))


# the load balancer alarms alone (the probes' alarms see these breaches sooner: test_rehearse_cli.py)
LOAD_BALANCER_ONLY = {**DEFAULT_PLAN, "alarms": list(LOAD_BALANCER_ALARMS)}


@pytest.mark.e2e  # a whole rehearsal
def test_a_breach_three_minutes_into_a_ten_minute_bake_rolls_back_within_one_alarm_evaluation():
    scenario = Scenario("breach-at-3m", "", plan=LOAD_BALANCER_ONLY,
                        traffic=(Effect("aws", stage=1, after=180, error_rate=0.2),))
    result, timeline = rehearse(scenario, say=lambda line: None)
    assert result["status"] == "ROLLED_BACK"
    fault_at = timeline.stage_started[1] + 180
    alarm_at = next(t for t, name, state in timeline.alarm_changes if state == "ALARM")
    # the alarm needs 2 of 3 one-minute datapoints, each visible 60-150 s after its minute
    # ends, judged once a minute: it fires two to six minutes after the errors start
    assert fault_at + 120 < alarm_at <= fault_at + 6 * 60
    # the rollback is submitted when the (possibly late) alarm event reaches the listener
    assert alarm_at <= timeline.rollback_submitted_at <= alarm_at + Harshness().alarm_event_delay[1]
    assert timeline.rollback_submitted_at < timeline.stage_started[1] + 600, "not at the end of the bake"
    assert result["rollback"]["seconds_breach_to_insync"] <= 30
    assert result["stages_completed"] == 0


@pytest.mark.e2e  # a whole rehearsal
def test_errors_in_the_last_minutes_of_the_last_bake_are_seen_before_the_cutover_is_declared_done():
    """Datapoints of the bake's last minutes become visible after it ends: the stage is judged once
    they are (metric_delay), and the watch lasts until then, so the cutover does not end on AWS."""
    late = Scenario("late-breach", "", plan=LOAD_BALANCER_ONLY,
                    traffic=(Effect("aws", stage=3, after=30 * 60 - 90, error_rate=0.3),))
    result, timeline = rehearse(late, say=lambda line: None)
    assert result["status"] == "ROLLED_BACK", result["status"]
    assert result["final_weights"]["aws"] == 0
    alarm_at = next(t for t, name, state in timeline.alarm_changes if state == "ALARM")
    assert alarm_at > timeline.stage_started[3] + 30 * 60, "the alarm fired after the bake ended"
    assert timeline.rollback_submitted_at >= alarm_at


@pytest.mark.e2e  # a whole rehearsal
def test_without_the_listener_the_reconciler_rolls_back_a_breach_within_five_minutes_of_the_alarm():
    scenario = Scenario("unheard", "", traffic=(Effect("aws", stage=1, after=60, error_rate=0.2),))
    lines = []
    result, timeline = rehearse(scenario, say=lines.append, alarm_listener=False)
    assert result["status"] == "ROLLED_BACK" and result["stages_completed"] == 0
    alarm_at = next(t for t, name, state in timeline.alarm_changes if state == "ALARM")
    assert alarm_at <= timeline.rollback_submitted_at <= alarm_at + 5 * 60
    assert timeline.rollback_submitted_at < timeline.stage_started[1] + 600, "before the stage is judged"
    assert any("reconciler:" in line and "in ALARM" in line for line in lines)


def test_an_execution_stopped_from_outside_ends_on_heroku_through_the_safety_net(engine):
    engine.harsh.status_event_drop = 0.0  # AWS delivers status events best effort: this test needs it delivered
    def stop():
        arn = boto3.client("stepfunctions").list_executions(stateMachineArn=engine.stack.state_machine_arn)["executions"][0]["executionArn"]
        boto3.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="stopped from the console")

    at_virtual_second(engine, 3900, stop)  # during the first bake, at AWS 10%
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="stopped")
    assert described["status"] == "ABORTED"
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    store = Store(engine.stack.table_name)
    assert store.lock_holder(NAME) is None
    rolled = [e for e in store.ledger("stopped") if e["event"] == "rolled_back"]
    # the safety net (the status event) or the reconciler (every 5 minutes), whichever comes first
    assert [e["actor"] for e in rolled] in (["safety-net"], ["reconciler"]) and "ABORTED" in rolled[0]["reason"]
    assert "SafetyNetFunction" in engine.api_calls  # its calls are checked against its policy at teardown


def test_a_failed_execution_ends_on_heroku_through_the_safety_net(engine):
    """The execution fails where no Catch runs (its history is full) during the first bake."""
    engine.harsh.status_event_drop = 0.0  # delivered (best effort in AWS), late as AWS may be
    engine.sfn.history_limit = 45
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="failed")
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    rolled = [e for e in Store(engine.stack.table_name).ledger("failed") if e["event"] == "rolled_back"]
    assert [e["actor"] for e in rolled] in (["safety-net"], ["reconciler"])


def test_an_alarm_during_a_bake_stops_the_execution_naming_the_alarm(engine):
    engine.harsh.status_event_drop = 0.0  # the safety net's check below needs the status event
    at_virtual_second(engine, 3900, lambda: deliver_alarm(engine))
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="listened")
    assert described["status"] == "ABORTED"
    # the alarm event may reach the listener up to the engine's alarm-event delay late
    assert engine.ended_at[described["executionArn"]] < 3900 + engine.harsh.alarm_event_delay[1] + 1
    assert engine.ended_at[described["executionArn"]] < 3700 + 600, "the bake did not run to its end"
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    events = [e["event"] for e in Store(engine.stack.table_name).ledger("listened")]
    assert "rolled_back" in events and "execution_stopped" in events and "safety_net_checked" in events
    assert "AlarmListenerFunction" in engine.api_calls  # its calls are checked against its policy at teardown


def test_abort_wins_over_a_shift_already_under_way(engine):
    """The listener runs inside the second Shift, just before its swap reaches Route 53 (as a
    concurrent Lambda would); the stop lands while the Shift still runs."""
    engine.harsh.alarm_event_delay = (0.0, 0.0)  # the event reaches the listener at once
    fired = []

    def alarm_mid_shift(site):
        if (site.function, site.operation, site.invocation) == ("ShiftFunction", "ChangeResourceRecordSets", 2) and not fired:
            fired.append(True)
            deliver_alarm(engine)

    engine.before_call.append(alarm_mid_shift)
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="interleaved")
    assert fired
    assert described["status"] == "ABORTED"
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    failed_shifts = [i for i in engine.invocations if i.function == "ShiftFunction" and i.error]
    assert [i.error for i in failed_shifts] == ["StaleRecords"]

"""The alarm listener and the safety net, with real-shaped events, on an embedded AWS."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from cutover import records as rr
from cutover.clock import iso
from cutover.errors import AlarmBreached, EventInvalid, StaleRecords
from cutover.handler import deps
from cutover.reactions import AlarmChange
from tests.integration.driver import start, step, to_stage
from tests.support import ALARMS, NAME, ROOT

ALARM_EVENT = json.loads((ROOT / "tests" / "events" / "alarm_state_change_alarm.json").read_text())
ABORTED_EVENT = json.loads((ROOT / "tests" / "events" / "execution_aborted.json").read_text())


def alarm_event(world, alarm: str = ALARMS[0], state: str = "ALARM", seconds_ago: float = 0) -> dict:
    event = copy.deepcopy(ALARM_EVENT)
    at = world.clock() - timedelta(seconds=seconds_ago)
    event["detail"]["alarmName"] = alarm
    event["detail"]["state"]["value"] = state
    event["detail"]["state"]["timestamp"] = iso(at).replace("Z", "+0000")
    event["time"] = iso(at).replace(".000Z", "Z")
    return event


def ended_event(name: str, status: str = "ABORTED") -> dict:
    event = copy.deepcopy(ABORTED_EVENT)
    event["detail"].update(name=name, status=status)
    return event


def test_the_listener_reads_the_real_event_shape():
    change = AlarmChange.from_event(ALARM_EVENT)
    assert (change.alarm, change.state, change.previous) == ("shop-5xx-rate", "ALARM", "OK")
    assert change.changed_at == "2026-12-01T15:04:00.000Z"
    assert "Threshold Crossed" in change.reason


@pytest.mark.parametrize("broken", [{}, {"detail-type": "Scheduled Event", "detail": {}}, {"detail-type": "CloudWatch Alarm State Change", "detail": {}}])
def test_the_listener_refuses_other_events_by_name(broken):
    with pytest.raises(EventInvalid):
        AlarmChange.from_event(broken)


def test_an_alarm_going_to_alarm_rolls_back_the_live_cutover_at_once(world):
    to_stage(world, 1)
    world.clock.advance(180)
    world.notifications()
    result = world.invoke("AlarmListener", alarm_event(world))
    assert result["rolled_back"] == ["exec-1"]
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert world.lock_holder() is None
    ledger = world.ledger("exec-1")
    seen = next(e for e in ledger if e["event"] == "alarm_state")
    assert (seen["alarm"], seen["state"], seen["actor"]) == (ALARMS[0], "ALARM", "alarm-listener")
    rolled = next(e for e in ledger if e["event"] == "rolled_back")
    assert rolled["actor"] == "alarm-listener" and rolled["alarm"] == ALARMS[0]
    assert ALARMS[0] in rolled["reason"] and rolled["reaction_seconds"] == 0
    notes = world.notifications()
    assert [n["event"] for n in notes] == ["rolled_back"] and notes[0]["alarm"] == ALARMS[0]


def test_after_an_alarms_rollback_the_probes_figures_at_both_origins_are_recorded(world):
    to_stage(world, 1)
    world.clock.advance(180)
    world.invoke("AlarmListener", alarm_event(world))
    (figures,) = [e for e in world.ledger("exec-1") if e["event"] == "probe_figures"]
    assert figures["alarm"] == ALARMS[0] and figures["actor"] == "alarm-listener"
    (name,) = figures["compare"]
    assert name["name"] == NAME and set(name["aws"]) == set(name["heroku"]) >= {"requests", "error_rate", "p90_ms"}
    events = [e["event"] for e in world.ledger("exec-1")]
    assert events.index("rolled_back") < events.index("probe_figures"), "read only once traffic is on Heroku"


def test_probe_figures_cloudwatch_cannot_give_never_undo_or_fail_the_rollback(world, monkeypatch):
    from botocore.exceptions import EndpointConnectionError

    from cutover.adapters.cloudwatch import CloudWatch

    def unreachable(*_args, **_kwargs):
        raise EndpointConnectionError(endpoint_url="https://monitoring.us-east-1.amazonaws.com")

    to_stage(world, 1)
    world.clock.advance(180)
    monkeypatch.setattr(CloudWatch, "values", unreachable)
    result = world.invoke("AlarmListener", alarm_event(world))
    assert result["rolled_back"] == ["exec-1"] and world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    (missing,) = [e for e in world.ledger("exec-1") if e["event"] == "probe_figures_unavailable"]
    assert "EndpointConnectionError" in missing["why"]
    assert not [e for e in world.ledger("exec-1") if e["event"] == "probe_figures"]


def test_an_alarm_no_live_cutover_watches_changes_nothing(world):
    to_stage(world, 1)
    before, changes = world.weights(), dict(world.route53.changes)
    ledger = world.ledger("exec-1")
    result = world.invoke("AlarmListener", alarm_event(world, alarm="someone-elses-alarm"))
    assert result == {"alarm": "someone-elses-alarm", "state": "ALARM", "watchers": 0, "rolled_back": []}
    assert world.weights() == before and world.route53.changes == changes
    assert world.ledger("exec-1") == ledger


def test_duplicate_alarm_events_are_harmless(world):
    to_stage(world, 1)
    world.notifications()
    event = alarm_event(world)
    world.invoke("AlarmListener", event)
    again = world.invoke("AlarmListener", event)
    assert again["watchers"] == 0  # the first rollback ended the watch
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert [n["event"] for n in world.notifications()] == ["rolled_back"]


def test_out_of_order_events_are_harmless(world):
    to_stage(world, 1)
    # an OK that overtook nothing, then a stale ALARM from before this cutover began watching
    world.invoke("AlarmListener", alarm_event(world, state="OK"))
    stale = world.invoke("AlarmListener", alarm_event(world, seconds_ago=24 * 3600))
    assert stale["rolled_back"] == []
    assert world.weights() == {rr.HEROKU_ID: 90, rr.AWS_ID: 10}
    events = [e["event"] for e in world.ledger("exec-1")]
    assert "alarm_state_ignored" in events and "rolled_back" not in events


def test_a_breach_the_listener_recorded_fails_the_stage_even_after_it_recovered(world):
    state = to_stage(world, 0)
    state = step(world, "Shift", state)
    world.clock.advance(120)
    # the listener heard an OK -> ALARM -> OK flap, but CloudWatch's own history is silent about it
    world.invoke("AlarmListener", alarm_event(world, alarm=ALARMS[1], state="OK"))
    ledger_before = world.ledger("exec-1")
    deps().store.record("exec-1", "alarm_state", "alarm-listener", alarm=ALARMS[1], state="ALARM",
                        previous="OK", alarm_reason="p99 3s", changed_at=iso(world.clock()))
    assert len(world.ledger("exec-1")) == len(ledger_before) + 1
    world.clock.advance(state["bake_seconds"])
    with pytest.raises(AlarmBreached, match="recovered"):
        world.invoke("EvaluateAlarms", {"cutover": state})


def test_abort_wins_over_a_shift_in_flight(world):
    state = to_stage(world, 1)  # expected pair: 90/10
    world.invoke("AlarmListener", alarm_event(world))  # rollback lands first
    with pytest.raises(StaleRecords):
        world.invoke("Shift", {"cutover": state})  # the shift that was already under way
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


def test_the_safety_net_puts_traffic_back_when_an_execution_ends_badly(world):
    to_stage(world, 2)
    world.notifications()
    result = world.invoke("SafetyNet", ended_event("exec-1", "TIMED_OUT"))
    assert result["acted"] is True and "TIMED_OUT" in result["why"]
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert world.lock_holder() is None
    assert [n["event"] for n in world.notifications()] == ["rolled_back", "safety_net_acted"]
    rolled = next(e for e in world.ledger("exec-1") if e["event"] == "rolled_back")
    assert rolled["actor"] == "safety-net" and rolled["execution_status"] == "TIMED_OUT"


def test_the_safety_net_is_a_no_op_after_a_rollback(world):
    to_stage(world, 1)
    world.invoke("AlarmListener", alarm_event(world))
    changes = dict(world.route53.changes)
    world.notifications()
    result = world.invoke("SafetyNet", ended_event("exec-1"))
    assert result == {"cutover": "exec-1", "acted": False, "why": "already rolled back"}
    assert world.route53.changes == changes and world.notifications() == []
    assert world.ledger("exec-1")[-1]["event"] == "safety_net_checked"


def test_the_safety_net_acts_if_the_records_moved_after_a_rollback(world):
    state = to_stage(world, 1)
    world.invoke("AlarmListener", alarm_event(world))
    live = rr.rolled_back(rr.Pair.from_dict(state["pairs"][0]), 3600)  # as the rollback wrote it
    world.edit_out_of_band(rr.to_route53(rr.swap_changes([live], [live.with_weights(50, 50)])))
    assert world.invoke("SafetyNet", ended_event("exec-1"))["acted"] is True
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


def test_the_safety_net_frees_the_lock_of_an_execution_that_died_in_preflight(world):
    deps().store.acquire([NAME], "exec-9")  # as if preflight died right after taking the lock
    event = ended_event("exec-9", "FAILED")
    event["detail"]["input"] = json.dumps({"records": [NAME]})
    result = world.invoke("SafetyNet", event)
    assert result["released"] == [NAME] and world.lock_holder() is None


def test_the_safety_net_ignores_a_succeeded_execution(world):
    start(world)
    assert world.invoke("SafetyNet", ended_event("exec-1", "SUCCEEDED"))["acted"] is False
    assert world.weights() == {rr.HEROKU_ID: 100, rr.AWS_ID: 0}


def test_a_notification_that_cannot_be_sent_does_not_stop_a_rollback(world, monkeypatch):
    state = to_stage(world, 1)
    monkeypatch.setenv("TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:no-such-topic")
    deps.cache_clear()
    rolled = world.invoke("Rollback", {"cutover": state, "error": {"Error": "AlarmBreached", "Cause": "{}"}})
    assert rolled["status"] == "ROLLED_BACK"
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert world.lock_holder() is None

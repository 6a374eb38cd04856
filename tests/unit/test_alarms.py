"""The alarm verdict: a breach at any time fails the stage; INSUFFICIENT_DATA follows the plan."""

from __future__ import annotations

import pytest

from cutover.alarms import ALARM, FAIL, INSUFFICIENT_DATA, OK, PASS, WAIT, AlarmState, Transition, judge

WATCHED = ["rate", "latency"]


def states(**by_name):
    return [AlarmState(name, state, f"reason {name}", "2026-11-23T10:00:00.000Z") for name, state in by_name.items()]


def test_all_ok_passes():
    verdict = judge(WATCHED, states(rate=OK, latency=OK), [], "wait")
    assert (verdict.outcome, verdict.cause) == (PASS, None)
    assert [e["state"] for e in verdict.evidence] == [OK, OK]


def test_an_alarm_in_alarm_fails_naming_it():
    verdict = judge(WATCHED, states(rate=OK, latency=ALARM), [], "ignore")
    assert (verdict.outcome, verdict.cause, verdict.alarm) == (FAIL, "breach", "latency")


def test_a_breach_that_recovered_during_the_bake_still_fails():
    transitions = [Transition("rate", ALARM, "2026-11-23T10:03:00.000Z", "5xx 9%"), Transition("rate", OK, "2026-11-23T10:05:00.000Z")]
    verdict = judge(WATCHED, states(rate=OK, latency=OK), transitions, "wait")
    assert (verdict.outcome, verdict.cause, verdict.alarm) == (FAIL, "breach_recovered", "rate")
    assert "5xx 9%" in verdict.reason


def test_transitions_to_ok_alone_pass():
    transitions = [Transition("rate", OK, "2026-11-23T10:03:00.000Z")]
    assert judge(WATCHED, states(rate=OK, latency=OK), transitions, "wait").outcome == PASS


def test_a_missing_alarm_fails():
    verdict = judge(WATCHED, states(rate=OK), [], "ignore")
    assert (verdict.outcome, verdict.cause, verdict.alarm) == (FAIL, "missing_alarm", "latency")


@pytest.mark.parametrize(("policy", "outcome"), [("wait", WAIT), ("fail", FAIL), ("ignore", PASS)])
def test_insufficient_data_follows_the_plan(policy, outcome):
    verdict = judge(WATCHED, states(rate=INSUFFICIENT_DATA, latency=OK), [], policy)
    assert verdict.outcome == outcome
    assert "rate" in verdict.reason


def test_a_breach_wins_over_missing_data_whatever_the_policy():
    verdict = judge(WATCHED, states(rate=INSUFFICIENT_DATA, latency=ALARM), [], "ignore")
    assert verdict.outcome == FAIL and verdict.alarm == "latency"

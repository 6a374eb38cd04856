"""Promotion gates on the local engine: manual, at a time, inside a window; promote, abort, breach."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import boto3
import pytest

from cutover import records as rr
from cutover.adapters.store import Store
from cutover.clock import iso, parse_iso
from tests.integration.test_alarm_rollback import deliver_alarm
from tests.integration.test_state_machine import at_virtual_second, weights
from tests.support import plan


def gated(second: dict) -> dict:
    return plan(stages=[{"weight": 10, "bake": "10m"}, {"weight": 50, "bake": "20m", **second}, {"weight": 100, "bake": "30m"}])


def ledger(engine, name: str) -> list[dict]:
    return Store(engine.stack.table_name).ledger(name)


def wait_for(engine, name: str, event: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in ledger(engine, name) if e["event"] == event]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"{name} never recorded {event}")


def operator(engine, function: str, **payload) -> dict:
    """What `cutover promote` / `cutover abort` do: invoke the control plane's own function."""
    name = engine.stack.outputs[f"{function}FunctionName"]
    answer = boto3.client("lambda").invoke(FunctionName=name, Payload=json.dumps({"actor": "alice", **payload}))
    return json.loads(answer["Payload"].read())


def shifts(engine, name: str) -> list[dict]:
    return [e for e in ledger(engine, name) if e["event"] == "shifted"]


def test_a_manual_gate_holds_until_promote(engine):
    arn = engine.start(dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id), name="manual")
    held = wait_for(engine, "manual", "waiting_for_promotion")
    assert held["stage"] == 2
    time.sleep(0.3)  # nothing moves while it waits
    assert weights(engine) == {rr.HEROKU_ID: 90, rr.AWS_ID: 10}
    assert boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "RUNNING"
    assert operator(engine, "Promote", cutover_id="manual")["promoted"] is True
    described = engine.wait(arn)
    assert described["status"] == "SUCCEEDED"
    events = [e["event"] for e in ledger(engine, "manual")]
    assert events.index("promotion_approved") < events.index("rechecked") < len(events) - 1
    assert shifts(engine, "manual")[1]["promoted_by"] == "alice"
    assert {"HoldForPromotionFunction", "PromoteFunction"} <= set(engine.api_calls)  # checked at teardown


def test_promote_without_a_pending_gate_is_refused(engine):
    engine.run(dict(plan(), hosted_zone_id=engine.zone_id), name="ungated")
    answer = operator(engine, "Promote", cutover_id="ungated")
    assert answer["errorType"] == "NotWaiting"


def test_promote_full_goes_to_100_after_the_alarm_check(engine):
    arn = engine.start(dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id), name="full")
    wait_for(engine, "full", "waiting_for_promotion")
    operator(engine, "Promote", cutover_id="full", full=True)
    assert engine.wait(arn)["status"] == "SUCCEEDED"
    assert [s["weights_after"]["www.shop.example.com"]["aws"] for s in shifts(engine, "full")] == [10, 100]
    events = [e["event"] for e in ledger(engine, "full")]
    assert events.index("rechecked") < max(i for i, e in enumerate(events) if e == "shifted")


def test_a_scheduled_promotion_fires_at_its_time_and_not_before(engine):
    at = engine.clock.start + timedelta(hours=3)
    described = engine.run(dict(gated({"promote": {"at": iso(at)}}), hosted_zone_id=engine.zone_id), name="at")
    assert described["status"] == "SUCCEEDED"
    second = shifts(engine, "at")[1]
    assert parse_iso(second["at"]) >= at
    assert parse_iso(second["at"]) - at < timedelta(minutes=2)  # the recheck and the shift right after


def test_a_promotion_outside_its_window_waits_for_the_window(engine):
    # the engine's clock starts on Tuesday 2026-12-01 14:00 UTC (15:00 in Berlin), after the window
    window = {"days": ["wed"], "start": "09:00", "end": "10:00", "timezone": "Europe/Berlin"}
    # 18 hours of waiting: the probes (every 30 s here, with their own tests) are not this test's subject
    held = dict(gated({"promote": {"window": window}}), hosted_zone_id=engine.zone_id,
                probe={"skip": "not this test's subject: an 18-hour wait for a promotion window"})
    described = engine.run(held, name="window")
    assert described["status"] == "SUCCEEDED"
    second = parse_iso(shifts(engine, "window")[1]["at"])
    opens = parse_iso("2026-12-02T08:00:00Z")
    assert opens <= second < opens + timedelta(hours=1)


def test_an_alarm_breach_while_waiting_rolls_back(engine):
    arn = engine.start(dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id), name="breach-held")
    wait_for(engine, "breach-held", "waiting_for_promotion")
    deliver_alarm(engine)
    described = engine.wait(arn)
    assert described["status"] in ("FAILED", "ABORTED")
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert Store(engine.stack.table_name).gate("breach-held") is None


@pytest.mark.parametrize("second", [{"promote": "manual"}, {"promote": {"at": "2026-12-02T08:00:00Z"}}])
def test_an_alarm_the_listener_never_handles_still_rolls_back_a_waiting_stage_within_one_reconcile(engine, second):
    """Every invocation of the listener fails (after Lambda's retries, to the DLQ): the stage
    waiting at its gate is not left on AWS until the gate ends; the reconciler rechecks its alarms."""
    from cutover_local.faults import LambdaServiceException

    def listener_down(event):
        raise LambdaServiceException("injected: the alarm listener is unavailable")

    engine.faults["AlarmListenerFunction"] = listener_down
    # the first stage (shifted at about 3,700 s) is judged at about 4,540 s: at 5,000 s the second waits at its gate
    breached_at = 5000
    at_virtual_second(engine, breached_at, lambda: deliver_alarm(engine))
    described = engine.run(dict(gated(second), hosted_zone_id=engine.zone_id), name="unheard")
    assert described["status"] in ("FAILED", "ABORTED")  # the token refused, or the execution stopped
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    rolled = [e for e in ledger(engine, "unheard") if e["event"] == "rolled_back"]
    assert [e["actor"] for e in rolled if not e["repeated"]] == ["reconciler"] and "shop-5xx-rate" in rolled[0]["reason"]
    held = [e for e in ledger(engine, "unheard") if e["event"] in ("evaluated", "waiting_for_promotion")]
    assert parse_iso(held[-1]["at"]) < parse_iso(rolled[0]["at"]), "it was waiting at the gate"
    assert (parse_iso(rolled[0]["at"]) - (engine.clock.start + timedelta(seconds=breached_at))).total_seconds() <= 5 * 60 + 60
    assert len(shifts(engine, "unheard")) == 1, "the gate never opened"
    assert Store(engine.stack.table_name).lock_holder("www.shop.example.com") is None


@pytest.mark.parametrize("then_promote", [False, True])
def test_abort_while_a_promotion_is_pending_ends_on_heroku_and_wins(engine, then_promote):
    name = f"abort-{then_promote}"
    arn = engine.start(dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id), name=name)
    wait_for(engine, name, "waiting_for_promotion")
    aborted = operator(engine, "Abort", cutover_id=name, reason="checkout errors reported by support")
    assert aborted["aborted"] is True and aborted["ended"] == "the pending promotion was refused"
    if then_promote:  # a promotion that arrives after the abort changes nothing
        assert operator(engine, "Promote", cutover_id=name)["errorType"] == "NotWaiting"
    described = engine.wait(arn)
    assert (described["status"], described["error"]) == ("FAILED", "CutoverRolledBack")
    assert "OperatorAborted" in described["cause"]
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    aborted_entry = next(e for e in ledger(engine, name) if e["event"] == "aborted")
    assert aborted_entry["actor"] == "alice" and "support" in aborted_entry["reason"]
    assert "AbortFunction" in engine.api_calls  # checked against its policy at teardown


def test_an_abort_needs_a_reason(engine):
    assert operator(engine, "Abort", cutover_id="anything")["errorType"] == "InputInvalid"


def test_a_manual_gate_nobody_promotes_rolls_back_after_the_plans_gate_timeout(engine):
    raw = dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id, gate_timeout="10m")
    described = engine.run(raw, name="forgotten")
    assert (described["status"], described["error"]) == ("FAILED", "CutoverRolledBack")
    assert "States.Timeout" in described["cause"]
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    held = next(e for e in ledger(engine, "forgotten") if e["event"] == "waiting_for_promotion")
    rolled = next(e for e in ledger(engine, "forgotten") if e["event"] == "rolled_back")
    waited = (parse_iso(rolled["at"]) - parse_iso(held["at"])).total_seconds()
    assert 600 <= waited <= 600 + 60

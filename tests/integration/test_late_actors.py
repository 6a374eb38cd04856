"""Late or stale actors: an abort, an alarm event or the safety net acting on a cutover that is no
longer live must change nothing."""

from __future__ import annotations

import pytest

from cutover import operations
from cutover.errors import CutoverNotLive
from cutover.handler import deps
from tests.integration.driver import committed_on_aws, start, step, to_stage
from tests.integration.test_reactions import alarm_event, ended_event
from tests.support import plan


def succeeded(world) -> dict:
    state = step(world, "RestoreTtl", to_stage(world, 3))
    return world.invoke("Finalize", {"cutover": state})


def test_aborting_a_cutover_that_succeeded_changes_nothing(world):
    succeeded(world)
    with pytest.raises(CutoverNotLive, match="it succeeded"):
        operations.abort("exec-1", "too late", "alice", deps())
    assert committed_on_aws(world)
    assert [e["event"] for e in world.ledger("exec-1")][-1] == "abort_refused"


def test_aborting_an_old_cutover_does_not_touch_the_new_one_on_the_same_name(world):
    old = to_stage(world, 1)
    world.invoke("Rollback", {"cutover": old, "error": {"Error": "X", "Cause": "first attempt"}})
    new = start(world, plan(hosted_zone_id=world.zone_id), name="exec-2")
    assert world.lock_holder() == "exec-2" and new["status"] == "RUNNING"
    with pytest.raises(CutoverNotLive, match="another cutover holds its names"):
        operations.abort("exec-1", "wrong terminal", "alice", deps())
    assert world.lock_holder() == "exec-2"


def test_a_stale_watch_in_the_index_does_not_roll_back_a_cutover_that_succeeded(world):
    succeeded(world)
    # the eventually consistent index still lists the watch the cutover removed at its end (or a
    # watch leaked): the listener finds it
    deps().store.watch("exec-1", ["shop-5xx-rate"], None)
    result = world.invoke("AlarmListener", alarm_event(world))
    assert result["rolled_back"] == []
    assert committed_on_aws(world)
    assert any(e["event"] == "alarm_state_ignored" and "succeeded" in e["why"] for e in world.ledger("exec-1"))


def test_the_safety_net_leaves_names_another_cutover_holds_alone(world):
    old = to_stage(world, 1)
    world.invoke("Rollback", {"cutover": old, "error": {"Error": "X", "Cause": "y"}})
    start(world, plan(hosted_zone_id=world.zone_id), name="exec-2")
    before = world.weights()
    result = world.invoke("SafetyNet", ended_event("exec-1", "FAILED"))
    assert result["acted"] is False and "another cutover" in result["why"]
    assert world.weights() == before and world.lock_holder() == "exec-2"


def test_an_alarm_already_in_alarm_refuses_the_cutover_before_anything_changes(world):
    from cutover.errors import AlarmBreached

    world.set_alarm("shop-5xx-rate", "ALARM", "5xx 9%")
    with pytest.raises(AlarmBreached, match="before the cutover started"):
        start(world)
    assert [r.get("SetIdentifier") for r in world.records()] == [None], "still the simple CNAME"
    assert world.lock_holder() is None

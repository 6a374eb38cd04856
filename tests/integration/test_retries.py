"""Retries that must not cause false rollbacks: a step Step Functions runs again recognises its own
change, records it once and notifies once."""

from __future__ import annotations

from cutover.adapters.store import Store
from cutover_local.faults import Crash, LostResponse
from tests.integration.test_harsh_engine import _World
from tests.support import plan


def entries(engine, name, event):
    return [e for e in Store(engine.stack.table_name).ledger(name) if e["event"] == event]


def test_a_shift_whose_response_was_lost_goes_on_instead_of_rolling_back(engine):
    LostResponse("ShiftFunction", 2).install(_World(engine))
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="lost-shift")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert [e["stage"] for e in entries(engine, "lost-shift", "shifted")] == [1, 2, 3]


def test_a_shift_that_crashed_after_its_swap_is_retried_and_recognises_its_change(engine):
    # the second Shift: its first AWS call is the swap; it dies at its second (saving the state)
    Crash("ShiftFunction", 2, 2).install(_World(engine))
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="crashed-shift")
    assert described["status"] == "SUCCEEDED", described.get("cause")
    assert [i.error for i in engine.invocations if i.function == "ShiftFunction"].count("Lambda.Unknown") == 1


def test_a_finalize_whose_response_was_lost_records_and_notifies_success_once(engine):
    LostResponse("FinalizeFunction", 1).install(_World(engine))
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="lost-finalize")
    assert described["status"] == "SUCCEEDED"
    assert len(entries(engine, "lost-finalize", "succeeded")) == 1
    assert len([i for i in engine.invocations if i.function == "FinalizeFunction"]) == 2

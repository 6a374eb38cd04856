"""Promotion gates: parsing and the next moment a gate lets a stage through."""

from datetime import UTC, datetime

import pytest

from cutover.gates import parse_gate
from cutover.plan import parse_plan
from tests.support import plan

WEEKDAYS = {"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:00", "timezone": "Europe/Berlin"}


def gate(value):
    parsed, problems = parse_gate(value, "stages[1].promote")
    assert problems == []
    return parsed


def test_no_gate_and_auto_mean_none():
    assert parse_gate(None, "x") == (None, []) and parse_gate("auto", "x") == (None, [])


def test_a_manual_gate_has_no_time():
    assert gate("manual").kind == "manual" and gate("manual").opens_at(datetime.now(UTC)) is None


def test_an_at_gate_opens_at_its_time_or_now_if_past():
    g = gate({"at": "2026-12-01T14:00:00+01:00"})
    assert g.opens_at(datetime(2026, 12, 1, 12, 0, tzinfo=UTC)) == datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
    late = datetime(2026, 12, 2, tzinfo=UTC)
    assert g.opens_at(late) == late


@pytest.mark.parametrize(("now", "opens"), [
    (datetime(2026, 12, 1, 10, 0, tzinfo=UTC), datetime(2026, 12, 1, 10, 0, tzinfo=UTC)),   # Tuesday 11:00 Berlin: open
    (datetime(2026, 12, 1, 16, 30, tzinfo=UTC), datetime(2026, 12, 2, 8, 0, tzinfo=UTC)),   # Tuesday 17:30 Berlin: tomorrow 09:00
    (datetime(2026, 12, 5, 12, 0, tzinfo=UTC), datetime(2026, 12, 7, 8, 0, tzinfo=UTC)),    # Saturday: Monday 09:00
    (datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),    # across the switch to summer time
])
def test_a_window_opens_at_the_next_allowed_moment_in_its_time_zone(now, opens):
    assert gate({"window": WEEKDAYS}).opens_at(now) == opens


def test_gates_round_trip_through_the_normalized_plan():
    raw = plan(stages=[{"weight": 10, "bake": "10m"}, {"weight": 50, "bake": "20m", "promote": "manual"},
                       {"weight": 100, "bake": "30m", "promote": {"window": WEEKDAYS}}])
    parsed = parse_plan(raw)
    assert [s.promote.kind if s.promote else None for s in parsed.stages] == [None, "manual", "window"]
    assert parse_plan(parsed.to_dict()) == parsed

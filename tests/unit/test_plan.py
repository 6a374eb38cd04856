"""Plan parsing and validation: every rule refuses a bad plan and names the field."""

from __future__ import annotations

import json

import pytest
import yaml

from cutover.durations import format_duration, parse_duration
from cutover.errors import PlanInvalid
from cutover.plan import check_against_zone, load_plan_text, parse_plan
from tests.support import ALARMS, ALB, BASE_PLAN, HEROKU, NAME, ZONE, plan


def problems_of(raw) -> list[tuple[str, str]]:
    with pytest.raises(PlanInvalid) as caught:
        parse_plan(raw)
    return caught.value.problems


def test_given_the_example_plan_when_parsed_then_fields_are_normalized():
    parsed = parse_plan(plan(records=["WWW.Shop.Example.com."]))
    assert parsed.names == (NAME,)
    assert parsed.records[0].heroku_target == HEROKU
    assert parsed.records[0].aws_target == ALB
    assert [(s.weight, s.bake) for s in parsed.stages] == [(10, 600), (50, 1200), (100, 1800)]
    assert parsed.ttl_during == 60
    assert parsed.alarms == tuple(ALARMS)


def test_defaults_are_stages_10_50_100_ttl_60_and_insufficient_data_wait():
    parsed = parse_plan(plan(stages=None, ttl=None, insufficient_data=None))
    assert [s.weight for s in parsed.stages] == [10, 50, 100]
    assert parsed.ttl_during == 60
    assert parsed.insufficient_data == "wait"


def test_normalized_plan_round_trips():
    parsed = parse_plan(BASE_PLAN)
    assert parse_plan(json.loads(json.dumps(parsed.to_dict()))) == parsed


def test_yaml_and_json_texts_give_the_same_plan():
    assert parse_plan(load_plan_text(yaml.safe_dump(BASE_PLAN))) == parse_plan(load_plan_text(json.dumps(BASE_PLAN)))


def test_unreadable_text_is_refused_naming_the_plan():
    with pytest.raises(PlanInvalid) as caught:
        load_plan_text("stages: [weight: 10\n")
    assert caught.value.problems[0][0] == "plan"


def test_records_may_carry_their_own_targets_over_the_defaults():
    parsed = parse_plan(
        plan(records=[NAME, {"name": "api.shop.example.com", "heroku": {"target": "api-1.herokudns.com"}, "aws": {"target": "api-alb.elb.amazonaws.com"}}])
    )
    assert parsed.records[1].heroku_target == "api-1.herokudns.com"
    assert parsed.records[1].aws_target == "api-alb.elb.amazonaws.com"
    assert parsed.records[0].aws_target == ALB


def test_heroku_target_may_be_left_out():
    assert parse_plan(plan(heroku=None)).records[0].heroku_target is None


# One failing plan per rule: (the plan, the field the message must name, a phrase of the reason)
RULES = [
    ("not a mapping", ["a list"], "plan", "mapping"),
    ("unknown top-level field", plan(stagse=[]), "stagse", "unknown field"),
    ("unknown nested field", plan(ttl={"during": 60, "after": 300}), "ttl.after", "unknown field"),
    ("zone id missing", plan(hosted_zone_id=None), "hosted_zone_id", "hosted zone id"),
    ("zone id malformed", plan(hosted_zone_id="shop.example.com"), "hosted_zone_id", "hosted zone id"),
    ("records missing", plan(records=None), "records", "required"),
    ("records empty", plan(records=[]), "records", "non-empty"),
    ("record not a name", plan(records=[42]), "records[0]", "DNS name"),
    ("record not fully qualified", plan(records=["www"]), "records[0]", "fully qualified"),
    ("record wildcard", plan(records=["*.shop.example.com"]), "records[0]", "wildcard"),
    ("record bad label", plan(records=["ww_w.shop.example.com"]), "records[0]", "invalid label"),
    ("duplicate record", plan(records=[NAME, NAME.upper()]), "records[1]", "listed twice"),
    ("record mapping without name", plan(records=[{"aws": {"target": ALB}}]), "records[0].name", "required"),
    ("unknown record field", plan(records=[{"name": NAME, "weight": 5}]), "records[0].weight", "unknown field"),
    ("herokuapp.com target", plan(heroku={"target": "tranquil-reef-1234.herokuapp.com"}), "heroku.target", "herokudns.com"),
    ("per-record herokuapp.com target", plan(records=[{"name": NAME, "heroku": {"target": "x.herokuapp.com"}}]), "records[0].heroku.target", "certificates"),
    ("aws target missing", plan(aws=None), "aws.target", "required"),
    ("aws target malformed", plan(aws={"target": "shop alb.example.com"}), "aws.target", "invalid label"),
    ("same target twice", plan(aws={"target": HEROKU}), "records[0]", "same name"),
    ("target is the record", plan(aws={"target": NAME}), "records[0]", "own name"),
    ("ttl.during missing", plan(ttl={}), "ttl.during", "required"),
    ("ttl.during too low", plan(ttl={"during": 1}), "ttl.during", "between"),
    ("ttl.during too high", plan(ttl={"during": "1h"}), "ttl.during", "between"),
    ("ttl.during not a duration", plan(ttl={"during": "soon"}), "ttl.during", "seconds"),
    ("stages empty", plan(stages=[]), "stages", "non-empty"),
    ("stage not a mapping", plan(stages=[100]), "stages[0]", "mapping"),
    ("weight not an integer", plan(stages=[{"weight": 12.5, "bake": "10m"}, {"weight": 100, "bake": "10m"}]), "stages[0].weight", "whole percent"),
    ("weight a boolean", plan(stages=[{"weight": True, "bake": "10m"}]), "stages[0].weight", "whole percent"),
    ("weight zero", plan(stages=[{"weight": 0, "bake": "10m"}, {"weight": 100, "bake": "10m"}]), "stages[0].weight", "1 to 100"),
    ("weight over 100", plan(stages=[{"weight": 150, "bake": "10m"}]), "stages[0].weight", "1 to 100"),
    ("weights not increasing", plan(stages=[{"weight": 50, "bake": "10m"}, {"weight": 50, "bake": "10m"}, {"weight": 100, "bake": "10m"}]), "stages[1].weight", "strictly increase"),
    ("last stage not 100", plan(stages=[{"weight": 10, "bake": "10m"}, {"weight": 50, "bake": "10m"}]), "stages[1].weight", "must be 100"),
    ("bake missing", plan(stages=[{"weight": 100}]), "stages[0].bake", "required"),
    ("bake malformed", plan(stages=[{"weight": 100, "bake": "ten minutes"}]), "stages[0].bake", "seconds"),
    ("bake negative", plan(stages=[{"weight": 100, "bake": -5}]), "stages[0].bake", "negative"),
    ("bake shorter than the TTL", plan(stages=[{"weight": 100, "bake": "30s"}]), "stages[0].bake", "at least ttl.during"),
    ("bake too long", plan(stages=[{"weight": 100, "bake": "25h"}]), "stages[0].bake", "at most"),
    ("promotion unknown", plan(stages=[{"weight": 100, "bake": "10m", "promote": "soon"}]), "stages[0].promote", "must be 'manual'"),
    ("promotion at without zone", plan(stages=[{"weight": 100, "bake": "10m", "promote": {"at": "2026-12-01T14:00:00"}}]), "stages[0].promote.at", "zone offset"),
    ("promotion at malformed", plan(stages=[{"weight": 100, "bake": "10m", "promote": {"at": "tomorrow"}}]), "stages[0].promote.at", "ISO 8601"),
    ("window days", plan(stages=[{"weight": 100, "bake": "10m", "promote": {"window": {"days": ["monday"], "start": "09:00", "end": "17:00", "timezone": "UTC"}}}]), "stages[0].promote.window.days", "non-empty list"),
    ("window ends before it starts", plan(stages=[{"weight": 100, "bake": "10m", "promote": {"window": {"days": ["mon"], "start": "17:00", "end": "09:00", "timezone": "UTC"}}}]), "stages[0].promote.window.end", "later than start"),
    ("window time zone", plan(stages=[{"weight": 100, "bake": "10m", "promote": {"window": {"days": ["mon"], "start": "09:00", "end": "17:00", "timezone": "Mars/Olympus"}}}]), "stages[0].promote.window.timezone", "IANA"),
    ("alarms missing", plan(alarms=None), "alarms", "required"),
    ("alarms empty", plan(alarms=[]), "alarms", "non-empty"),
    ("alarm not a name", plan(alarms=[""]), "alarms[0]", "alarm name"),
    ("alarm twice", plan(alarms=["a", "a"]), "alarms[1]", "listed twice"),
    ("insufficient_data unknown", plan(insufficient_data="pass"), "insufficient_data", "wait, fail, ignore"),
    ("notify topic malformed", plan(notify={"topic_arn": "cutover-topic"}), "notify.topic_arn", "SNS topic ARN"),
]


@pytest.mark.parametrize(("raw", "field", "phrase"), [r[1:] for r in RULES], ids=[r[0] for r in RULES])
def test_each_rule_refuses_the_plan_naming_the_field(raw, field, phrase):
    problems = problems_of(raw)
    matching = [reason for where, reason in problems if where == field]
    assert matching, f"no problem names {field}: {problems}"
    assert any(phrase in reason for reason in matching), matching


def test_every_problem_is_reported_at_once():
    problems = problems_of(plan(hosted_zone_id="bad", alarms=[], insufficient_data="maybe"))
    assert {p[0] for p in problems} == {"hosted_zone_id", "alarms", "insufficient_data"}


def test_the_error_message_names_field_and_reason():
    with pytest.raises(PlanInvalid, match=r"stages\[0\]\.weight: must be from 1 to 100"):
        parse_plan(plan(stages=[{"weight": 0, "bake": 600}]))


ZONE_CHECKS = [
    ("apex", plan(records=[ZONE]), "records[0]", "zone apex"),
    ("outside the zone", plan(records=["www.other.example.org"]), "records[0]", "not inside the hosted zone"),
    ("not allowed by the stack", plan(records=["api.shop.example.com"]), "records[0]", "RecordNames"),
    ("alarm does not exist", plan(alarms=["shop-5xx-rate", "nope"]), "alarms[1]", "no CloudWatch alarm"),
]


@pytest.mark.parametrize(("raw", "field", "phrase"), [r[1:] for r in ZONE_CHECKS], ids=[r[0] for r in ZONE_CHECKS])
def test_each_live_check_refuses_the_plan_naming_the_field(raw, field, phrase):
    with pytest.raises(PlanInvalid) as caught:
        check_against_zone(parse_plan(raw), ZONE + ".", frozenset({NAME, ZONE}), frozenset(ALARMS))
    matching = [reason for where, reason in caught.value.problems if where == field]
    assert matching and phrase in matching[0], caught.value.problems


def test_apex_refusal_names_the_way_out():
    with pytest.raises(PlanInvalid) as caught:
        check_against_zone(parse_plan(plan(records=[ZONE])), ZONE, None, frozenset(ALARMS))
    message = str(caught.value)
    assert f"www.{ZONE}" in message and "CloudFront" in message


def test_a_valid_plan_passes_the_live_checks():
    check_against_zone(parse_plan(BASE_PLAN), ZONE, frozenset({NAME}), frozenset(ALARMS))


@pytest.mark.parametrize(("text", "seconds"), [(90, 90), ("90s", 90), ("10m", 600), ("1h", 3600), (" 2m ", 120), ("45", 45)])
def test_durations_accept_seconds_and_units(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["1d", "1.5m", "", "m", True, None, -1, "10 minutes"])
def test_durations_refuse_anything_else(text):
    with pytest.raises(ValueError):
        parse_duration(text)


def test_durations_format_shortly():
    assert [format_duration(s) for s in (0, 45, 600, 5400)] == ["0s", "45s", "10m", "1h30m"]



@pytest.mark.parametrize("value", ["30s", "8d", "soon"])
def test_a_gate_timeout_outside_one_minute_to_seven_days_is_refused(value):
    with pytest.raises(PlanInvalid, match="gate_timeout"):
        parse_plan(plan(gate_timeout=value))


def test_the_gate_timeout_defaults_to_four_hours_and_travels_with_the_plan():
    assert parse_plan(plan()).gate_timeout == 4 * 3600
    assert parse_plan(plan(gate_timeout="2h")).to_dict()["gate_timeout"] == 7200

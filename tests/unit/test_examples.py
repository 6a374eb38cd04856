"""The shipped examples stay valid against the plan rules and each other."""

import json

import yaml

from cutover.plan import load_plan_text, parse_plan
from cutover_local.template import load as load_template
from tests.support import ROOT


def test_the_example_plan_is_valid_in_yaml_and_json_alike():
    from_yaml = parse_plan(load_plan_text((ROOT / "examples" / "plan.yaml").read_text()))
    from_json = parse_plan(json.loads((ROOT / "examples" / "plan.json").read_text()))
    assert from_yaml == from_json
    assert [s.weight for s in from_yaml.stages] == [10, 50, 100]


def test_the_example_plan_names_the_alarms_the_example_template_creates():
    alarms = load_template(ROOT / "examples" / "alarms.yaml")
    prefix = alarms["Parameters"]["AlarmPrefix"]["Default"]
    names = {r["Properties"]["AlarmName"]["Fn::Sub"].replace("${AlarmPrefix}", prefix) for r in alarms["Resources"].values()}
    plan = yaml.safe_load((ROOT / "examples" / "plan.yaml").read_text())
    assert set(plan["alarms"]) == names


def test_the_error_rate_alarm_guards_against_too_few_requests():
    alarms = load_template(ROOT / "examples" / "alarms.yaml")
    metrics = alarms["Resources"]["ErrorRateAlarm"]["Properties"]["Metrics"]
    expression = next(m for m in metrics if m.get("ReturnData"))["Expression"]["Fn::Sub"]
    assert "requests >=" in expression and "HTTPCode_Target_5XX_Count" in json.dumps(metrics)


def test_the_example_scenario_loads():
    from cutover_local import scenarios

    scenario = scenarios.load(str(ROOT / "examples" / "scenario.yaml"))
    assert scenario.name == "slow-at-full"
    assert [e.p99_seconds for e in scenario.traffic] == [2.0, None]
    assert scenario.traffic[1].duration == 60 and scenario.faults == {"ShiftFunction": 1}
    assert scenario.throttle_route53 == 1

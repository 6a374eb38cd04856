"""The local engine's EventBridge: template rules matched with moto's matcher, real-shaped events."""

import json
from datetime import UTC, datetime

from cutover_local.eventbridge import EventBus, Rule, alarm_state_change, rules_from_template
from tests.support import ROOT

EVENT = json.loads((ROOT / "tests" / "events" / "alarm_state_change_alarm.json").read_text())
ALARM_RULE = Rule("AlarmRule", {"source": ["aws.cloudwatch"], "detail-type": ["CloudWatch Alarm State Change"],
                                "detail": {"state": {"value": ["ALARM"]}}}, ("listener",))


def test_a_matching_event_is_delivered_to_each_target_and_others_are_not():
    delivered = []
    bus = EventBus([ALARM_RULE, Rule("Other", {"source": ["aws.states"]}, ("safety-net",))], lambda t, e: delivered.append((t, e)))
    assert bus.put(EVENT) == ["listener"]
    assert delivered == [("listener", EVENT)]
    ok = json.loads(json.dumps(EVENT))
    ok["detail"]["state"]["value"] = "OK"
    assert bus.put(ok) == [] and bus.unmatched == 1


def test_the_engine_builds_events_of_the_real_shape():
    alarm = {"AlarmName": "shop-5xx-rate", "AlarmArn": EVENT["resources"][0], "AlarmDescription": "d", "Metrics": []}
    built = alarm_state_change(alarm, "OK", "ALARM", "crossed", datetime(2026, 12, 1, 15, 4, tzinfo=UTC), "123456789012", "us-east-1")
    assert set(built) == set(EVENT)
    assert set(built["detail"]) == set(EVENT["detail"])
    assert built["detail"]["state"]["value"] == "ALARM" and built["detail"]["previousState"]["value"] == "OK"
    assert built["time"] == EVENT["time"]
    assert ALARM_RULE.matches(built)


def test_rules_come_from_rule_resources_and_function_events():
    resources = {
        "AlarmRule": {"Type": "AWS::Events::Rule", "Properties": {"EventPattern": ALARM_RULE.pattern,
                                                                 "Targets": [{"Arn": {"Fn::GetAtt": ["ListenerFunction", "Arn"]}, "Id": "l"}]}},
        "ListenerFunction": {"Type": "AWS::Serverless::Function", "Properties": {"Events": {
            "Ended": {"Type": "EventBridgeRule", "Properties": {"Pattern": {"source": ["aws.states"]}}}}}},
    }
    rules = rules_from_template(resources, {"ListenerFunction": "stack-ListenerFunction"})
    assert [(r.name, r.targets) for r in rules] == [("AlarmRule", ("stack-ListenerFunction",)),
                                                    ("ListenerFunction.Ended", ("stack-ListenerFunction",))]

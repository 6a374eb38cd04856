"""Static checks of template.yaml and the thin handlers."""

from __future__ import annotations

import ast

import pytest

from tests.support import ROOT, template

TEMPLATE = template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"}
# CloudWatch Logs' log-delivery actions have no resource-level permissions; AWS documents "*".
NO_RESOURCE_LEVEL = {"cloudwatch:DescribeAlarms", "cloudwatch:DescribeAlarmHistory", "cloudwatch:GetMetricData"}
# Task-token callbacks have no resource-level permissions either; only the operator functions answer them.
TASK_TOKEN = {"PromoteFunction": {"states:SendTaskSuccess"}, "CommitFunction": {"states:SendTaskSuccess"}, "AbortFunction": {"states:SendTaskFailure"},
              "AlarmListenerFunction": {"states:SendTaskFailure"}, "ReconcileFunction": {"states:SendTaskFailure"}}
# CreateHealthCheck has no resource-level permission either: only the Preflight creates them.
CREATES_HEALTH_CHECKS = {"PreflightFunction": {"route53:CreateHealthCheck"}}
# PutMetricData has no resource-level permission: only the probe puts metrics, and only to the
# namespaces its condition names
PUTS_METRICS = {"ProbeFunction": {"cloudwatch:PutMetricData"}}
LOG_DELIVERY = {
    "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
}


def statements():
    for name, resource in RESOURCES.items():
        docs = []
        if resource["Type"] == "AWS::IAM::ManagedPolicy":
            docs.append(resource["Properties"]["PolicyDocument"])
        for policy in resource.get("Properties", {}).get("Policies", []) or []:
            if isinstance(policy, dict) and "Statement" in policy:
                docs.append(policy)
        for doc in docs:
            for statement in doc["Statement"]:
                yield name, statement


def test_the_order_of_sections_is_fixed():
    order = [k for k in TEMPLATE if k in ("Transform", "Description", "Parameters", "Conditions", "Globals", "Resources", "Outputs")]
    assert order == ["Transform", "Description", "Parameters", "Conditions", "Globals", "Resources", "Outputs"]


def test_functions_run_python313_on_arm64_with_tracing_and_the_layer():
    glob = TEMPLATE["Globals"]["Function"]
    assert glob["Runtime"] == "python3.13" and glob["Architectures"] == ["arm64"]
    assert glob["Tracing"] == "Active" and glob["Layers"] == [{"Ref": "CutoverLayer"}]


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_each_function_has_its_code_and_its_own_scoped_policies(name):
    props = FUNCTIONS[name]["Properties"]
    assert (ROOT / props["CodeUri"] / "app.py").is_file()
    assert props["Handler"] == "app.lambda_handler"
    assert props.get("Policies"), f"{name} has no policy of its own"


def test_no_mutating_action_is_granted_on_every_resource():
    for owner, statement in statements():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement.get("Resource") == "*":
            allowed = NO_RESOURCE_LEVEL | (LOG_DELIVERY if owner in ("CutoverStateMachine", "CampaignStateMachine") else set())
            allowed |= TASK_TOKEN.get(owner, set()) | CREATES_HEALTH_CHECKS.get(owner, set()) | PUTS_METRICS.get(owner, set())
            assert set(actions) <= allowed, f"{owner}: {set(actions) - allowed} on '*'"
            if "cloudwatch:PutMetricData" in actions:
                namespaces = statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
                assert set(namespaces) == {"Cutover/Probes", "Cutover"}, f"{owner} may put metrics anywhere"


def test_the_probe_function_only_reads_the_live_cutovers_and_puts_its_metrics():
    actions = {a for owner, statement in statements() if owner == "ProbeFunction"
               for a in (statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]])}
    assert actions == {"dynamodb:Query", "cloudwatch:PutMetricData"}
    assert FUNCTIONS["ProbeFunction"]["Properties"]["EventInvokeConfig"]["MaximumRetryAttempts"] == 0


def test_record_changes_are_limited_to_the_named_cname_records():
    changes = [(o, s) for o, s in statements() if "route53:ChangeResourceRecordSets" in str(s["Action"])]
    assert changes
    for _owner, statement in changes:
        condition = statement["Condition"]["ForAllValues:StringEquals"]
        assert condition["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == {"Fn::Split": [",", {"Ref": "RecordNames"}]}
        assert condition["route53:ChangeResourceRecordSetsRecordTypes"] == ["CNAME"]
        assert "hostedzone" in str(statement["Resource"])


def test_only_the_rollback_paths_may_upsert():
    for owner, statement in statements():
        condition = statement.get("Condition", {}).get("ForAllValues:StringEquals", {})
        if "UPSERT" in condition.get("route53:ChangeResourceRecordSetsActions", []):
            assert owner == "RollbackRecordsPolicy"
    users = {n for n, f in FUNCTIONS.items() if {"Ref": "RollbackRecordsPolicy"} in f["Properties"]["Policies"]}
    assert users == {"RollbackFunction", "AlarmListenerFunction", "SafetyNetFunction", "AbortFunction", "ReconcileFunction"}


def test_the_listener_may_stop_only_this_state_machines_executions():
    listener = FUNCTIONS["AlarmListenerFunction"]["Properties"]["Policies"]
    stop = [s for p in listener if "Statement" in p for s in p["Statement"] if "states:StopExecution" in s["Action"]]
    assert len(stop) == 1
    assert "${CutoverStateMachine.Name}" in stop[0]["Resource"]["Fn::Sub"]
    assert stop[0]["Resource"]["Fn::Sub"].startswith("arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:")


def test_the_listener_hears_alarms_going_to_alarm_and_the_safety_net_bad_endings_of_this_machine():
    listener = FUNCTIONS["AlarmListenerFunction"]["Properties"]["Events"]["AlarmWentToAlarm"]["Properties"]["Pattern"]
    assert listener["detail-type"] == ["CloudWatch Alarm State Change"] and listener["detail"]["state"]["value"] == ["ALARM"]
    net = FUNCTIONS["SafetyNetFunction"]["Properties"]["Events"]["ExecutionEndedBadly"]["Properties"]["Pattern"]
    assert set(net["detail"]["status"]) == {"FAILED", "TIMED_OUT", "ABORTED"}
    assert net["detail"]["stateMachineArn"] == [{"Ref": "CutoverStateMachine"}]


def test_the_table_indexes_watched_alarms():
    indexes = RESOURCES["CutoverTable"]["Properties"]["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in indexes] == ["watched-alarm"]
    assert indexes[0]["KeySchema"][0]["AttributeName"] == "watched_alarm"


def test_table_has_point_in_time_recovery():
    props = RESOURCES["CutoverTable"]["Properties"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def test_state_machine_is_standard_with_logging_and_tracing():
    props = RESOURCES["CutoverStateMachine"]["Properties"]
    assert props["Type"] == "STANDARD"
    assert props["Tracing"]["Enabled"] is True
    assert props["Logging"]["Level"] == "ALL"


def test_outputs_name_what_the_cli_and_tests_look_up():
    assert {"StateMachineArn", "TableName", "TopicArn"} <= set(TEMPLATE["Outputs"])


def _calls_and_imports(path):
    tree = ast.parse(path.read_text())
    imports = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imports |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    attributes = {f"{n.value.id}.{n.attr}" for n in ast.walk(tree) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)}
    return tree, imports, attributes


@pytest.mark.parametrize("path", sorted((ROOT / "functions").glob("*/app.py")), ids=lambda p: p.parent.name)
def test_handlers_stay_thin(path):
    tree, imports, attributes = _calls_and_imports(path)
    assert not imports & {"boto3", "botocore", "os"}, imports
    assert "os.environ" not in attributes
    assert len(path.read_text().splitlines()) <= 40
    handlers = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    assert [h.name for h in handlers] == ["lambda_handler"]
    assert len(handlers[0].body) <= 3, "a handler parses its input and calls one step"


def test_every_function_folder_is_deployed():
    folders = {p.parent.name for p in (ROOT / "functions").glob("*/app.py")}
    deployed = {f["Properties"]["CodeUri"].strip("/").split("/")[-1] for f in FUNCTIONS.values()}
    assert folders == deployed


def test_the_wheel_carries_every_deployed_function_the_template_and_the_state_machines():
    """An installed wheel's ``rehearse`` and ``local up`` deploy from ``<prefix>/share/cutover``:
    a function missing there fails every rehearsal outside a clone."""
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    shipped = {folder.removeprefix("share/cutover/functions/") for folder, files in data.items()
               if folder.startswith("share/cutover/functions/") and files == [f"functions/{folder.rsplit('/', 1)[1]}/*.py"]}
    deployed = {f["Properties"]["CodeUri"].strip("/").split("/")[-1] for f in FUNCTIONS.values()}
    assert deployed - shipped == set(), "listed in template.yaml, not in pyproject.toml's data-files"
    assert data["share/cutover"] == ["template.yaml"] and data["share/cutover/statemachines"] == ["statemachines/*.json"]


def test_the_layer_ships_botocore_only_with_its_boto3_both_as_tested():
    from tests.support import ROOT

    def pins(path):
        out = {}
        for line in (ROOT / path).read_text().splitlines():
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                out[name.split("[")[0].lower()] = version
        return out

    layer, dev = pins("layers/cutover/requirements.txt"), pins("requirements-dev.txt")
    brings_botocore = "botocore" in layer or "aws-lambda-powertools" in layer  # the tracer extra needs it
    assert brings_botocore
    assert layer.get("boto3") and layer.get("botocore") == layer.get("boto3")
    assert (layer["boto3"], layer["botocore"]) == (dev["boto3"], dev["botocore"])


def test_health_checks_are_read_by_the_shift_and_the_evaluation_and_deleted_only_by_the_rollback_paths_and_finalize():
    by_action: dict[str, set[str]] = {}
    for owner, statement in statements():
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        for action in actions:
            by_action.setdefault(action, set()).add(owner)
    assert by_action["route53:CreateHealthCheck"] == {"PreflightFunction"}
    # and the operators (cutover status shows what the checkers say)
    assert by_action["route53:GetHealthCheckStatus"] == {"ShiftFunction", "EvaluateAlarmsFunction", "OperatorPolicy"}
    assert by_action["route53:DeleteHealthCheck"] == {"RollbackRecordsPolicy", "FinalizeFunction"}


def test_logs_are_kept_as_long_as_the_stack_says_and_the_topic_is_encrypted_with_a_key_alarms_may_use():
    assert TEMPLATE["Globals"]["Function"]["LoggingConfig"] == {"LogGroup": {"Ref": "FunctionLogGroup"}}
    for group in ("FunctionLogGroup", "StateMachineLogGroup"):
        assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert RESOURCES["CutoverTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "TopicKey"}
    key = RESOURCES["TopicKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    (alarms,) = [s for s in key["KeyPolicy"]["Statement"] if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert set(alarms["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"} and "aws:SourceAccount" in alarms["Condition"]["StringEquals"]
    # every function that publishes may use the key (SNS asks KMS on the publisher's behalf)
    publishers = {owner for owner, st in statements() if "sns:Publish" in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    assert publishers and all({"Ref": "TopicKeyUsePolicy"} in FUNCTIONS[f]["Properties"]["Policies"] for f in publishers)


@pytest.mark.parametrize("extra_alarms", ["", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:shop-5xx-rate"])
def test_the_dashboard_body_is_json_with_every_panel_and_the_alarms(extra_alarms):
    import json

    from cutover_local.template import resolve

    refs = {"AWS::Region": "us-east-1", "DashboardAlarmArns": extra_alarms,
            "Condition:HasDashboardAlarms": bool(extra_alarms)}
    attrs = {(name, "Arn"): f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{name}"
             for name, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    body = json.loads(resolve(RESOURCES["Dashboard"]["Properties"]["DashboardBody"], refs, attrs))
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles[0].startswith("AWS share each cutover intends") and "Alarms" in titles
    assert any("Probe errors" in t for t in titles) and any("Probe latency" in t for t in titles)
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    own = {f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{n}"
           for n in ("ProbeFailedAlarm", "AsyncFailuresAlarm", "RollbackBlockedAlarm", "NotificationFailedAlarm")}
    assert set(alarm_widget["properties"]["alarms"]) == own | ({extra_alarms} if extra_alarms else set())
    share = body["widgets"][0]["properties"]["metrics"][0][0]["expression"]
    assert 'MetricName="AwsPercentIntended"' in share  # the metric each shift and rollback records


def test_the_operator_policy_is_in_the_outputs_and_changes_nothing_but_through_the_functions():
    assert TEMPLATE["Outputs"]["OperatorPolicyArn"]["Value"] == {"Ref": "OperatorPolicy"}
    actions = {a for owner, st in statements() if owner == "OperatorPolicy"
               for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    writes = {a for a in actions if not a.split(":")[1].startswith(("Get", "List", "Describe", "Query"))}
    assert writes == {"states:StartExecution", "lambda:InvokeFunction"}, "no record, table or alarm write of its own"


def test_an_email_given_at_deploy_is_subscribed_to_the_topic_and_none_is_allowed():
    import re

    pattern = TEMPLATE["Parameters"]["NotifyEmail"]["AllowedPattern"]
    assert [bool(re.fullmatch(pattern, v)) for v in ("", "ops@shop.example.com", "nobody", "a@b")] == [True, True, False, False]
    subscription = RESOURCES["NotifyEmailSubscription"]
    assert subscription["Condition"] == "HasNotifyEmail"
    assert subscription["Properties"] == {"TopicArn": {"Ref": "CutoverTopic"}, "Protocol": "email", "Endpoint": {"Ref": "NotifyEmail"}}

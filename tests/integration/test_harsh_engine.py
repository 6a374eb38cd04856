"""The local engine is as harsh as AWS where a cutover depends on it: one test per behaviour."""

from __future__ import annotations

import json

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from cutover.adapters import clients
from cutover_local.alarm_eval import AlarmEvaluator
from cutover_local.clock import VirtualClock
from cutover_local.engine import Engine, Harshness
from cutover_local.eventbridge import execution_status_change
from cutover_local.faults import Hang, LostResponse, StopInside
from cutover_local.harsh import outage, throttling
from cutover_local.traffic import Effect, TrafficSimulator
from tests.integration.test_gates import gated, wait_for
from tests.integration.test_state_machine import InjectedFault
from tests.support import NAME, plan, template


class _World:
    """What the catalogue's faults need of a rehearsal's world, for a bare engine."""

    def __init__(self, engine, execution_arn: str = "") -> None:
        self.engine, self.execution_arn = engine, execution_arn


def errors_of(engine, function: str) -> list[str | None]:
    return [i.error for i in engine.invocations if i.function == function]


def failed_tasks(engine, arn: str) -> list[str]:
    return [e["taskFailedEventDetails"]["error"] for e in engine.history(arn) if e["type"] == "TaskFailed"]


def test_a_function_past_its_template_timeout_is_killed_and_step_functions_sees_lambda_unknown(engine):
    Hang("ShiftFunction", 1, 1).install(_World(engine))  # its first AWS call never answers
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="timeout")
    killed = next(i for i in engine.invocations if i.function == "ShiftFunction")
    assert killed.error == "Lambda.Unknown" and "Sandbox.Timedout" in killed.message
    assert "Task timed out after 30.00 seconds" in killed.message  # Globals: Timeout 30
    assert "Lambda.Unknown" in failed_tasks(engine, described["executionArn"])
    assert errors_of(engine, "ShiftFunction")[:2] == ["Lambda.Unknown", None], "retried (the ASL retries Lambda.Unknown)"


def test_sdk_backoff_inside_a_function_counts_against_its_timeout(engine, monkeypatch):
    # botocore retrying Throttling 8 times (the control plane's own setting is 4 attempts, which
    # end well inside the timeout): backoff of up to 20 s a time runs past the 30 s timeout
    monkeypatch.setattr(clients, "ROUTE53_CONFIG", Config(retries={"mode": "standard", "max_attempts": 8}))
    clients.reset()
    engine.outages.append(throttling("route53", 0, 3600))  # every Route 53 call throttled for an hour
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="backoff")
    first = next(i for i in engine.invocations if i.function == "PreflightFunction")
    assert first.error == "Lambda.Unknown", (first.error, first.message)
    assert described["status"] == "FAILED"


def test_a_lost_response_after_the_side_effects_makes_step_functions_run_the_task_again(engine):
    LostResponse("ShiftFunction", 1).install(_World(engine))
    engine.run(plan(hosted_zone_id=engine.zone_id), name="lost")
    shifts = [i for i in engine.invocations if i.function == "ShiftFunction"]
    assert shifts[0].error == "Lambda.SdkClientException"
    first_swap = [c for c, (_, changes) in engine.route53.changes.items()
                  if any(ch["ResourceRecordSet"].get("Weight") == 10 for ch in changes)]
    assert first_swap, "the lost invocation's swap reached Route 53"
    assert len(shifts) >= 2, "Step Functions retried the task"


def test_an_async_event_that_fails_is_retried_twice_then_dropped_and_counted():
    spec = template()
    del spec["Resources"]["SafetyNetFunction"]["Properties"]["DeadLetterQueue"]  # a function without one
    with Engine() as engine:
        engine.deploy({"HostedZoneIds": "ZLOCAL", "RecordNames": NAME}, template=spec)
        engine.faults["SafetyNetFunction"] = lambda event: (_ for _ in ()).throw(InjectedFault("broken"))
        engine.harsh.status_event_delay, engine.harsh.status_event_drop = (0.0, 0.0), 0.0  # delivered at once
        at = engine.clock.elapsed
        event = execution_status_change({"executionArn": "arn:x", "stateMachineArn": engine.stack.state_machine_arn,
                                         "name": "gone", "status": "FAILED", "startDate": engine.clock.now()},
                                        "123456789012", "us-east-1", engine.clock.now())
        engine.events.put(event)
        engine.settle(600)
        attempts = [i.virtual_at - at for i in engine.invocations if i.function == "SafetyNetFunction"]
        assert len(attempts) == 3
        assert 50 <= attempts[1] <= 70 and 160 <= attempts[2] <= 200  # about 1 and 3 minutes later
        assert [fn for fn, _ in engine.async_dropped] == ["SafetyNetFunction"]


def test_an_async_event_that_keeps_failing_goes_to_the_functions_dead_letter_queue():
    spec = template()
    spec["Resources"]["SafetyNetDlq"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    spec["Resources"]["SafetyNetFunction"]["Properties"]["DeadLetterQueue"] = {
        "Type": "SQS", "TargetArn": {"Fn::GetAtt": ["SafetyNetDlq", "Arn"]}}
    with Engine() as eng:
        eng.deploy({"HostedZoneIds": "ZLOCAL", "RecordNames": NAME}, template=spec)
        eng.faults["SafetyNetFunction"] = lambda event: (_ for _ in ()).throw(InjectedFault("broken"))
        eng.invoke_async(eng.stack.outputs["SafetyNetFunctionName"], {"detail": {"status": "FAILED", "name": "x"}})
        eng.settle(600)
        url = boto3.client("sqs").get_queue_url(QueueName="cutover-local-SafetyNetDlq")["QueueUrl"]
        messages = boto3.client("sqs").receive_message(QueueUrl=url).get("Messages", [])
        assert [json.loads(m["Body"])["detail"]["name"] for m in messages] == ["x"]
        assert not eng.async_dropped


def test_an_async_event_that_keeps_failing_goes_to_the_functions_on_failure_destination():
    spec = template()
    spec["Resources"]["ListenerFailures"] = {"Type": "AWS::SQS::Queue", "Properties": {}}
    spec["Resources"]["AlarmListenerFunction"]["Properties"]["EventInvokeConfig"] = {
        "MaximumRetryAttempts": 2,
        "DestinationConfig": {"OnFailure": {"Type": "SQS", "Destination": {"Fn::GetAtt": ["ListenerFailures", "Arn"]}}}}
    with Engine() as eng:
        eng.deploy({"HostedZoneIds": "ZLOCAL", "RecordNames": NAME}, template=spec)
        eng.faults["AlarmListenerFunction"] = lambda event: (_ for _ in ()).throw(InjectedFault("broken"))
        eng.invoke_async(eng.stack.outputs["AlarmListenerFunctionName"], {"detail-type": "x"})
        eng.settle(600)
        url = boto3.client("sqs").get_queue_url(QueueName="cutover-local-ListenerFailures")["QueueUrl"]
        record = json.loads(boto3.client("sqs").receive_message(QueueUrl=url)["Messages"][0]["Body"])
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["requestPayload"] == {"detail-type": "x"} and record["responsePayload"]["errorType"] == "InjectedFault"


def test_a_stop_while_a_task_runs_ends_the_execution_at_once_and_discards_the_late_result(engine):
    engine.harsh.status_event_drop = 0.0
    seen = {}

    def look(site):
        if site.function == "ShiftFunction" and site.operation == "ChangeResourceRecordSets" and "status" not in seen:
            arn = engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":stopped-mid-task"
            seen["status"] = boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"]
            seen["ended"] = arn in engine.ended_at

    world = _World(engine)
    world.execution_arn = engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":stopped-mid-task"
    StopInside("ShiftFunction", 1, 1).install(world)
    engine.before_call.append(look)
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="stopped-mid-task")
    assert described["status"] == "ABORTED"
    assert seen == {"status": "ABORTED", "ended": True}, "ABORTED and announced while the Shift still ran"
    after = [i.function for i in engine.invocations if i.virtual_at >= engine.ended_at[described["executionArn"]]]
    assert "CheckChangeFunction" not in after, "the Shift's late result went nowhere"


def test_a_stop_during_wait_for_task_token_ends_it_and_the_token_dies(engine):
    arn = engine.start(dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id), name="held")
    wait_for(engine, "held", "waiting_for_promotion")
    token = engine.invocations[-1].event["token"]
    boto3.client("stepfunctions").stop_execution(executionArn=arn, error="Operator", cause="console")
    assert boto3.client("stepfunctions").describe_execution(executionArn=arn)["status"] == "ABORTED"
    with pytest.raises(ClientError) as dead:
        boto3.client("stepfunctions").send_task_success(taskToken=token, output="{}")
    assert dead.value.response["Error"]["Code"] == "TaskTimedOut"


def test_a_task_token_is_dead_after_send_task_failure(engine):
    engine.start(dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id), name="refused")
    wait_for(engine, "refused", "waiting_for_promotion")
    token = engine.invocations[-1].event["token"]
    sfn = boto3.client("stepfunctions")
    sfn.send_task_failure(taskToken=token, error="No", cause="refused")
    with pytest.raises(ClientError) as dead:
        sfn.send_task_success(taskToken=token, output="{}")
    assert dead.value.response["Error"]["Code"] == "TaskTimedOut"


def test_the_history_limit_fails_the_execution_where_no_catch_runs(engine):
    engine.sfn.history_limit = 60  # 25,000 in AWS; small here so the test is quick
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="long")
    assert (described["status"], described["error"]) == ("FAILED", "States.Runtime")
    assert "RollbackFunction" not in [i.function for i in engine.invocations], "no Catch ran"


def test_a_result_over_the_payload_limit_fails_the_execution(engine):
    engine.sfn.payload_limit = 500  # 256 KiB in AWS; the cutover state is bigger than this
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="big")
    assert (described["status"], described["error"]) == ("FAILED", "States.DataLimitExceeded")


def test_retry_jitter_comes_from_the_seed():
    def retry_gap(seed: int) -> float:
        with Engine(seed=seed) as eng:
            zone = eng_zone(eng)
            eng.outages.append(outage("dynamodb", 0, 1))  # Preflight's first attempt: StoreBusy
            short = plan(hosted_zone_id=zone, stages=[{"weight": 100, "bake": "1m"}])
            eng.run(short, name="jitter", settle=0)
            times = [i.virtual_at for i in eng.invocations if i.function == "PreflightFunction"]
            return times[1] - times[0]

    assert retry_gap(11) == retry_gap(11)
    assert retry_gap(11) > 0


def eng_zone(eng) -> str:
    from cutover_local import seed
    from tests.support import ALARMS, HEROKU, ZONE

    zone_id = seed.zone_with_heroku_record(ZONE, NAME, HEROKU)
    seed.alarms(ALARMS)
    eng.deploy({"HostedZoneIds": zone_id, "RecordNames": NAME})
    return zone_id


def test_an_alb_datapoint_is_visible_only_60_to_150_seconds_after_its_minute_ends():
    clock = VirtualClock()
    alarm = {"AlarmName": "errors", "MetricName": "HTTPCode_ELB_5XX_Count", "Statistic": "Sum", "Period": 60,
             "EvaluationPeriods": 1, "Threshold": 1, "ComparisonOperator": "GreaterThanThreshold",
             "TreatMissingData": "notBreaching", "StateValue": "OK"}
    changes = []
    evaluator = AlarmEvaluator([alarm], lambda *change: changes.append((clock.elapsed, *change)), clock, seed=5)
    evaluator.start()
    evaluator.ended(0, {"RequestCount": 100, "HTTPCode_ELB_5XX_Count": 100})  # minute [0, 60)
    clock.advance(600)
    assert 60 + 60 <= evaluator.visible_at[0] <= 60 + 150
    assert changes and changes[0][0] >= evaluator.visible_at[0], "judged only once visible"
    evaluator.ended(20, {"RequestCount": 0, "HTTPCode_ELB_5XX_Count": 0})
    assert 20 not in evaluator.visible_at, "no datapoint for a minute without requests"


def test_with_no_healthy_target_the_alb_answers_503_itself():
    clock = VirtualClock()
    minutes = []
    sim = TrafficSimulator(clock, lambda: (60, 0, 100), [Effect("aws", unhealthy=True)], {}, 1,
                           on_minute=[lambda period, datapoint: minutes.append(datapoint)])
    sim.start()
    clock.advance(180)
    last = minutes[-1]
    assert last["HTTPCode_ELB_5XX_Count"] > 0
    assert last["RequestCount"] == 0, "RequestCount counts only requests for which a target was chosen"
    assert last["HTTPCode_Target_5XX_Count"] == 0 and last["TargetResponseTime"]["p99"] is None
    assert (last["UnHealthyHostCount"], last["HealthyHostCount"]) == (2, 0), "the target group's health, every minute"


def test_target_health_is_reported_every_minute_zero_included():
    from cutover_local.alarm_eval import metric_value

    clock = VirtualClock()
    minutes = []
    sim = TrafficSimulator(clock, lambda: (60, 100, 0), [], {}, 1, on_minute=[lambda period, datapoint: minutes.append(datapoint)])
    sim.start()
    clock.advance(180)
    assert minutes and all(m["RequestCount"] == 0 and m["UnHealthyHostCount"] == 0 for m in minutes)
    assert metric_value("UnHealthyHostCount", "Maximum", minutes[-1]) == 0.0, "a zero, not a missing datapoint"
    assert metric_value("RequestCount", "Sum", minutes[-1]) is None


def test_status_events_can_be_lost_and_alarm_events_come_twice(engine):
    engine.harsh.status_event_drop = 1.0
    engine.harsh.alarm_event_duplicate = 1.0
    from tests.integration.test_alarm_rollback import deliver_alarm

    engine.clock.call_at(3900, lambda: deliver_alarm(engine))
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="lossy")
    assert described["status"] == "ABORTED"
    assert engine.status_events_dropped >= 1
    assert "SafetyNetFunction" not in [i.function for i in engine.invocations], "the status event never arrived"
    assert [i.function for i in engine.invocations].count("AlarmListenerFunction") == 2


def test_a_gsi_query_sees_a_write_only_after_the_index_lag_while_a_consistent_read_sees_it_at_once(engine):
    from cutover.adapters.store import Store

    engine.harsh.index_lag = (5.0, 5.0)
    store = Store(engine.stack.table_name)
    store.watch("fresh", ["an-alarm"], None)
    assert store.watchers("an-alarm") == []
    assert boto3.client("dynamodb").get_item(TableName=engine.stack.table_name, ConsistentRead=True,
                                             Key={"pk": {"S": "CUTOVER#fresh"}, "sk": {"S": "WATCH#an-alarm"}}).get("Item")
    engine.settle(6)
    assert [w["cutover_id"] for w in store.watchers("an-alarm")] == ["fresh"]
    store.unwatch("fresh", ["an-alarm"])
    assert [w["cutover_id"] for w in store.watchers("an-alarm")] == ["fresh"], "a deleted watch lingers in the index"
    assert engine.stale_index.stale_reads >= 2


def test_a_base_table_query_reads_only_its_partition_and_answers_as_moto_would(engine):
    from cutover.adapters.store import Store

    store = Store(engine.stack.table_name)
    for n in range(3):
        store.record("mine", "step", "execution", n=n)
        store.record("other", "step", "execution", n=n)
    store.watch("mine", ["an-alarm"], None)
    before = (engine.partition_reads.partition, engine.partition_reads.whole_table)
    assert [e["n"] for e in store.ledger("mine")] == [0, 1, 2]
    assert [e["n"] for e in store.ledger("mine", event="step")] == [0, 1, 2]
    engine.settle(engine.harsh.index_lag[1] + 1)
    assert [w["cutover_id"] for w in store.watchers("an-alarm")] == ["mine"]  # an index: moto's own way
    partition, whole = engine.partition_reads.partition - before[0], engine.partition_reads.whole_table - before[1]
    assert partition == 2 and whole == 1, (partition, whole)


def test_dynamodb_can_be_throttled_or_down_for_any_length(engine):
    engine.outages.append(outage("dynamodb", 0, 7200))
    ddb = boto3.client("dynamodb", config=Config(retries={"mode": "standard", "max_attempts": 2}))
    with pytest.raises(ClientError) as down:
        ddb.get_item(TableName=engine.stack.table_name, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})
    assert down.value.response["Error"]["Code"] == "InternalServerError"
    engine.settle(7200)
    assert "Item" not in ddb.get_item(TableName=engine.stack.table_name, Key={"pk": {"S": "x"}, "sk": {"S": "y"}})


def test_route53_has_one_request_budget_for_the_whole_account(engine):
    r53 = boto3.client("route53", config=Config(retries={"mode": "standard", "total_max_attempts": 1}))
    answers = []
    for _ in range(8):  # at one virtual instant: at most five pass (the deploy spent some), the rest are throttled
        try:
            r53.get_hosted_zone(Id=engine.zone_id)
            answers.append("ok")
        except ClientError as exc:
            answers.append(exc.response["Error"]["Code"])
    passed = answers.count("ok")
    assert 1 <= passed <= 5 and answers == ["ok"] * passed + ["Throttling"] * (8 - passed)
    engine.settle(1)
    r53.get_hosted_zone(Id=engine.zone_id)


def test_route53_matches_a_delete_against_the_record_as_it_holds_it_and_accepts_zero_weights(engine):
    r53 = boto3.client("route53")
    health = r53.create_health_check(CallerReference="hc", HealthCheckConfig={
        "Type": "HTTPS", "FullyQualifiedDomainName": "alb.example.com", "ResourcePath": "/health"})["HealthCheck"]["Id"]
    base = {"Name": "checked.shop.example.com.", "Type": "CNAME", "TTL": 60, "ResourceRecords": [{"Value": "a.example.com"}]}
    r53.change_resource_record_sets(HostedZoneId=engine.zone_id, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {**base, "HealthCheckId": health}}]})
    with pytest.raises(ClientError) as refused:
        r53.change_resource_record_sets(HostedZoneId=engine.zone_id, ChangeBatch={"Changes": [
            {"Action": "DELETE", "ResourceRecordSet": base}]})
    assert refused.value.response["Error"]["Code"] == "InvalidChangeBatch"
    zero = [{"Action": "CREATE", "ResourceRecordSet": {"Name": "zero.shop.example.com.", "Type": "CNAME", "TTL": 60,
             "SetIdentifier": sid, "Weight": 0, "ResourceRecords": [{"Value": f"{sid}.example.com"}]}} for sid in ("a", "b")]
    r53.change_resource_record_sets(HostedZoneId=engine.zone_id, ChangeBatch={"Changes": zero})  # as AWS: accepted


def test_each_behaviour_is_on_by_default():
    harsh = Harshness()
    assert harsh.lambda_timeouts and harsh.status_event_drop > 0 and harsh.alarm_event_duplicate > 0
    assert harsh.index_lag[1] > 0 and harsh.route53_rate == 5 and harsh.async_retry_after == (60.0, 120.0)


def test_a_functions_environment_stays_whole_while_the_engine_runs_and_goes_when_it_closes(monkeypatch):
    """The interpreter's threads read ``os.environ`` (botocore copies it key by key) while a
    function runs: no key of a function's environment may disappear while the engine runs."""
    import os
    import threading

    from cutover_local import seed
    from tests.support import HEROKU, ZONE

    monkeypatch.delenv("TABLE_NAME", raising=False)
    copies, failures, done = [0], [], threading.Event()

    def copy_all_the_time():
        while not done.is_set():
            try:
                os.environ.copy()
                copies[0] += 1
            except KeyError as exc:  # a key taken out between listing and reading it
                failures.append(exc)

    with Engine() as eng:
        zone_id = seed.zone_with_heroku_record(ZONE, NAME, HEROKU)
        eng.deploy({"HostedZoneIds": zone_id, "RecordNames": NAME})
        reader = threading.Thread(target=copy_all_the_time, daemon=True)
        reader.start()
        try:
            for _ in range(20):
                answer = boto3.client("lambda").invoke(FunctionName=eng.stack.outputs["ReconcileFunctionName"],
                                                       Payload=b"{}")
                assert "FunctionError" not in answer, answer["Payload"].read()
                assert os.environ["TABLE_NAME"] == eng.stack.table_name, "still set between invocations"
        finally:
            done.set()
            reader.join()
    assert not failures and copies[0] > 0
    assert "TABLE_NAME" not in os.environ, "put back as it was when the engine closed"

"""A rollback that nothing can block: a table outage, a name in an unexpected state, a long outage."""

from __future__ import annotations

import json

import boto3

from cutover import records as rr
from cutover.adapters.store import Store
from cutover.clock import parse_iso
from cutover_local import seed
from cutover_local.harsh import outage
from tests.integration.driver import to_stage
from tests.integration.test_state_machine import weights
from tests.support import HEROKU, NAME, ZONE, plan

API = f"api.{ZONE}"


def pair_weights(world, name):
    return world.weights(name)


def test_one_name_restored_by_hand_does_not_keep_the_other_on_aws(world):
    seed.add_heroku_record(world.zone_id, API, HEROKU)
    state = to_stage(world, 1, raw=plan(hosted_zone_id=world.zone_id, records=[NAME, API]))
    assert world.weights(API) == {rr.HEROKU_ID: 90, rr.AWS_ID: 10}
    # someone puts www back to its simple CNAME by hand
    listed = {r["SetIdentifier"]: r for r in world.records(NAME)}
    world.edit_out_of_band([{"Action": "DELETE", "ResourceRecordSet": listed[rr.HEROKU_ID]},
                            {"Action": "DELETE", "ResourceRecordSet": listed[rr.AWS_ID]},
                            {"Action": "CREATE", "ResourceRecordSet": {"Name": NAME, "Type": "CNAME", "TTL": 60,
                                                                      "ResourceRecords": [{"Value": HEROKU}]}}])
    rolled = world.invoke("Rollback", {"cutover": state, "error": {"Error": "AlarmBreached", "Cause": "5xx"}})
    assert rolled["status"] == "ROLLED_BACK"
    assert world.weights(API) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert [r["ResourceRecords"][0]["Value"].rstrip(".") for r in world.records(NAME)] == [HEROKU]
    entry = next(e for e in world.ledger("exec-1") if e["event"] == "rolled_back")
    assert "restored by hand" in entry["found"][NAME] and entry["found"][API].startswith("weighted")
    assert world.lock_holder(NAME) is None and world.lock_holder(API) is None


def test_a_name_whose_pair_was_deleted_gets_it_back_on_heroku(world):
    state = to_stage(world, 1)
    listed = {r["SetIdentifier"]: r for r in world.records(NAME)}
    world.edit_out_of_band([{"Action": "DELETE", "ResourceRecordSet": listed[rr.AWS_ID]}])
    world.invoke("Rollback", {"cutover": state, "error": {"Error": "X", "Cause": "y"}})
    assert world.weights() == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}


def test_a_table_outage_does_not_hold_traffic_on_aws(engine):
    """DynamoDB goes down during the first bake for two hours: Route 53 is put back first (the
    state travels with the execution), and the rollback keeps trying until the table answers."""
    engine.outages.append(outage("dynamodb", 3700, 7200))
    boto3.client("cloudwatch")  # the evaluation at the end of the bake meets the outage and fails
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="table-down")
    upserts = [engine.route53.insync_at(c) for c, (_, changes) in engine.route53.changes.items()
               if changes and all(ch["Action"] == "UPSERT" for ch in changes)]
    assert upserts, "the rollback reached Route 53"
    first = (upserts[0] - engine.clock.start).total_seconds()
    assert first < 3700 + 7200, "Route 53 was put back while the table was still down"
    assert (described["status"], described["error"]) == ("FAILED", "CutoverRolledBack"), "retried past the outage"
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    assert Store(engine.stack.table_name).lock_holder(NAME) is None
    blocked = [e for e in Store(engine.stack.table_name).ledger("table-down") if e["event"] == "rolled_back"]
    assert blocked and not blocked[0]["repeated"]


def test_an_execution_stopped_while_its_status_event_is_lost_is_rolled_back_by_the_reconciler(engine):
    engine.harsh.status_event_drop = 1.0  # every status event lost: the safety net never hears
    engine.clock.call_at(3900, lambda: boto3.client("stepfunctions").stop_execution(
        executionArn=engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":unheard",
        error="Console", cause="stopped by hand"))
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="unheard")
    assert described["status"] == "ABORTED"
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    store = Store(engine.stack.table_name)
    rolled = next(e for e in store.ledger("unheard") if e["event"] == "rolled_back")
    assert rolled["actor"] == "reconciler"
    ended = engine.ended_at[described["executionArn"]]
    assert ended <= (parse_iso(rolled["at"]) - engine.clock.start).total_seconds() <= ended + 300  # within one period
    assert store.lock_holder(NAME) is None and store.live() == []


def test_a_notification_sns_refused_is_recorded_alarmed_and_sent_again_once_sns_is_back(engine):
    engine.outages.append(outage("sns", 3600, 1800))  # SNS down for the first two shifts
    queue = boto3.client("sqs").create_queue(QueueName="watch")["QueueUrl"]
    arn = boto3.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    boto3.client("sns").subscribe(TopicArn=engine.stack.topic_arn, Protocol="sqs", Endpoint=arn)
    described = engine.run(plan(hosted_zone_id=engine.zone_id), name="quiet")
    assert described["status"] == "SUCCEEDED"
    ledger = Store(engine.stack.table_name).ledger("quiet")
    assert [e["notification"] for e in ledger if e["event"] == "notification_failed"] == ["promoted", "promoted"]
    bodies = []
    while True:
        got = boto3.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            break
        for m in got:
            bodies.append(json.loads(json.loads(m["Body"])["Message"]))
            boto3.client("sqs").delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
    promoted = sorted(b["stage"] for b in bodies if b["event"] == "promoted")
    assert promoted == [1, 2, 3], "the refused one was sent again, once"
    assert Store(engine.stack.table_name).outbox() == []

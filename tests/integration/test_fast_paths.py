"""The engine's shorter ways through moto give the answers moto gives (``fast_paths.py``)."""

from __future__ import annotations

from typing import Any

import boto3
from moto import mock_aws

from cutover_local import fast_paths
from cutover_local.harsh import Patches

NESTED = {"M": {"plan": {"M": {"stages": {"L": [{"M": {"weight": {"N": "10"}, "bake": {"S": "10m"}}}]},
                                "watch": {"NULL": True}, "compare": {"BOOL": False}}},
                "names": {"SS": ["a.example.com", "b.example.com"]}, "limits": {"NS": ["1", "2.5"]},
                "empty": {"M": {}}, "nothing": {"L": []}}}


def exercise() -> list[Any]:
    """What the product's store does with DynamoDB, and a little more; every answer, parsed."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"},
                                           {"AttributeName": "g", "AttributeType": "S"}],
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     GlobalSecondaryIndexes=[{"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                                              "Projection": {"ProjectionType": "ALL"}}])
    answers: list[Any] = []

    def keep(answer: dict[str, Any]) -> None:
        answer.pop("ResponseMetadata", None)
        answers.append(answer)

    for n in range(7):
        keep(ddb.put_item(TableName="t", Item={"pk": {"S": "LIVE"}, "sk": {"S": f"CUTOVER#{n}"}, "g": {"S": "x"},
                                               "state": NESTED, "n": {"N": str(n)}}, ReturnValues="ALL_OLD"))
    keep(ddb.put_item(TableName="t", Item={"pk": {"S": "LIVE"}, "sk": {"S": "CUTOVER#0"}, "n": {"N": "-1"}},
                      ReturnValues="ALL_OLD"))
    keep(ddb.get_item(TableName="t", Key={"pk": {"S": "LIVE"}, "sk": {"S": "CUTOVER#1"}}, ConsistentRead=True))
    keep(ddb.get_item(TableName="t", Key={"pk": {"S": "LIVE"}, "sk": {"S": "none"}}))
    page = ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "LIVE"}},
                     Limit=3, ConsistentRead=True)
    keep(dict(page))
    keep(ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "LIVE"}},
                   ExclusiveStartKey=page["LastEvaluatedKey"], ScanIndexForward=False))
    keep(ddb.query(TableName="t", KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "LIVE"}},
                   Select="COUNT"))
    keep(ddb.query(TableName="t", IndexName="by-g", KeyConditionExpression="g = :g",
                   ExpressionAttributeValues={":g": {"S": "x"}}))
    keep(ddb.update_item(TableName="t", Key={"pk": {"S": "LIVE"}, "sk": {"S": "CUTOVER#2"}},
                         UpdateExpression="SET #s = :s, n = n + :one", ExpressionAttributeNames={"#s": "status"},
                         ExpressionAttributeValues={":s": {"S": "done"}, ":one": {"N": "1"}}, ReturnValues="ALL_NEW"))
    keep(ddb.scan(TableName="t", Limit=4))
    keep(ddb.batch_get_item(RequestItems={"t": {"Keys": [{"pk": {"S": "LIVE"}, "sk": {"S": "CUTOVER#3"}}]}}))
    keep(ddb.delete_item(TableName="t", Key={"pk": {"S": "LIVE"}, "sk": {"S": "CUTOVER#4"}}, ReturnValues="ALL_OLD"))
    # a binary attribute (moto keeps its base64 text); a table's description takes moto's own way (its dates)
    keep(ddb.put_item(TableName="t", Item={"pk": {"S": "BIN"}, "sk": {"S": "1"}, "b": {"B": b"\x00\xff"}}))
    keep(ddb.get_item(TableName="t", Key={"pk": {"S": "BIN"}, "sk": {"S": "1"}}))
    described = ddb.describe_table(TableName="t")["Table"]
    keep({k: described[k] for k in ("TableName", "KeySchema", "ItemCount", "TableStatus")})
    keep({"created": type(described["CreationDateTime"]).__name__})
    return answers


def answered_with(install, exercise) -> list[Any]:
    """``exercise``'s answers on a fresh moto with one fast path installed, then taken out."""
    patches = Patches()
    install(patches)
    try:
        with mock_aws():
            return exercise()
    finally:
        patches.undo()


def test_dynamodb_answers_are_the_same_with_the_engines_plain_results(monkeypatch):
    with mock_aws():
        moto_own = exercise()
    taken, refused = [], []
    original = fast_paths.wire_json

    def counted(value):
        try:
            out = original(value)
        except Exception:
            refused.append(value)
            raise
        taken.append(value)
        return out

    monkeypatch.setattr(fast_paths, "wire_json", counted)
    shortened = answered_with(fast_paths.plain_dynamodb_results, exercise)
    assert shortened == moto_own
    assert len(taken) >= 15, "the plain way answered the item operations"
    assert refused, "the table's description took moto's way"
    assert moto_own[8]["Item"]["state"] == NESTED and "LastEvaluatedKey" in moto_own[10]


def test_a_member_that_is_none_is_left_out_as_motos_serializer_leaves_it_out():
    assert fast_paths.wire_json({"Item": None, "Items": [{"a": {"S": "x"}, "b": None}], "Count": 1}) == {
        "Items": [{"a": {"S": "x"}}], "Count": 1}



def test_the_action_names_kept_per_class_are_moto_own_and_listed_again_once_a_method_is_patched_in():
    from moto.core import responses as core_responses
    from moto.sns.responses import SNSResponse

    moto_own = set(core_responses.method_names_from_class(SNSResponse))
    patches = Patches()
    fast_paths.action_names_once(patches)
    try:
        names = core_responses.method_names_from_class(SNSResponse)
        assert names == moto_own and "publish" in names
        assert core_responses.method_names_from_class(SNSResponse) is names  # kept, not listed again
        patches.set(SNSResponse, "no_such_action", lambda self: "answered")
        assert core_responses.method_names_from_class(SNSResponse) == moto_own | {"no_such_action"}
    finally:
        patches.undo()
    assert set(core_responses.method_names_from_class(SNSResponse)) == moto_own


def test_a_client_is_made_once_until_a_hook_is_registered_and_then_carries_it():
    from cutover_local.engine import Engine

    heard = []
    with Engine():
        first = boto3.client("sns")
        assert boto3.client("sns") is first and boto3.client("sqs") is not first
        boto3.DEFAULT_SESSION.events.register("before-call.sns.ListTopics", lambda **kwargs: heard.append("sns"))
        second = boto3.client("sns")
        assert second is not first
        second.list_topics()
        first.list_topics()  # made before the hook: it does not carry it, as in botocore
    assert heard == ["sns"]


def test_a_parents_poll_reads_its_childs_status_in_process_and_asks_the_api_when_unsure(engine):
    from cutover_local import nested
    from tests.integration.test_gates import gated, wait_for

    arn = engine.start(dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id), name="child")
    wait_for(engine, "child", "waiting_for_promotion")
    assert nested._running(arn)
    boto3.client("stepfunctions").stop_execution(executionArn=arn, error="Test", cause="stopped by the test")
    assert not nested._running(arn)
    # no such execution, or not an ARN: not known to run, so the resolver's own call answers
    assert not nested._running(arn.replace(":child", ":nobody")) and not nested._running("not-an-arn")


def _transactions() -> list[Any]:
    """A table, a transaction that succeeds and one whose condition fails, as moto answers them."""
    ddb = boto3.client("dynamodb", region_name="us-east-1")
    ddb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "sk", "AttributeType": "S"}])
    for n in range(5):
        ddb.put_item(TableName="t", Item={"pk": {"S": "LEDGER"}, "sk": {"S": f"{n:03d}"}, "n": {"N": str(n)}})

    def put(sk: str, **condition: Any) -> dict[str, Any]:
        return {"Put": {"TableName": "t", "Item": {"pk": {"S": "LOCK"}, "sk": {"S": sk}}, **condition}}

    answers: list[Any] = [ddb.transact_write_items(TransactItems=[put("a"), put("b"), put("c")])["ResponseMetadata"]
                          ["HTTPStatusCode"]]
    try:
        ddb.transact_write_items(TransactItems=[put("d"), put("a", ConditionExpression="attribute_not_exists(pk)"),
                                                put("e")])
    except ddb.exceptions.TransactionCanceledException as exc:
        answers.append([r["Code"] for r in exc.response["CancellationReasons"]])
    answers.append(sorted((i["pk"]["S"], i["sk"]["S"]) for i in ddb.scan(TableName="t")["Items"]))
    return answers


def test_a_transaction_backs_its_table_up_once_and_answers_as_moto_does(monkeypatch):
    with mock_aws():
        moto_own = _transactions()
    copies: list[Any] = []
    original = fast_paths._CopyOncePerTransaction.deepcopy

    def counted(self, value, memo=None):
        out = original(self, value, memo)
        if isinstance(value, fast_paths.Table) and all(out is not seen for seen in copies):
            copies.append(out)
        return out

    monkeypatch.setattr(fast_paths._CopyOncePerTransaction, "deepcopy", counted)
    shortened = answered_with(fast_paths.one_backup_per_transaction, _transactions)
    assert shortened == moto_own
    # the failed transaction put nothing back but what was there: d and e are not in the table
    assert moto_own[1] == ["None", "ConditionalCheckFailed", "None"] and ("LOCK", "d") not in moto_own[2]
    assert len(copies) == 2, "one backup of the table per transaction (moto made three each)"

"""An embedded AWS (moto, made strict where the cutover depends on it) with a zone, alarms,
the table and the topic, and the handlers loaded as Lambda would load them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest
from moto import mock_aws

from cutover import clock, readiness
from cutover import records as rr
from cutover.adapters import clients
from cutover.handler import deps
from cutover_local import seed
from cutover_local.alarm_history import AlarmHistory
from cutover_local.clock import VirtualClock
from cutover_local.engine import Engine, create_table, fresh_default_session
from cutover_local.health_checks import HealthCheckers, dns_shares
from cutover_local.origins import Origins
from cutover_local.strict_route53 import StrictRoute53
from cutover_local.traffic import SteadyUsers
from tests.support import ALARMS, HEROKU, NAME, ZONE, load_handler, template

FUNCTIONS = {
    "Preflight": "preflight",
    "LowerTtl": "lower_ttl",
    "Shift": "shift_weights",
    "CheckChange": "check_change",
    "EvaluateAlarms": "evaluate_alarms",
    "RestoreTtl": "restore_ttl",
    "Finalize": "finalize",
    "Rollback": "rollback",
    "AlarmListener": "alarm_listener",
    "SafetyNet": "safety_net",
}


@dataclass
class Context:
    """The parts of the Lambda context object Powertools reads."""

    function_name: str
    memory_limit_in_mb: int = 256
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"


@dataclass
class World:
    zone_id: str
    route53: StrictRoute53
    clock: VirtualClock
    table: str
    topic: str
    queue_url: str
    handlers: dict[str, Any] = field(default_factory=dict)
    origins: Any = None
    health_checks: Any = None

    def invoke(self, function: str, event: dict[str, Any]) -> dict[str, Any]:
        module = self.handlers[function]
        return module.lambda_handler(json.loads(json.dumps(event)), Context(function))

    def records(self, name: str = NAME) -> list[dict[str, Any]]:
        r53 = boto3.client("route53")
        listed = r53.list_resource_record_sets(HostedZoneId=self.zone_id)["ResourceRecordSets"]
        return [r for r in listed if r["Name"].rstrip(".") == name]

    def weights(self, name: str = NAME) -> dict[str, int]:
        return {r["SetIdentifier"]: r["Weight"] for r in self.records(name) if "SetIdentifier" in r}

    def ttls(self, name: str = NAME) -> set[int]:
        return {r["TTL"] for r in self.records(name)}

    def set_alarm(self, name: str, state: str, reason: str = "test") -> None:
        boto3.client("cloudwatch").set_alarm_state(AlarmName=name, StateValue=state, StateReason=reason)

    def notifications(self) -> list[dict[str, Any]]:
        sqs = boto3.client("sqs")
        out = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not got:
                return out
            for m in got:
                out.append(json.loads(json.loads(m["Body"])["Message"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    def lock_holder(self, name: str = NAME) -> str | None:
        return deps().store.lock_holder(name)

    def ledger(self, cutover_id: str) -> list[dict[str, Any]]:
        return deps().store.ledger(cutover_id)

    def edit_out_of_band(self, changes: list[dict[str, Any]]) -> None:
        boto3.client("route53").change_resource_record_sets(HostedZoneId=self.zone_id, ChangeBatch={"Changes": changes})


@pytest.fixture
def world(monkeypatch):
    virtual = VirtualClock()
    clock.set_source(virtual)
    clients.reset()
    deps.cache_clear()
    with mock_aws():
        fresh_default_session()
        route53 = StrictRoute53().install()
        history = AlarmHistory().install()
        origins = Origins()  # the HTTPS origins the readiness checks reach, on loopback
        # Route 53's health checkers, judging those origins on the virtual clock
        health_checks = HealthCheckers(probe=origins.as_health_checker).install(
            route53.count, lambda: virtual.elapsed, virtual.call_at)
        monkeypatch.setattr(readiness, "system_resolver", origins.resolve)
        monkeypatch.setattr(readiness, "CA_BUNDLE", origins.cafile)
        try:
            zone_id = seed.zone_with_heroku_record(ZONE, NAME, HEROKU)
            seed.alarms(ALARMS)
            route53.changes.clear()
            route53.calls.clear()
            # users, where DNS sends them: the load balancer's requests show the traffic arrives
            SteadyUsers(virtual, lambda: dns_shares(route53.served(zone_id, NAME), health_checks.healthy,
                                                    rr.HEROKU_ID, rr.AWS_ID)).start()
            create_table("cutover-test", template()["Resources"]["CutoverTable"]["Properties"])
            topic = boto3.client("sns").create_topic(Name="cutover-test")["TopicArn"]
            sqs = boto3.client("sqs")
            queue_url = sqs.create_queue(QueueName="notifications")["QueueUrl"]
            queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            boto3.client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
            monkeypatch.setenv("TABLE_NAME", "cutover-test")
            monkeypatch.setenv("TOPIC_ARN", topic)
            monkeypatch.setenv("ALLOWED_ZONE_IDS", zone_id)
            monkeypatch.setenv("ALLOWED_RECORD_NAMES", f"{NAME},api.{ZONE}")
            handlers = {fn: load_handler(folder) for fn, folder in FUNCTIONS.items()}
            yield World(zone_id, route53, virtual, "cutover-test", topic, queue_url, handlers, origins, health_checks)
        finally:
            health_checks.uninstall()
            origins.close()
            history.uninstall()
            route53.uninstall()
            clock.set_source(None)
            clients.reset()
            deps.cache_clear()


@pytest.fixture
def engine():
    """The deployed stack on the local engine, with a zone and alarms to cut over."""
    with Engine() as eng:
        zone_id = seed.zone_with_heroku_record(ZONE, NAME, HEROKU)
        seed.alarms(ALARMS)
        eng.route53.insync_after = 5  # PENDING until the first poll (the rehearsals keep 25 s)
        eng.route53.calls.clear()
        eng.route53.changes.clear()
        eng.deploy({"HostedZoneIds": zone_id, "RecordNames": NAME})
        eng.zone_id = zone_id
        SteadyUsers(eng.clock, lambda: dns_shares(eng.route53.served(zone_id, NAME), eng.health_checks.healthy,
                                                  rr.HEROKU_ID, rr.AWS_ID)).start()
        yield eng
        assert_calls_allowed_by_iam(eng)


# DynamoDB authorizes each item of a TransactWriteItems by the item's own action.
IAM_ACTION_OF_CALL = {"dynamodb:TransactWriteItems": "dynamodb:PutItem"}


def allowed_actions(spec: dict, function: str) -> set[str]:
    """Every action a function's policies (inline statements and managed policies) allow."""
    resources = spec["Resources"]
    docs = []
    for policy in resources[function]["Properties"]["Policies"]:
        if "Statement" in policy:
            docs.append(policy)
        elif "Ref" in policy:
            docs.append(resources[policy["Ref"]]["Properties"]["PolicyDocument"])
    actions: set[str] = set()
    for doc in docs:
        for statement in doc["Statement"]:
            action = statement["Action"]
            actions.update(action if isinstance(action, list) else [action])
    return actions


def assert_calls_allowed_by_iam(engine) -> None:
    """Every AWS call a function made in this test is allowed by that function's IAM policy."""
    spec = template()
    for function, calls in engine.api_calls.items():
        missing = {IAM_ACTION_OF_CALL.get(c, c) for c in calls} - allowed_actions(spec, function)
        assert not missing, f"{function} calls {missing} but its policy does not allow it"


def pytest_collection_modifyitems(items):
    """Integration tests may open sockets to loopback only: the engine's HTTPS origins (and the
    local endpoint). Everything else stays blocked (pytest --disable-socket)."""
    for item in items:
        if "tests/integration/" in str(item.path).replace("\\", "/"):
            item.add_marker(pytest.mark.enable_socket)
            item.add_marker(pytest.mark.allow_hosts(["127.0.0.1"]))

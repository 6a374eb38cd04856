"""The operator commands of the `cutover` CLI against a stack on the local engine."""

from __future__ import annotations

import json

import boto3
import pytest
import yaml

from cutover import records as rr
from cutover_cli.main import main
from tests.integration.test_gates import gated, wait_for
from tests.integration.test_state_machine import weights
from tests.support import plan

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e


@pytest.fixture
def outputs(engine, tmp_path):
    path = tmp_path / "outputs.json"
    path.write_text(json.dumps(engine.stack.outputs))
    return str(path)


def write_plan(tmp_path, raw) -> str:
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


OPERATOR_CALLS: set[str] = set()
NEEDS_NO_PERMISSION = {"sts:GetCallerIdentity"}  # STS answers it whatever the policies say
IAM_ACTION = {"lambda:Invoke": "lambda:InvokeFunction"}


def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI as an operator would; every AWS call it makes itself (not the functions it
    invokes) is noted for the check against the stack's OperatorPolicy."""
    events = boto3.DEFAULT_SESSION.events

    def note(model, **_):
        if _ENGINE[0] is not None and _ENGINE[0].current() is None:
            prefix = {"stepfunctions": "states"}.get(model.service_model.service_name, model.service_model.service_name)
            call = f"{prefix}:{model.name}"
            OPERATOR_CALLS.add(IAM_ACTION.get(call, call))

    events.register("before-call", note, unique_id="operator-calls")
    try:
        code = main(list(args))
    finally:
        events.unregister("before-call", unique_id="operator-calls")
    captured = capsys.readouterr()
    return code, captured.out, captured.err


_ENGINE: list = [None]


@pytest.fixture(autouse=True)
def _operator_policy_allows_every_call(engine):
    """The stack's OperatorPolicy allows every call the operator commands of a test made."""
    from tests.support import template

    OPERATOR_CALLS.clear()
    _ENGINE[0] = engine
    yield
    _ENGINE[0] = None
    policy = template()["Resources"]["OperatorPolicy"]["Properties"]["PolicyDocument"]
    allowed = {a for st in policy["Statement"] for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    missing = OPERATOR_CALLS - allowed - NEEDS_NO_PERMISSION
    assert not missing, f"the operator commands called {missing}, which OperatorPolicy does not allow"


def test_start_status_promote_and_history(engine, outputs, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CUTOVER_ACTOR", "bob")
    raw = dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id)
    code, out, _ = cli(capsys, "start", write_plan(tmp_path, raw), "--name", "cli-1", "--outputs", outputs, "--json")
    assert code == 0 and json.loads(out)["name"] == "cli-1"
    wait_for(engine, "cli-1", "waiting_for_promotion")
    # a second cutover of the same name while this one holds it: refused by start's own checks
    code, _, err = cli(capsys, "start", write_plan(tmp_path, raw), "--name", "cli-9", "--outputs", outputs)
    assert code == 2 and "already sends 10 weight to AWS" in err and "nothing was started" in err
    assert len(boto3.client("stepfunctions").list_executions(stateMachineArn=engine.stack.state_machine_arn)["executions"]) == 1

    code, out, _ = cli(capsys, "status", "cli-1", "--outputs", outputs, "--json")
    status = json.loads(out)
    assert code == 0 and status["waiting_for_promotion"] is True and status["aws_percent"] == 10
    # stage 1 passed: its intended share beside the requests that arrived at the load balancer
    (first,) = status["traffic"]
    assert (first["stage"], first["intended_percent"], first["ok"]) == (1, 10, True) and first["requests_per_minute"] > 0
    code, out, _ = cli(capsys, "status", "cli-1", "--outputs", outputs)
    assert "waiting for a promotion (cutover promote cli-1)" in out
    assert f"stage 1: 10% intended: {first['requests_per_minute']:g} requests a minute at the load balancer" in out
    (check,) = status["health_checks"].values()
    assert check["status"] == "healthy" and check["why"] == "8 of 8 checkers report healthy"
    assert f"Route 53 health check {check['id']} healthy (8 of 8 checkers report healthy)" in out
    # and AWS compared with Heroku by the probes over that bake: error rates judged, latencies not
    # (fewer answers than a steady p90 needs at this plan's one probe request every 30 s)
    ((compared,),) = [c["names"] for c in status["compare"] if c["stage"] == 1]
    assert compared["outcome"] == "pass" and "latency_ratio" not in compared and compared["aws"]["requests"] >= 20
    assert "stage 1 compared with Heroku: www.shop.example.com: AWS " in out

    code, out, _ = cli(capsys, "promote", "cli-1", "--outputs", outputs)
    assert code == 0 and "promoted cli-1" in out
    arn = engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":cli-1"
    assert engine.wait(arn)["status"] == "SUCCEEDED"

    code, out, _ = cli(capsys, "history", "cli-1", "--outputs", outputs, "--json")
    entries = json.loads(out)
    approved = next(e for e in entries if e["event"] == "promotion_approved")
    assert code == 0 and approved["actor"] == "bob (arn:aws:sts::123456789012:user/moto)"
    assert [e["event"] for e in entries][-1] == "succeeded"
    code, out, _ = cli(capsys, "list", "--outputs", outputs, "--json")
    assert [r["name"] for r in json.loads(out)] == ["cli-1"]

    # it ended committed (the plan has no watch): commit has nothing left to do, abort is refused
    code, out, _ = cli(capsys, "commit", "cli-1", "--yes", "--outputs", outputs)
    assert code == 0 and out == "cli-1 was already committed\n"
    code, _, err = cli(capsys, "abort", "cli-1", "--reason", "too late", "--outputs", outputs)
    assert code == 2 and "it succeeded" in err


def test_commit_ends_the_watch_at_100_percent_at_once(engine, outputs, tmp_path, capsys, monkeypatch):
    from cutover.adapters.store import Store

    monkeypatch.setenv("CUTOVER_ACTOR", "bob")
    raw = dict(plan(hosted_zone_id=engine.zone_id), watch="6h")
    code, _, _ = cli(capsys, "start", write_plan(tmp_path, raw), "--name", "cli-2", "--outputs", outputs)
    assert code == 0
    store, answers = Store(engine.stack.table_name), []

    def commit_once_watched():
        gate = store.gate("cli-2")
        if not answers and gate and gate["kind"] == "watch":
            code, _, err = cli(capsys, "commit", "cli-2", "--outputs", outputs)
            answers.append(("without --yes", code, err))
            answers.append(("with --yes",) + cli(capsys, "commit", "cli-2", "--yes", "--outputs", outputs)[:2])

    arn = engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":cli-2"
    described = engine.wait(arn, on_poll=commit_once_watched)
    assert described["status"] == "SUCCEEDED"
    assert answers[0][1] == 2 and "add --yes" in answers[0][2], "not at a terminal: commit needs --yes"
    assert answers[1][1] == 0 and answers[1][2].startswith("committing cli-2: its watch ended")
    (succeeded,) = [e for e in store.ledger("cli-2") if e["event"] == "succeeded"]
    assert succeeded["committed_by"] == "cutover commit (bob (arn:aws:sts::123456789012:user/moto))"
    listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"]
    assert [r.get("SetIdentifier") for r in listed if r["Name"] == "www.shop.example.com."] == [None]
    assert all(c.deleted for c in engine.health_checks.checks.values())
    assert engine.clock.elapsed < 8000 + 6 * 3600, "committed long before the watch would have ended"


def _cname_records(engine) -> list[dict]:
    listed = boto3.client("route53").list_resource_record_sets(HostedZoneId=engine.zone_id)["ResourceRecordSets"]
    return [r for r in listed if r["Name"] == "www.shop.example.com." and r["Type"] == "CNAME"]


def test_revert_moves_a_committed_cutover_back_to_heroku_in_one_change_and_retry_starts_it_again(
        engine, outputs, tmp_path, capsys, monkeypatch):
    from tests.support import ALB, HEROKU

    monkeypatch.setenv("CUTOVER_ACTOR", "carol")
    original_ttl = _cname_records(engine)[0]["TTL"]
    code, _, _ = cli(capsys, "start", write_plan(tmp_path, plan(hosted_zone_id=engine.zone_id)), "--name", "cli-r",
                     "--outputs", outputs)
    arn = engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":cli-r"
    assert code == 0 and engine.wait(arn)["status"] == "SUCCEEDED"
    assert [r["ResourceRecords"][0]["Value"] for r in _cname_records(engine)] == [ALB]
    changes = len(engine.route53.changes)
    # without --yes and away from a terminal, nothing changes
    code, _, err = cli(capsys, "revert", "cli-r", "--reason", "checkouts fail on AWS", "--outputs", outputs)
    assert code == 2 and "add --yes" in err and len(engine.route53.changes) == changes

    code, out, err = cli(capsys, "revert", "cli-r", "--reason", "checkouts fail on AWS", "--yes", "--outputs", outputs)
    assert code == 0, err
    assert out.startswith(f"reverted cli-r: www.shop.example.com: {ALB} -> {HEROKU} at TTL {original_ttl}\n")
    (record,) = _cname_records(engine)
    assert "SetIdentifier" not in record and record["ResourceRecords"] == [{"Value": HEROKU}]
    assert record["TTL"] == original_ttl
    assert len(engine.route53.changes) == changes + 1, "every name back in one atomic batch"
    # status: the execution succeeded, the cutover is reverted (exit 3, as for a rollback), and why
    code, out, _ = cli(capsys, "status", "cli-r", "--outputs", outputs)
    assert code == 3 and "cutover REVERTED" in out and f"DNS serves a simple CNAME to {HEROKU}" in out
    assert "reverted to Heroku by carol (arn:aws:sts::123456789012:user/moto): checkouts fail on AWS" in out
    # again: nothing to do, nothing sent, nothing recorded twice
    code, out, _ = cli(capsys, "revert", "cli-r", "--reason", "again", "--yes", "--outputs", outputs)
    assert code == 0 and out == "cli-r was already reverted: its names point to Heroku\n"
    assert len(engine.route53.changes) == changes + 1
    events = [e["event"] for e in store_ledger(engine, "cli-r")]
    assert events.count("reverted") == 1 and events[-1] == "reverted"
    code, out, _ = cli(capsys, "list", "--outputs", outputs, "--json")
    assert [(r["name"], r["status"]) for r in json.loads(out)] == [("cli-r", "REVERTED")]
    code, _, err = cli(capsys, "abort", "cli-r", "--reason", "again", "--outputs", outputs)
    assert code == 2 and "it was reverted after its commit (checkouts fail on AWS)" in err
    assert len(engine.route53.changes) == changes + 1
    # the name is as it was before the cutover: a retry starts from it and commits again
    code, out, err = cli(capsys, "retry", "cli-r", "--outputs", outputs)
    assert code == 0, err
    assert engine.wait(arn + "-retry-1")["status"] == "SUCCEEDED"
    assert [r["ResourceRecords"][0]["Value"] for r in _cname_records(engine)] == [ALB]
    # and now the names are the retry's: the old cutover may not revert them any more
    code, _, err = cli(capsys, "revert", "cli-r", "--reason", "old", "--yes", "--outputs", outputs)
    assert code == 2 and "a later cutover committed its names: www.shop.example.com (cli-r-retry-1)" in err
    assert [r["ResourceRecords"][0]["Value"] for r in _cname_records(engine)] == [ALB]


def test_revert_refuses_a_name_edited_since_the_commit_and_changes_nothing(engine, outputs, tmp_path, capsys):
    code, _, _ = cli(capsys, "start", write_plan(tmp_path, plan(hosted_zone_id=engine.zone_id)), "--name", "cli-e",
                     "--outputs", outputs)
    arn = engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":cli-e"
    assert code == 0 and engine.wait(arn)["status"] == "SUCCEEDED"
    (committed,) = _cname_records(engine)
    edited = dict(committed, ResourceRecords=[{"Value": "maintenance.example.net"}])
    boto3.client("route53").change_resource_record_sets(HostedZoneId=engine.zone_id, ChangeBatch={"Changes": [
        {"Action": "UPSERT", "ResourceRecordSet": edited}]})
    changes = len(engine.route53.changes)
    code, _, err = cli(capsys, "revert", "cli-e", "--reason", "back", "--yes", "--outputs", outputs)
    assert code == 2 and "was not reverted, nothing changed" in err and "maintenance.example.net" in err
    assert len(engine.route53.changes) == changes and _cname_records(engine) == [edited]
    assert store_ledger(engine, "cli-e")[-1]["event"] == "revert_refused"
    from cutover.adapters.store import Store
    assert Store(engine.stack.table_name).lock_holder("www.shop.example.com") is None, "the lock is released"


def test_abort_from_the_cli_wins_over_a_pending_promotion(engine, outputs, tmp_path, capsys):
    raw = dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id)
    cli(capsys, "start", write_plan(tmp_path, raw), "--name", "cli-2", "--outputs", outputs)
    wait_for(engine, "cli-2", "waiting_for_promotion")
    # a live cutover is aborted, not reverted
    code, _, err = cli(capsys, "revert", "cli-2", "--reason", "wrong command", "--yes", "--outputs", outputs)
    assert code == 2 and "not reverted, nothing changed: it is still live: cutover abort rolls it back" in err
    code, out, _ = cli(capsys, "abort", "cli-2", "--reason", "support sees failed checkouts", "--outputs", outputs)
    assert code == 0 and "going back to Heroku" in out
    arn = engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":cli-2"
    assert engine.wait(arn)["error"] == "CutoverRolledBack"
    assert weights(engine) == {rr.HEROKU_ID: 255, rr.AWS_ID: 0}
    code, _, err = cli(capsys, "promote", "cli-2", "--outputs", outputs)
    assert code == 2 and "NotWaiting" in err
    # status says it ended rolled back (exit 3) and what DNS serves now, not the stage's 10%
    code, out, _ = cli(capsys, "status", "cli-2", "--outputs", outputs)
    assert code == 3 and "cutover ROLLED_BACK" in out and "AWS 10%" not in out
    assert "www.shop.example.com: DNS serves Heroku 100% / AWS 0% (weights 255 / 0)" in out
    code, out, _ = cli(capsys, "status", "cli-2", "--outputs", outputs, "--json")
    assert code == 3 and json.loads(out)["served"] == {"www.shop.example.com": {"heroku": 255, "aws": 0}}
    # an ended cutover is not aborted again: refused, recorded, nothing sent
    changes = len(engine.route53.changes)
    code, _, err = cli(capsys, "abort", "cli-2", "--reason", "again", "--outputs", outputs)
    assert code == 2 and "CutoverNotLive" in err and "rolled back already" in err
    assert len(engine.route53.changes) == changes
    assert [e["event"] for e in store_ledger(engine, "cli-2")][-1] == "abort_refused"
    # who aborted: the caller's AWS identity, not the name of the local account
    (aborted,) = [e for e in store_ledger(engine, "cli-2") if e["event"] == "aborted"]
    assert aborted["actor"] == "arn:aws:sts::123456789012:user/moto"
    # started again with the very plan it was given, under a new name
    code, out, _ = cli(capsys, "retry", "cli-2", "--outputs", outputs, "--json")
    assert code == 0 and json.loads(out)["name"] == "cli-2-retry-1"
    sfn = boto3.client("stepfunctions")
    inputs = [json.loads(sfn.describe_execution(executionArn=arn + suffix)["input"]) for suffix in ("", "-retry-1")]
    assert inputs[0] == inputs[1] == raw
    code, _, err = cli(capsys, "retry", "cli-2-retry-1", "--outputs", outputs)
    assert code == 2 and "still running" in err
    code, _, err = cli(capsys, "retry", "nobody", "--outputs", outputs)
    assert code == 2 and "no cutover named nobody" in err
    # following it gives up at --timeout, saying the cutover goes on
    code, _, err = cli(capsys, "status", "cli-2-retry-1", "--watch", "--timeout", "1s", "--outputs", outputs)
    assert code == 1 and "still runs after --timeout 1s" in err and "goes on" in err


def store_ledger(engine, name):
    from cutover.adapters.store import Store

    return Store(engine.stack.table_name).ledger(name)


def test_a_bad_plan_is_refused_before_anything_starts(engine, outputs, tmp_path, capsys):
    code, _, err = cli(capsys, "start", write_plan(tmp_path, plan(stages=[{"weight": 5, "bake": "1m"}])), "--outputs", outputs)
    assert code == 2 and "stages[0].weight" in err
    code, out, _ = cli(capsys, "list", "--outputs", outputs, "--json")
    assert json.loads(out) == []
    code, out, _ = cli(capsys, "list", "--outputs", outputs, "--output", "json")
    assert code == 0 and json.loads(out) == []


def test_an_unknown_cutover_or_stack_says_what_to_do(engine, outputs, capsys, tmp_path):
    code, _, err = cli(capsys, "status", "nope", "--outputs", outputs)
    assert code == 2 and "cutover list" in err
    code, _, err = cli(capsys, "history", "nope", "--outputs", outputs)
    assert code == 2 and "cutover list" in err
    code, _, err = cli(capsys, "status", "--outputs", str(tmp_path / "missing.json"))
    assert code == 2 and "the stack outputs file" in err and "does not exist" in err


def test_a_refused_execution_shows_the_refusal_and_never_the_functions_stack_trace(engine, outputs, tmp_path, capsys):
    raw = plan(hosted_zone_id=engine.zone_id, heroku={"target": "another-app-1234.herokudns.com"})
    # cutover start makes Preflight's checks itself: refused, nothing started
    code, _, err = cli(capsys, "start", write_plan(tmp_path, raw), "--name", "refused", "--outputs", outputs)
    assert code == 2 and "heroku.target: is another-app-1234.herokudns.com but" in err and "nothing was started" in err
    sfn = boto3.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=engine.stack.state_machine_arn)["executions"] == []
    # started another way (the console, the AWS CLI): Preflight refuses it
    arn = sfn.start_execution(stateMachineArn=engine.stack.state_machine_arn, name="refused", input=json.dumps(raw))["executionArn"]
    described = engine.wait(arn)
    assert described["status"] == "FAILED" and "stackTrace" in described["cause"], "what Step Functions holds"
    code, out, err = cli(capsys, "status", "refused", "--outputs", outputs)
    assert code == 1 and err == ""
    assert "PlanInvalid: invalid plan: heroku.target: is another-app-1234.herokudns.com but" in out
    assert "stackTrace" not in out and "File \"" not in out and len(out.splitlines()) == 2
    code, out, _ = cli(capsys, "status", "refused", "--outputs", outputs, "--json")
    assert json.loads(out)["cause"].startswith("invalid plan: heroku.target")
    # the name is taken (Step Functions keeps it 90 days): refused with what to do
    code, _, err = cli(capsys, "start", write_plan(tmp_path, plan(hosted_zone_id=engine.zone_id)), "--name", "refused",
                       "--outputs", outputs)
    assert code == 2 and "give another --name" in err and "a cutover named refused was started on this stack before" in err


def test_start_dry_run_makes_the_checks_and_starts_nothing_and_plan_uses_the_stacks_allow_lists(engine, outputs, tmp_path, capsys):
    good = write_plan(tmp_path, plan(hosted_zone_id=engine.zone_id))
    code, out, _ = cli(capsys, "start", good, "--dry-run", "--outputs", outputs)
    assert code == 0 and "no name held by another cutover" in out and "a rollback at any point sends" in out
    sfn = boto3.client("stepfunctions")
    assert sfn.list_executions(stateMachineArn=engine.stack.state_machine_arn)["executions"] == []
    # a stack deployed for other names: plan and start say so, naming the parameter to change
    narrow = tmp_path / "narrow.json"
    narrow.write_text(json.dumps(dict(json.loads(open(outputs).read()), AllowedRecordNames="api.shop.example.com")))
    for command in ("plan", "start"):
        code, _, err = cli(capsys, command, good, "--outputs", str(narrow))
        assert code == 2 and "not one of the names this stack may change (api.shop.example.com)" in err, err
    assert sfn.list_executions(stateMachineArn=engine.stack.state_machine_arn)["executions"] == []


def test_abort_revert_and_commit_of_a_cutover_refused_at_its_preflight_say_it_changed_nothing(
        engine, outputs, capsys):
    # started around the CLI's checks (the console, another tool): Preflight refuses the plan
    bad = dict(plan(hosted_zone_id=engine.zone_id), stages=[{"weight": 150, "bake": "1m"}])
    arn = boto3.client("stepfunctions").start_execution(stateMachineArn=engine.stack.state_machine_arn,
                                                        name="cli-x", input=json.dumps(bad))["executionArn"]
    assert engine.wait(arn)["status"] == "FAILED"
    for command in (["abort", "cli-x", "--reason", "r"], ["revert", "cli-x", "--reason", "r", "--yes"],
                    ["commit", "cli-x", "--yes"]):
        code, _, err = cli(capsys, *command, "--outputs", outputs)
        assert code == 2, (command, err)
        assert "nothing changed: its execution ended FAILED before it changed anything" in err, err
    code, _, err = cli(capsys, "abort", "cli-nobody", "--reason", "r", "--outputs", outputs)
    assert code == 2 and "no cutover named cli-nobody" in err

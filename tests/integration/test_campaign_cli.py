"""``cutover campaign start|status|promote|abort|history`` against a stack on the engine, as an
operator would run them: the file checked against the account before anything starts, the gate
opened from the CLI, refusals once the campaign has ended."""

from __future__ import annotations

import json

import boto3
import pytest

from cutover import campaign as cp
from cutover_cli.main import main
from cutover_local.campaign_rehearsal import fleet, stage
from cutover_local.engine import Engine

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e


def campaign_file(**changes):
    raw = fleet(names=3, zones=2, waves=2, max_parallel=2, on_rollback="stop")
    raw.pop("_failing")
    raw["campaign"] = "cli-campaign"
    raw["waves"][0]["after"] = {"gate": "manual"}
    raw.update(changes)
    return raw


def written(tmp_path, name, data) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return str(path)


def cli(engine, capsys, *argv):
    with engine.outside():
        code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _children_failures(engine):
    """Each child execution that did not succeed, with its failed events (what a console shows)."""
    sfn = boto3.client("stepfunctions")
    out = []
    for execution in sfn.list_executions(stateMachineArn=engine.stack.state_machine_arn)["executions"]:
        if execution["status"] != "SUCCEEDED":
            failed = [(e["type"], {k: v for k, v in e.items() if k.endswith("EventDetails")})
                      for e in engine.history(execution["executionArn"]) if "Failed" in e["type"] or "TimedOut" in e["type"]]
            out.append(f"{execution['name']}: {execution['status']} {failed}")
    return out


def once_invoked(engine, act):
    """``act`` as an operator's poll that runs only once an invocation has ended since it last
    ran: what ``campaign status`` shows is written by the functions (in concurrent mode something
    moves at nearly every poll, and a whole CLI command each time is most of the test)."""
    ran = [-1]

    def poll():
        if ran[0] != len(engine.invocations):
            ran[0] = len(engine.invocations)
            act()

    return poll


def campaign_executions(engine):
    return boto3.client("stepfunctions").list_executions(
        stateMachineArn=engine.stack.outputs["CampaignStateMachineArn"])["executions"]


def test_start_checks_every_cutover_against_the_account_and_starts_nothing_when_one_fails(tmp_path, capsys):
    with Engine(seed=7, concurrent=True) as engine:
        # app001 and app003 are in fleet0.example.com, app002 in fleet1.example.com; the stack may
        # change fleet0 only, and app003's alarm does not exist
        file, _ = stage(engine, cp.parse(campaign_file()), allowed_zones=["fleet0.example.com"])
        file["waves"][1]["cutovers"][0]["alarms"] = ["app003-no-such-alarm"]
        outputs = written(tmp_path, "outputs.json", engine.stack.outputs)
        path = written(tmp_path, "campaign.json", file)
        for extra in ([], ["--dry-run"]):
            code, out, err = cli(engine, capsys, "campaign", "start", path, "--outputs", outputs, *extra)
            assert code == 2, err
            assert "app002.hosted_zone_id" in err and "is not a zone this stack may change" in err
            assert "app003.alarms" in err and "app003-no-such-alarm" in err
            assert "nothing was started" in err and "app001" not in err
        assert campaign_executions(engine) == []


def test_an_operator_runs_a_campaign_from_the_cli_and_it_refuses_what_no_longer_applies(tmp_path, capsys):
    with Engine(seed=7, concurrent=True) as engine:
        file, _ = stage(engine, cp.parse(campaign_file()))
        outputs = written(tmp_path, "outputs.json", engine.stack.outputs)
        path = written(tmp_path, "campaign.json", file)

        code, out, err = cli(engine, capsys, "campaign", "start", path, "--outputs", outputs, "--dry-run")
        assert code == 0 and "valid" in out and "nothing was started" in out, err
        assert campaign_executions(engine) == []

        starting = []

        def look_before_it_records_itself(site):  # status at once after start: the first step not yet run
            if site.function == "CampaignFunction" and (site.invocation, site.call) == (1, 1) and not starting:
                starting.append(cli(engine, capsys, "campaign", "status", "cli-campaign", "--outputs", outputs))

        engine.before_call.append(look_before_it_records_itself)
        code, out, err = cli(engine, capsys, "campaign", "start", path, "--outputs", outputs, "--json")
        assert code == 0, err
        arn = json.loads(out)["executionArn"]
        # the same file again: the name is taken
        code, _, err = cli(engine, capsys, "campaign", "start", path, "--outputs", outputs)
        assert code == 2 and "was started on this stack before" in err

        seen = []

        def operator():
            code, out, err = cli(engine, capsys, "campaign", "status", "cli-campaign", "--outputs", outputs, "--json")
            assert code in (0, 3) and out, (code, err)
            view = json.loads(out)
            if view["waiting_after_wave"] and not seen:
                seen.append(view)
                # the whole first wave has ended before the gate holds the second
                assert [c["status"] for c in view["waves"][0]["cutovers"]] == ["SUCCEEDED", "SUCCEEDED"]
                assert [c["status"] for c in view["waves"][1]["cutovers"]] == ["NOT_STARTED"]
                promoted = cli(engine, capsys, "campaign", "promote", "cli-campaign", "--outputs", outputs)
                assert promoted[0] == 0 and "the wave after wave 1 starts" in promoted[1], promoted

        described = engine.wait(arn, timeout=600, on_poll=once_invoked(engine, operator), virtual_limit=86_400)
        if described["status"] != "SUCCEEDED":  # say why: which cutover ended how
            ledger = cli(engine, capsys, "campaign", "history", "cli-campaign", "--outputs", outputs)[1]
            raise AssertionError(f"{described['status']}: {described.get('error')} {described.get('cause')}\n{ledger}\n"
                                 + "\n".join(_children_failures(engine)))
        assert seen, "the campaign never waited at its gate"
        assert starting == [(0, "campaign cli-campaign: STARTING (its execution runs; its waves are not recorded yet)\n", "")]

        code, out, _ = cli(engine, capsys, "campaign", "status", "cli-campaign", "--outputs", outputs)
        assert code == 0 and "campaign cli-campaign: SUCCEEDED" in out
        code, out, _ = cli(engine, capsys, "campaign", "history", "cli-campaign", "--outputs", outputs, "--json")
        events = [e["event"] for e in json.loads(out)]
        assert events[0] == "campaign_started" and events[-1] == "campaign_ended"
        approved = events.index("promotion_approved")
        assert events.index("waiting_for_promotion") < approved < events.index("wave_ended", approved)
        # an ended campaign: nothing to abort, nothing to promote, and nothing changes
        code, _, err = cli(engine, capsys, "campaign", "abort", "cli-campaign", "--reason", "late", "--outputs", outputs)
        assert code == 2 and "was not aborted, nothing changed" in err
        code, _, err = cli(engine, capsys, "campaign", "promote", "cli-campaign", "--outputs", outputs)
        assert code == 2 and "not waiting" in err
        code, _, err = cli(engine, capsys, "campaign", "status", "no-such-campaign", "--outputs", outputs)
        assert code == 2 and "no campaign named no-such-campaign" in err
        # the same cutovers under a new campaign name: each child's execution name is taken
        again = written(tmp_path, "again.json", dict(file, campaign="cli-campaign-2"))
        code, _, err = cli(engine, capsys, "campaign", "start", again, "--outputs", outputs)
        assert code == 2 and "app001.name" in err and "app003.name" in err and "ran on this stack before" in err
        assert len(campaign_executions(engine)) == 1


def test_every_campaign_command_refuses_a_campaign_the_stack_does_not_know_in_one_line(tmp_path, capsys):
    with Engine(seed=7, concurrent=True) as engine:
        stage(engine, cp.parse(campaign_file()))
        outputs = written(tmp_path, "outputs.json", engine.stack.outputs)
        for argv in (["status", "x"], ["status", "x", "--watch"], ["promote", "x"], ["abort", "x", "--reason", "r"],
                     ["history", "x"]):
            code, out, err = cli(engine, capsys, "campaign", *argv, "--outputs", outputs)
            assert code == 2 and out == "", (argv, out, err)
            assert err.startswith("cutover campaign") and "x" in err and len(err.splitlines()) <= 2, (argv, err)


def test_a_campaign_its_rule_halted_reads_as_rolled_back_once_it_has_ended_and_cannot_be_aborted(tmp_path, capsys):
    with Engine(seed=7, concurrent=True) as engine:
        file, _ = stage(engine, cp.parse(campaign_file()))
        outputs = written(tmp_path, "outputs.json", engine.stack.outputs)
        code, out, err = cli(engine, capsys, "campaign", "start", written(tmp_path, "c.json", file), "--outputs", outputs,
                             "--json")
        assert code == 0, err
        arn = json.loads(out)["executionArn"]

        def operator():
            # at the gate, the last wave's app goes bad: its Preflight refuses, the rule halts the campaign
            if cli(engine, capsys, "campaign", "status", "cli-campaign", "--outputs", outputs, "--json")[1].find(
                    '"waiting_after_wave": 1') >= 0:
                boto3.client("cloudwatch").set_alarm_state(AlarmName="app003-5xx-rate", StateValue="ALARM",
                                                           StateReason="test: the app went bad")
                assert cli(engine, capsys, "campaign", "promote", "cli-campaign", "--outputs", outputs)[0] == 0

        assert engine.wait(arn, timeout=600, on_poll=once_invoked(engine, operator), virtual_limit=86_400)["status"] == "FAILED"
        code, out, _ = cli(engine, capsys, "campaign", "status", "cli-campaign", "--outputs", outputs)
        assert code == 3 and "campaign cli-campaign: HALTED, ended" in out and "app003" in out, out
        # following an ended campaign returns at once with the same answer
        code, out, _ = cli(engine, capsys, "campaign", "status", "cli-campaign", "--watch", "--timeout", "5",
                           "--outputs", outputs)
        assert code == 3 and "HALTED, ended" in out
        code, _, err = cli(engine, capsys, "campaign", "abort", "cli-campaign", "--reason", "late", "--outputs", outputs)
        assert code == 2 and "HALTED and has ended" in err

"""Campaigns on the engine: the campaign state machine starts the cutover state machine once per
cutover, in waves, ``max_parallel`` at once, on one clock and one Route 53 budget."""

from __future__ import annotations

import json
from datetime import datetime

import boto3
import pytest

from cutover_cli.main import main
from cutover_local import seed
from cutover_local.campaign_rehearsal import fleet, rehearse_campaign
from cutover_local.engine import Engine

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e


def quiet(_line: str) -> None:
    pass


def spans(result, cutovers):
    """(started, ended) of each cutover, in virtual seconds as the campaign's ledger says."""
    times = {}
    for entry in result["ledger"]:
        if entry.get("cutover") in cutovers and entry["event"] in ("cutover_started", "cutover_ended"):
            times.setdefault(entry["cutover"], {})[entry["event"]] = entry["at"]
    return {c: (t["cutover_started"], t["cutover_ended"]) for c, t in times.items()}


def most_at_once(intervals):
    edges = sorted([(start, 1) for start, _ in intervals] + [(end, -1) for _, end in intervals])
    live = peak = 0
    for _, step in edges:
        live += step
        peak = max(peak, live)
    return peak


@pytest.fixture(scope="module")
def gated():
    """Five apps in two waves: three at most two at once, a manual gate, then two."""
    raw = fleet(names=5, zones=2, waves=2, max_parallel=2, on_rollback="stop")
    raw["waves"][0]["after"] = {"gate": "manual"}
    # as a user's file would be: no skips; the rehearsal skips what it does not simulate per app
    # (without that, the traffic check rolls every cutover back at its first stage)
    for check in ("traffic", "probe", "compare"):
        del raw["defaults"][check]
    return rehearse_campaign(raw, say=quiet, promote_after=900)


def test_a_healthy_campaign_puts_every_name_on_aws(gated):
    ended = [(e["cutover"], e["status"], e.get("reason")) for e in gated["ledger"] if e["event"] == "cutover_ended"]
    assert gated["status"] == "SUCCEEDED" and gated["execution_status"] == "SUCCEEDED", (ended, gated["counters"])
    assert {n: v["final_weights"] for n, v in gated["names"].items()} == {
        n: {"heroku": 0, "aws": 100} for n in gated["names"]}
    assert {v["status"] for v in gated["names"].values()} == {"SUCCEEDED"}


def test_a_wave_runs_at_most_max_parallel_cutovers_and_their_waits_overlap(gated):
    first = spans(gated, {"app001", "app002", "app003"})
    assert len(first) == 3
    assert most_at_once(first.values()) == 2  # two at once, never three
    # overlapping on one clock: the wave took less than its cutovers one after the other
    ends = sorted(first.values(), key=lambda s: s[0])
    durations = [(datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() for start, end in ends]
    wave = (datetime.fromisoformat(max(e for _, e in ends)) - datetime.fromisoformat(min(s for s, _ in ends))).total_seconds()
    assert wave < 0.8 * sum(durations)


def test_the_next_wave_waits_for_the_gate_and_the_gate_for_the_whole_wave(gated):
    events = [(e["at"], e["event"], e.get("cutover")) for e in gated["ledger"]]
    first_done = max(at for at, event, c in events if event == "cutover_ended" and c in ("app001", "app002", "app003"))
    held = next(at for at, event, _ in events if event == "waiting_for_promotion")
    promoted = next(at for at, event, _ in events if event == "promotion_approved")
    second = min(at for at, event, c in events if event == "cutover_started" and c in ("app004", "app005"))
    assert first_done <= held < promoted <= second


def test_throttling_slows_the_campaign_but_fails_no_cutover(gated):
    calls = gated["route53"]
    assert calls["calls"] > 0 and calls["budget_per_second"] == 5.0
    # a token bucket of five a second: never more than its burst and one second of refill
    assert calls["peak_per_second"] <= 10
    assert not [e for e in gated["ledger"] if e["event"] == "cutover_ended" and e["status"] != "SUCCEEDED"]


def test_with_on_rollback_stop_a_rollback_halts_the_campaign_and_no_later_wave_starts(tmp_path, capsys):
    raw = fleet(names=4, zones=1, waves=2, max_parallel=2, failing=(1,), on_rollback="stop", pause="5m")
    path = tmp_path / "stop.json"
    path.write_text(json.dumps(raw))  # the rehearsal's own key, _failing, says which app fails
    code = main(["rehearse", "--campaign", str(path), "--json"])
    result = json.loads(capsys.readouterr().out)
    ended = [(e["cutover"], e["status"], e.get("reason")) for e in result["ledger"] if e["event"] == "cutover_ended"]
    assert code == 3, ended  # halted and ended: a cutover rolled back, the rule stopped the rest
    names = result["names"]
    assert names["app001.fleet0.example.com"]["status"] == "ROLLED_BACK", ended
    assert result["status"] == "HALTED" and result["execution_status"] == "FAILED"
    assert names["app001.fleet0.example.com"]["status"] == "ROLLED_BACK"
    assert names["app001.fleet0.example.com"]["final_weights"] == {"heroku": 100, "aws": 0}
    # the one running beside it went on to its own end
    assert names["app002.fleet0.example.com"]["status"] == "SUCCEEDED"
    for later in ("app003.fleet0.example.com", "app004.fleet0.example.com"):
        assert names[later]["status"] == "NOT_STARTED" and names[later]["final_weights"] == {"heroku": 100, "aws": 0}
    halted = [e for e in result["ledger"] if e["event"] == "campaign_halted"]
    assert len(halted) == 1 and halted[0]["by"] == "app001" and "AlarmBreached" in (halted[0]["reason"] or "")
    assert any(e["event"] == "wave_skipped" for e in result["ledger"])


def test_an_aborted_campaign_puts_every_live_cutover_back_on_heroku_and_starts_no_other():
    raw = fleet(names=3, zones=1, waves=1, max_parallel=2, on_rollback="continue")
    result = rehearse_campaign(raw, say=quiet, abort_after=1800)  # both first cutovers wait out the old TTL
    assert result["status"] == "ABORTED"
    assert {n: v["final_weights"] for n, v in result["names"].items()} == {
        n: {"heroku": 100, "aws": 0} for n in result["names"]}
    aborted = next(e for e in result["ledger"] if e["event"] == "campaign_aborted")
    assert sorted(aborted["aborted"]) == ["app001", "app002"]
    assert result["names"]["app003.fleet0.example.com"]["status"] == "NOT_STARTED"
    assert {result["names"][f"app00{i}.fleet0.example.com"]["status"] for i in (1, 2)} == {"ROLLED_BACK"}


def test_a_fleet_goes_on_after_a_rollback_and_says_each_names_outcome(capsys, tmp_path):
    # fleet-10 itself is rehearsed as the README shows it (test_readme_sessions.py); this is the
    # same kind of file at half its size, through the CLI's --json
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(fleet(names=5, zones=2, waves=2, max_parallel=3, failing=(2,), pause="5m")))
    code = main(["rehearse", "--campaign", str(path), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert code == 3  # some names rolled back: the campaign did what its rule says
    assert result["status"] == "COMPLETED_WITH_ROLLBACKS"
    failing = "app002.fleet1.example.com"
    assert result["names"][failing] == {"cutover": "app002", "status": "ROLLED_BACK",
                                        "final_weights": {"heroku": 100, "aws": 0}}
    healthy = {n: v for n, v in result["names"].items() if n != failing}
    assert len(healthy) == 4, "the rollback of wave 1 did not stop wave 2"
    assert {(v["status"], v["final_weights"]["aws"]) for v in healthy.values()} == {("SUCCEEDED", 100)}, \
        [e for e in result["ledger"] if e["event"] == "cutover_ended" and e.get("reason")]


def test_a_campaign_file_with_errors_fails_the_campaign_before_any_cutover_starts():
    with Engine(concurrent=True) as engine:
        zone = seed.zone_with_heroku_record("fleet0.example.com", "app001.fleet0.example.com", "app001-1234.herokudns.com")
        stack = engine.deploy({"HostedZoneIds": zone, "RecordNames": "app001.fleet0.example.com"})
        bad = fleet(names=2, zones=1, waves=2)
        bad.pop("_failing")
        bad["waves"][1]["max_parallel"] = 99
        bad["waves"][0]["cutovers"][0]["records"] = ["app001.fleet0.example.com", "not a name"]
        sfn = boto3.client("stepfunctions")
        arn = sfn.start_execution(stateMachineArn=stack.outputs["CampaignStateMachineArn"], name="bad",
                                  input=json.dumps(bad))["executionArn"]
        described = engine.wait(arn)
        assert described["status"] == "FAILED" and described["error"] == "CampaignInvalid"
        assert "waves[1].max_parallel" in described["cause"] and "waves[0].cutovers[0].records" in described["cause"]
        assert sfn.list_executions(stateMachineArn=stack.state_machine_arn)["executions"] == []
        records = boto3.client("route53").list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        assert [r for r in records if r["Type"] == "CNAME"][0]["ResourceRecords"] == [{"Value": "app001-1234.herokudns.com"}]


def test_the_cli_refuses_a_campaign_file_with_errors_naming_each_before_anything_runs(tmp_path, capsys):
    path = tmp_path / "campaign.yaml"
    path.write_text("campaign: x\non_rollback: maybe\nwaves:\n  - cutovers: [{records: [www.a.example.com]}]\n")
    assert main(["rehearse", "--campaign", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the campaign is invalid, nothing was run" in err
    assert "on_rollback: must be one of stop, continue" in err
    assert "waves[0].cutovers[0].hosted_zone_id" in err and "waves[0].cutovers[0].alarms" in err

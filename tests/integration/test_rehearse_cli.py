"""``cutover rehearse``: the default way to try a cutover, end to end on the local engine."""

from __future__ import annotations

import json

import pytest
import yaml

from cutover_cli.main import main
from cutover_local.scenarios import BUILT_IN, DEFAULT_PLAN


def run_json(capsys, *args: str) -> tuple[int, dict]:
    code = main(["rehearse", "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_the_healthy_rehearsal_succeeds_on_aws_100(capsys):
    code, result = run_json(capsys)
    assert code == 0
    assert result["status"] == "SUCCEEDED"
    assert result["final_weights"] == {"heroku": 0, "aws": 100}
    assert result["stages_completed"] == 3 and result["rollback"] is None
    assert result["virtual_seconds"] > 3600 + 600 + 1200 + 1800
    assert result["counters"]["route53_calls"]["ChangeResourceRecordSets"] == 6  # convert, ttl, 3 shifts, restore
    assert result["counters"]["lambda_invocations"] > 0 and result["counters"]["state_transitions"] > 0


@pytest.mark.parametrize(("scenario", "stages", "alarm"), [("errors-at-10", 0, "shop-5xx-rate"), ("latency-at-50", 1, "shop-p99-latency"),
                                                           ("aws-down", 0, "shop-5xx-rate"), ("breach-recovers", 0, "shop-5xx-rate")])
def test_a_breach_rolls_back_to_heroku_100_with_the_reason_and_exit_3(capsys, scenario, stages, alarm):
    code, result = run_json(capsys, "--scenario", scenario)
    assert code == 3
    assert result["status"] == "ROLLED_BACK"
    assert result["final_weights"] == {"heroku": 100, "aws": 0}
    assert result["stages_completed"] == stages
    assert result["rollback"]["alarm"] == alarm and alarm in result["rollback"]["reason"]
    assert result["rollback"]["seconds_breach_to_insync"] > 0


def test_a_transient_lambda_fault_is_retried(capsys):
    code, result = run_json(capsys, "--scenario", "lambda-fault")
    assert code == 0 and result["status"] == "SUCCEEDED"


def test_an_invalid_plan_exits_2_and_runs_nothing(capsys, tmp_path):
    bad = dict(DEFAULT_PLAN, stages=[{"weight": 50, "bake": "10m"}])
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(bad))
    assert main(["rehearse", "--plan", str(path)]) == 2
    captured = capsys.readouterr()
    assert "stages[0].weight" in captured.err
    assert "preflight" not in captured.out


def test_an_unknown_scenario_exits_2(capsys):
    assert main(["rehearse", "--scenario", "no-such-thing"]) == 2
    assert "healthy" in capsys.readouterr().err


def test_a_scenario_file_scripts_alarms_relative_to_a_stage(capsys, tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "late", "alarms": [{"stage": 3, "after": "5m", "alarm": "shop-5xx-rate", "state": "ALARM"}]}))
    code, result = run_json(capsys, "--scenario", str(path))
    assert code == 3 and result["stages_completed"] == 2


def test_progress_is_printed_live_without_json(capsys):
    assert main(["rehearse", "--scenario", "errors-at-10"]) == 3
    out = capsys.readouterr().out
    assert "stage 1: AWS 10%" in out and "ROLLBACK to Heroku 100%" in out and "ROLLED_BACK" in out


def test_the_same_scenario_gives_the_same_result(capsys):
    first = run_json(capsys, "--scenario", "breach-recovers")[1]
    second = run_json(capsys, "--scenario", "breach-recovers")[1]
    for result in (first, second):
        result.pop("wall_seconds")
    assert first == second


def test_every_built_in_scenario_ends_succeeded_or_all_on_heroku(capsys):
    for name in BUILT_IN:
        _, result = run_json(capsys, "--scenario", name)
        assert result["status"] in ("SUCCEEDED", "ROLLED_BACK"), name
        if result["status"] != "SUCCEEDED":
            assert result["final_weights"] == {"heroku": 100, "aws": 0}, name

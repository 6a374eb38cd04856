"""``cutover rehearse``: the default way to try a cutover, end to end on the local engine."""

from __future__ import annotations

import json
import os
import re

import pytest
import yaml

from cutover_cli.main import main
from cutover_local.scenarios import BUILT_IN, DEFAULT_PLAN, LOAD_BALANCER_ALARMS, PROBE_ALARMS

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e


def run_json(capsys, *args: str) -> tuple[int, dict]:
    """Rehearse and check the invariant: anything but SUCCEEDED ends with 100% on Heroku."""
    code = main(["rehearse", "--json", *args])
    result = json.loads(capsys.readouterr().out)
    if result["status"] != "SUCCEEDED":
        assert result["final_weights"] == {"heroku": 100, "aws": 0}, result
    return code, result


# A built-in scenario at the default seed gives the same --json every time (the determinism test
# below proves it on the scenarios that draw from every random source), so the tests of this
# module that read one share a single rehearsal of it per process.
_REHEARSED: dict[str, tuple[int, str]] = {}


def rehearsed(capsys, scenario: str) -> tuple[int, dict]:
    """``cutover rehearse --json --scenario <built-in>``, rehearsed once per process."""
    if scenario not in _REHEARSED:
        code = main(["rehearse", "--json", "--scenario", scenario])
        _REHEARSED[scenario] = (code, capsys.readouterr().out)
    code, out = _REHEARSED[scenario]
    result = json.loads(out)
    if result["status"] != "SUCCEEDED":
        assert result["final_weights"] == {"heroku": 100, "aws": 0}, result
    return code, result


# every built-in scenario: (status, stages passed, the alarm that caused the rollback)
EXPECTED = {
    "healthy": ("SUCCEEDED", 3, None),
    # the probes see 8% of their requests fail within a minute, before the load balancer's
    # one-minute datapoints are visible (tests below rehearse the load balancer alarms alone)
    "errors-at-10": ("ROLLED_BACK", 0, "shop-probe-errors"),
    # 2.8 s at AWS against Heroku's 0.32 s: the slowest of a period's 20 answers is over 1.5 s in
    # 3 of 6 ten-second periods before the comparison's three 30-second medians (both would)
    "latency-at-50": ("ROLLED_BACK", 1, "shop-probe-latency"),
    # twice as slow as Heroku, under every fixed threshold: the probes' comparison alarm
    "slow-vs-heroku": ("ROLLED_BACK", 0, "shop-probe-vs-heroku"),
    # The ALB answers 503 itself: no target 5XX, no response time, no RequestCount; the probes
    # get the 503s; of the load balancer alarms only those on target health and on the load
    # balancer's own 5XX see it (the next test rehearses them without the probes).
    "aws-down": ("ROLLED_BACK", 0, "shop-probe-errors"),
    # the probes' alarm within a minute; without it the Route 53 health check drains AWS by DNS
    # first (test_health_check_rehearsals.py), then the load balancer alarms roll back
    "alb-no-healthy-targets": ("ROLLED_BACK", 0, "shop-probe-errors"),
    # every stage passes; AWS breaks 3 hours into the 4-hour watch: the watch's alarms roll back
    "late-regression": ("ROLLED_BACK", 3, "shop-probe-errors"),
    # the users DNS sends to AWS reach another load balancer: no alarm moves, no requests arrive
    "wrong-target": ("ROLLED_BACK", 0, "TrafficNotArriving"),
    # every function fails for 30 minutes: the rollback comes once they are back
    "control-plane-down": ("ROLLED_BACK", 0, "Lambda.ServiceException"),
    "breach-recovers": ("ROLLED_BACK", 0, "shop-probe-errors"),
    "route53-throttling": ("SUCCEEDED", 3, None),
    "lambda-fault": ("SUCCEEDED", 3, None),
    "manual-gate": ("SUCCEEDED", 3, None),
    # refused at readiness: the execution fails in PreflightFailed, nothing changed
    "tls-wrong-name": ("FAILED", 0, None),
}


def test_the_load_balancers_own_5xx_alone_see_an_origin_without_healthy_targets(capsys, tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({**DEFAULT_PLAN, "alarms": ["shop-5xx-rate", "shop-elb-5xx", "shop-p99-latency"]}))
    code, result = run_json(capsys, "--scenario", "aws-down", "--plan", str(path))
    assert code == 3 and result["rollback"]["alarm"] == "shop-elb-5xx"


@pytest.mark.parametrize(("scenario", "alarm"), [("errors-at-10", "shop-5xx-rate"), ("aws-down", "shop-unhealthy-targets")])
def test_without_the_probes_alarms_the_load_balancer_alarms_roll_back_minutes_later(capsys, tmp_path, scenario, alarm):
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({**DEFAULT_PLAN, "alarms": list(LOAD_BALANCER_ALARMS)}))
    _, alone = run_json(capsys, "--scenario", scenario, "--plan", str(path))
    _, probed = rehearsed(capsys, scenario)
    assert alone["rollback"]["alarm"] == alarm and probed["rollback"]["alarm"] == "shop-probe-errors"
    assert probed["virtual_seconds"] < alone["virtual_seconds"], "the probes roll back sooner"


def test_slower_than_heroku_is_rolled_back_by_the_comparison_with_both_origins_figures(capsys, tmp_path):
    # with the comparison alarm (the default plan): within minutes of the shift, and the ledger
    # shows what the probes saw at both origins before it
    _, alarmed = rehearsed(capsys, "slow-vs-heroku")
    before = alarmed["detection"]["probes_before_rollback"]
    assert before["alarm"] == "shop-probe-vs-heroku" and alarmed["stages_completed"] == 0
    (figures,) = before["names"]
    assert figures["aws"]["p50_ms"] > 1.5 * figures["heroku"]["p50_ms"]
    assert figures["aws"]["p99_ms"] < 1500, "under the fixed latency threshold: no fixed alarm could see it"
    # without it, the stage's evaluation compares the bake: rolled back when stage 1 is judged,
    # the reason naming both origins' p90
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump({**DEFAULT_PLAN, "alarms": [*LOAD_BALANCER_ALARMS, "shop-probe-errors",
                                                               "shop-probe-latency"]}))
    _, baked = run_json(capsys, "--scenario", "slow-vs-heroku", "--plan", str(path))
    reason = baked["rollback"]["reason"]
    assert reason.startswith("WorseThanHeroku: stage 1") and baked["rollback"]["alarm"] is None, reason
    (compared,) = baked["detection"]["compare"][0]["names"]
    assert compared["outcome"] == "fail" and compared["latency_ratio"] > 1.5
    assert f"{compared['aws']['p90_ms']:.0f} ms" in reason and f"{compared['heroku']['p90_ms']:.0f} ms" in reason
    assert baked["virtual_seconds"] > alarmed["virtual_seconds"], "the alarm sees it sooner than the bake's end"


def test_the_probes_signal_is_shown_next_to_an_alarms_rollback(capsys):
    _, result = rehearsed(capsys, "errors-at-10")
    (figures,) = result["detection"]["probes_before_rollback"]["names"]
    assert figures["aws"]["error_rate"] > 2 and figures["heroku"]["error_rate"] < 1
    main(["rehearse", "--scenario", "errors-at-10"])
    out = capsys.readouterr().out
    assert "probes before shop-probe-errors went to ALARM: www.shop.example.com: AWS median" in out


def test_a_certificate_that_does_not_cover_the_name_is_refused_before_anything_changes(capsys):
    code, result = run_json(capsys, "--scenario", "tls-wrong-name")
    assert (code, result["error"], result["final_weights"]) == (1, "NotReady", {"heroku": 100, "aws": 0})
    assert "ChangeResourceRecordSets" not in result["counters"]["route53_calls"], "nothing was changed"


def test_the_expectations_cover_every_built_in_scenario():
    assert set(EXPECTED) == set(BUILT_IN)


# Between them these draw from every random source of the engine: traffic and the origins'
# answers, metric lag, the probes, alarm event delays and duplicates (errors-at-10), SDK retry
# backoff (route53-throttling), Step Functions retry jitter (lambda-fault), Lambda's
# asynchronous retries (control-plane-down), status events and the index lag (all of them).
DETERMINISM = ("healthy", "errors-at-10", "route53-throttling", "lambda-fault", "control-plane-down")


@pytest.mark.parametrize("scenario", DETERMINISM)
def test_the_same_seed_gives_the_same_json_byte_for_byte(capsys, scenario):
    # apart from wall time: every draw comes from the seed
    code, _ = rehearsed(capsys, scenario)
    again = main(["rehearse", "--json", "--scenario", scenario])
    lines = [[line for line in out.splitlines() if '"wall_seconds"' not in line]
             for out in (_REHEARSED[scenario][1], capsys.readouterr().out)]
    assert lines[0] == lines[1] and again == code


def test_the_determinism_check_covers_every_fault_kind_of_the_built_in_scenarios():
    """Not every scenario twice (that doubled the suite's longest tests), but every kind of fault
    the built-in scenarios inject, a rollback by an alarm and a change of the origins' answers."""
    def kinds(names):
        return {type(f).__name__ for name in names for f in BUILT_IN[name].catalogue_faults()}

    assert kinds(DETERMINISM) == kinds(BUILT_IN) and kinds(DETERMINISM)
    assert any(BUILT_IN[name].traffic for name in DETERMINISM)
    assert any(EXPECTED[name][0] == "ROLLED_BACK" and EXPECTED[name][2] in PROBE_ALARMS for name in DETERMINISM)


@pytest.mark.parametrize("scenario", sorted(EXPECTED))
def test_each_built_in_scenario_ends_as_expected(capsys, scenario):
    status, stages, alarm = EXPECTED[scenario]
    code, result = rehearsed(capsys, scenario)
    assert (result["status"], result["stages_completed"]) == (status, stages)
    assert code == {"SUCCEEDED": 0, "ROLLED_BACK": 3, "FAILED": 1}[status]
    if alarm in ("AlarmDataMissing", "Lambda.ServiceException", "TrafficNotArriving"):  # a rollback no alarm caused
        assert result["rollback"]["reason"].startswith(alarm) and result["rollback"]["alarm"] is None
    elif alarm:
        assert result["rollback"]["alarm"] == alarm and alarm in result["rollback"]["reason"]
        assert result["rollback"]["seconds_breach_to_insync"] > 0
    else:
        assert result["rollback"] is None
        assert result["final_weights"] == ({"heroku": 0, "aws": 100} if status == "SUCCEEDED" else {"heroku": 100, "aws": 0})
    calls = result["counters"]["route53_calls"]
    if scenario == "healthy":
        # what users would see: readiness, each stage's traffic, the health check kept on AWS
        detection = result["detection"]
        assert {(c["origin"], c["ok"], c["status"]) for c in detection["readiness"]} == {
            ("aws", True, 200), ("heroku", True, 200), ("aws-health-check", True, 200)}
        assert [(t["intended_percent"], t["ok"]) for t in detection["traffic"]] == [(10, True), (50, True), (100, True)]
        # AWS compared with Heroku over each bake: judged, and not worse
        assert [(c["stage"], [n["outcome"] for n in c["names"]]) for c in detection["compare"]] == [
            (1, ["pass"]), (2, ["pass"]), (3, ["pass"])]
        assert (detection["health_check"]["created"], detection["health_check"]["left"]) == (1, 0), "deleted by the commit"
        assert detection["health_check"]["unhealthy_at"] is None
        assert result["virtual_seconds"] > 3600 + 600 + 1200 + 1800
        assert calls["ChangeResourceRecordSets"] == 7  # convert, ttl, 3 shifts, restore, commit
        assert result["counters"]["lambda_invocations"] > 0 and result["counters"]["state_transitions"] > 0
    if scenario == "route53-throttling":
        assert calls["Throttled"] >= 2 * 7  # two refusals before each of the seven changes passes
        assert calls["ChangeResourceRecordSets"] == 3 * 7


def test_progress_is_printed_live_and_the_report_is_an_html_timeline(capsys, tmp_path):
    report = tmp_path / "timeline.html"
    assert main(["rehearse", "--scenario", "errors-at-10", "--report", str(report)]) == 3
    out = capsys.readouterr().out
    assert "stage 1: AWS 10%" in out and "ROLLBACK to Heroku 100%" in out and "ROLLED_BACK" in out
    # the timeline reads in time order, the rollback's INSYNC in its place among the alarms
    moments = re.findall(r"^\[\+(\d\d:\d\d:\d\d)\] ", out, flags=re.MULTILINE)
    assert moments == sorted(moments) and "rollback INSYNC" in out
    insync = out.index("rollback INSYNC")
    assert out.index("ROLLBACK to Heroku 100%") < insync < out.index("alarm shop-5xx-rate: OK → ALARM")
    page = report.read_text()
    assert page.startswith("<!doctype html>") and "<svg" in page
    assert "ROLLED_BACK" in page and "shop-5xx-rate" in page and "ROLLBACK to Heroku 100%" in page


def test_a_png_report_is_refused_before_running(capsys, tmp_path):
    assert main(["rehearse", "--report", str(tmp_path / "t.png")]) == 2
    assert "HTML" in capsys.readouterr().err


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


def test_a_scenario_file_changes_an_origin_relative_to_a_stage(capsys, tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"name": "late", "traffic": [{"origin": "aws", "stage": 3, "after": "5m", "error_rate": 0.2}]}))
    code, result = run_json(capsys, "--scenario", str(path))
    assert code == 3 and result["stages_completed"] == 2
    assert result["rollback"]["alarm"] == "shop-probe-errors"


def test_errors_on_heroku_do_not_stop_the_cutover(capsys, tmp_path):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"traffic": [{"origin": "heroku", "error_rate": 0.5}]}))
    code, result = run_json(capsys, "--scenario", str(path))
    assert code == 0 and result["status"] == "SUCCEEDED"


@pytest.mark.parametrize("content", [{"traffic": [{"origin": "gcp"}]}, {"traffic": [{"origin": "aws", "error_rate": 3}]},
                                     {"traffic": [{"origin": "aws", "p99": "fast"}]}, {"trafic": []},
                                     {"origins": {"aws": {"status": 700}}}, {"origins": {"aws": {"delay": -1}}},
                                     {"origins": {"gcp": {}}}, {"traffic": [{"origin": "aws", "unseen": "yes"}]}])
def test_a_bad_scenario_file_exits_2(capsys, tmp_path, content):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump(content))
    assert main(["rehearse", "--scenario", str(path)]) == 2
    assert capsys.readouterr().err


def test_a_wrong_target_is_rolled_back_at_stage_1_because_traffic_is_not_arriving(capsys):
    code, result = rehearsed(capsys, "wrong-target")
    assert code == 3 and result["rollback"]["reason"].startswith(
        "TrafficNotArriving: stage 1 at AWS 10%: traffic not arriving for www.shop.example.com")
    (stage,) = result["detection"]["traffic"]
    assert (stage["intended_percent"], stage["requests_per_minute"], stage["ok"]) == (10, 0, False)
    assert all(c["ok"] for c in result["detection"]["readiness"]), "the wrong target passes readiness: it answers"


@pytest.mark.parametrize(("origin", "words"), [
    ({"certificate": "expired"}, "failed at certificate: the certificate has expired"),
    ({"status": 503}, "failed at http: GET / with Host www.shop.example.com answered 503 (expected 200-399)"),
])
def test_a_broken_aws_origin_is_refused_naming_the_check_and_the_name_without_a_stack_trace(capsys, tmp_path, origin,
                                                                                          words):
    path = tmp_path / "scenario.yaml"
    path.write_text(yaml.safe_dump({"origins": {"aws": origin}}))
    code = main(["rehearse", "--scenario", str(path)])
    out = capsys.readouterr().out
    assert code == 1 and "readiness: REFUSED, nothing changed: readiness of www.shop.example.com on AWS" in out
    assert words in out and "Traceback" not in out and "stackTrace" not in out


def test_a_rehearsal_never_reads_the_users_aws_configuration_nor_talks_to_their_endpoint(capsys, monkeypatch, tmp_path):
    """A shell exported for a real account or for another endpoint: the rehearsal runs on the
    engine alone, and not one connection reaches that endpoint."""
    import socket

    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen()
    listening.setblocking(False)
    endpoint = f"http://127.0.0.1:{listening.getsockname()[1]}"
    unreadable = tmp_path / "config"
    unreadable.write_bytes(bytes(range(256)))
    for key, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ENDPOINT_URL_ROUTE_53": endpoint, "AWS_PROFILE": "production",
                       "AWS_CONFIG_FILE": str(unreadable), "AWS_REGION": "eu-west-1", "AWS_ACCESS_KEY_ID": "AKIAREAL"}.items():
        monkeypatch.setenv(key, value)
    try:
        code, result = run_json(capsys, "--scenario", "tls-wrong-name")
        with pytest.raises(BlockingIOError):
            listening.accept()  # nobody connected
    finally:
        listening.close()
    assert (code, result["status"], result["stages_completed"]) == (1, "FAILED", 0), "refused at readiness, as always"
    assert result["counters"]["route53_calls"]["ListResourceRecordSets"] >= 1, "it did read the (embedded) zone"
    assert os.environ["AWS_ENDPOINT_URL"] == endpoint and os.environ["AWS_PROFILE"] == "production", "put back after"

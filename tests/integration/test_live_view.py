"""The live view (`status --watch`, `start --wait`) as a person sees it: the terminal's screen,
captured by a terminal emulator (pyte) fed the bytes the command writes."""

from __future__ import annotations

import io
import json
from datetime import timedelta

import boto3
import pyte

from cutover import clock
from cutover_cli import live
from cutover_cli.operate import view_of
from cutover_local import seed
from tests.integration.test_gates import gated, wait_for
from tests.integration.test_operator_cli import cli, write_plan

WIDTH = 140


def _screen(output: str) -> list[str]:
    """What a terminal of WIDTH columns shows after these bytes (a tty turns \\n into \\r\\n)."""
    screen = pyte.Screen(WIDTH, 40)
    screen.set_mode(pyte.modes.LNM)
    pyte.Stream(screen).feed(output)
    return [line.rstrip() for line in screen.display if line.strip()]


def test_the_view_is_redrawn_in_place_with_the_gate_the_weights_and_the_alarms(engine, tmp_path, capsys):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(engine.stack.outputs))
    raw = dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id)
    assert cli(capsys, "start", write_plan(tmp_path, raw), "--name", "live-1", "--outputs", str(outputs))[0] == 0
    wait_for(engine, "live-1", "waiting_for_promotion")
    # the load balancer reports 3 target errors in the last minute: the view shows that datapoint
    # against the threshold, whatever the alarm's last state change said
    boto3.client("cloudwatch").put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[{
        "MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": [{"Name": "LoadBalancer", "Value": seed.LOAD_BALANCER}],
        "Timestamp": clock.now() - timedelta(seconds=90), "Value": 3.0, "Unit": "Count"}])
    waiting = view_of(engine.stack.outputs, "live-1")
    terminal = io.StringIO()
    with live.Screen(terminal, redraw=True, width=WIDTH) as screen:
        screen.show(waiting)
        first = _screen(terminal.getvalue())
        code, _, _ = cli(capsys, "abort", "live-1", "--reason", "checkout errors", "--outputs", str(outputs))
        assert code == 0
        engine.wait(engine.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + ":live-1")
        screen.show(view_of(engine.stack.outputs, "live-1"))
    shown = _screen(terminal.getvalue())
    # at the gate: where it is, what DNS serves, what opens the gate, each alarm against its threshold
    assert first[0] == "live-1: RUNNING - stage 1 of 3, AWS 10% intended"
    assert "  DNS www.shop.example.com: Heroku 90% / AWS 10% (weights 90 / 10)" in first
    assert any(line.startswith("  gate before stage 2 (manual): waiting since ") and line.endswith(
        "opens when someone runs cutover promote") for line in first)
    at = next(line for line in first if line.startswith("  alarm shop-5xx-rate: "))
    assert at.startswith("  alarm shop-5xx-rate: OK (threshold > 1) latest 3 at 20"), first
    assert "seeded" not in at  # the reason of an OK alarm's last change is not repeated
    assert any(line.startswith("  last: ") and "waiting_for_promotion by execution" in line for line in first)
    # redrawn in place: the screen holds the second view only, never both
    assert shown[0] == "live-1: FAILED - cutover ROLLED_BACK", shown
    assert "  DNS www.shop.example.com: Heroku 100% / AWS 0% (weights 255 / 0)" in shown
    assert not any("gate before stage" in line or "RUNNING" in line for line in shown), shown
    assert "  rolled back: OperatorAborted: checkout errors" in shown
    assert len(shown) == len(live.lines(view_of(engine.stack.outputs, "live-1")))


def test_without_a_terminal_the_view_is_lines_appended_when_they_change(engine, tmp_path, capsys):
    raw = dict(gated({"promote": "manual"}), hosted_zone_id=engine.zone_id)
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps(engine.stack.outputs))
    cli(capsys, "start", write_plan(tmp_path, raw), "--name", "live-2", "--outputs", str(outputs))
    wait_for(engine, "live-2", "waiting_for_promotion")
    log = io.StringIO()
    assert not live.interactive(log), "a file is no terminal"
    with live.Screen(log) as screen:
        view = view_of(engine.stack.outputs, "live-2")
        screen.show(view)
        screen.show(view)  # nothing changed: nothing more
    written = log.getvalue().splitlines()
    assert written == live.lines(view) and "\x1b" not in log.getvalue(), "plain lines, no escape codes"


def test_each_alarms_latest_datapoint_is_read_as_cloudwatch_computes_it_metric_math_included():
    from cutover.adapters.cloudwatch import CloudWatch
    from cutover_local.engine import Engine

    names = ["shop-5xx-rate", "shop-p99-latency"]
    with Engine(seed=1) as _engine:
        seed.example_alarms(names, seed.LOAD_BALANCER, "targetgroup/shop/1")
        cw = boto3.client("cloudwatch")
        dims = [{"Name": "LoadBalancer", "Value": seed.LOAD_BALANCER}]
        for minutes_ago, requests, errors in ((12, 100.0, 0.0), (8, 200.0, 10.0)):
            at = clock.now() - timedelta(minutes=minutes_ago)
            cw.put_metric_data(Namespace="AWS/ApplicationELB", MetricData=[
                {"MetricName": "RequestCount", "Dimensions": dims, "Timestamp": at, "Value": requests},
                {"MetricName": "HTTPCode_Target_5XX_Count", "Dimensions": dims, "Timestamp": at, "Value": errors}])
        described = cw.describe_alarms(AlarmNames=names)["MetricAlarms"]
        latest = CloudWatch().latest(described, clock.now())
    # the error-rate alarm is metric math (100 * errors / requests, guarded): its latest is 5%,
    # the newer of the two minutes; no latency was reported, so that alarm has no datapoint
    assert latest["shop-5xx-rate"]["value"] == 5.0
    assert latest["shop-p99-latency"] is None
    shown = live.lines(live.snapshot({"name": "x", "execution": "RUNNING"}, {}, None, [],
                                     [dict(a, StateValue="OK") for a in described], clock.now(), latest))
    assert any(line.startswith("  alarm shop-5xx-rate: OK (threshold > 2) latest 5 at ") for line in shown), shown
    assert any(line.startswith("  alarm shop-p99-latency: OK (threshold > 1.5) no datapoint in the window it evaluates")
               for line in shown), shown

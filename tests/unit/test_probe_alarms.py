"""The engine's 10-second alarms on the probes' metrics: judged on what the probe put, once visible."""

from __future__ import annotations

import pytest

from cutover_local.alarm_eval import PROBE_LAG, ProbeAlarmEvaluator, is_probe_alarm, statistic_of
from cutover_local.clock import VirtualClock

NAME = "www.shop.example.com"
DIMS = [{"Name": "Name", "Value": NAME}, {"Name": "Origin", "Value": "aws"}]


def stat(metric, origin="aws", period=10, statistic="Sum"):
    dims = [{"Name": "Name", "Value": NAME}, {"Name": "Origin", "Value": origin}]
    return {"MetricStat": {"Metric": {"Namespace": "Cutover/Probes", "MetricName": metric, "Dimensions": dims},
                           "Period": period, "Stat": statistic}}


ERRORS_ALARM = {
    "AlarmName": "probe-errors", "ComparisonOperator": "GreaterThanThreshold", "Threshold": 10.0,
    "EvaluationPeriods": 6, "DatapointsToAlarm": 3, "TreatMissingData": "notBreaching",
    "Metrics": [{"Id": "requests", "ReturnData": False, **stat("Requests")},
                {"Id": "errors", "ReturnData": False, **stat("Errors")},
                {"Id": "rate", "ReturnData": True, "Expression": "IF(requests > 0, 100 * FILL(errors, 0) / requests, 0)"}],
}
ALB_ALARM = {"AlarmName": "alb", "Namespace": "AWS/ApplicationELB", "MetricName": "RequestCount", "Statistic": "Sum",
             "Period": 60, "EvaluationPeriods": 1, "Threshold": 1.0, "ComparisonOperator": "GreaterThanThreshold"}


def rounds(clock, evaluator, errors_by_round):
    """One probe round every 10 s (5 requests to AWS), each put the moment it ends."""
    for i, errors in enumerate(errors_by_round):
        def put(errors=errors):
            at = clock.now()
            evaluator.put("Cutover/Probes", [
                {"MetricName": "Requests", "Dimensions": DIMS, "Timestamp": at, "Value": 5},
                {"MetricName": "Errors", "Dimensions": DIMS, "Timestamp": at, "Value": errors},
                {"MetricName": "Latency", "Dimensions": DIMS, "Timestamp": at, "Values": [40.0, 55.0]}])
        clock.call_at(1 + 10 * i, put)


def test_only_alarms_on_the_probes_namespace_are_judged_every_10_seconds():
    assert is_probe_alarm(ERRORS_ALARM) and not is_probe_alarm(ALB_ALARM)
    evaluator = ProbeAlarmEvaluator([ERRORS_ALARM, ALB_ALARM], lambda *a: None, VirtualClock())
    assert [a.name for a in evaluator.alarms] == ["probe-errors"]


@pytest.mark.parametrize(("errors", "fires"), [([0, 1, 0, 1, 0, 1, 0, 0, 0], True), ([0, 1, 0, 0, 0, 1, 0, 0, 0], False)])
def test_errors_in_3_of_6_rounds_put_the_alarm_in_alarm_within_tens_of_seconds_and_2_of_6_do_not(errors, fires):
    clock, changes = VirtualClock(), []
    evaluator = ProbeAlarmEvaluator([ERRORS_ALARM], lambda *a: changes.append((clock.elapsed, a[2], a[3])), clock)
    evaluator.start()
    rounds(clock, evaluator, errors)
    clock.advance(120)
    alarmed = [c for c in changes if c[1] == "ALARM"]
    assert bool(alarmed) == fires, changes
    if fires:  # the third failing round is put at 51 s: judged at the first tick after it is visible
        assert 51 < alarmed[0][0] <= 51 + PROBE_LAG[1] + 10
        assert "20" in alarmed[0][2]  # 1 error of 5 requests: 20%


def test_a_datapoint_counts_only_once_visible():
    clock, changes = VirtualClock(), []
    evaluator = ProbeAlarmEvaluator([ERRORS_ALARM], lambda *a: changes.append(a[2]), clock, lag=(30.0, 30.0))
    evaluator.start()
    rounds(clock, evaluator, [5, 5, 5])
    clock.advance(50)  # put at 1, 11, 21 s: none visible before 31 s, two by 45 s
    assert "ALARM" not in changes
    clock.advance(20)
    assert "ALARM" in changes


def test_statistics_are_cloudwatchs():
    values = [float(v) for v in range(1, 101)]
    assert statistic_of(values, "Sum") == 5050 and statistic_of(values, "Maximum") == 100
    assert statistic_of(values, "p99") == 99 and statistic_of(values, "Average") == 50.5
    assert statistic_of([], "Sum") is None and statistic_of([3.0], "SampleCount") == 1


def median_of(origin):
    return stat("Latency", origin, period=30, statistic="p50")


VS_HEROKU_ALARM = {
    "AlarmName": "probe-vs-heroku", "ComparisonOperator": "GreaterThanThreshold", "Threshold": 1.5,
    "EvaluationPeriods": 3, "DatapointsToAlarm": 3, "TreatMissingData": "notBreaching",
    "Metrics": [{"Id": "aws", "ReturnData": False, **median_of("aws")},
                {"Id": "heroku", "ReturnData": False, **median_of("heroku")},
                {"Id": "ratio", "ReturnData": True, "Expression": "IF(aws - heroku > 50, aws / heroku, 1)"}],
}


@pytest.mark.parametrize(("aws_ms", "fires"), [(200.0, True), (110.0, False), (60.0, False)])
def test_a_30_second_alarm_compares_both_origins_medians_over_its_own_periods(aws_ms, fires):
    clock, changes = VirtualClock(), []
    evaluator = ProbeAlarmEvaluator([VS_HEROKU_ALARM], lambda *a: changes.append((clock.elapsed, a[2], a[3])), clock)
    evaluator.start()
    for i in range(12):  # a round every 10 s: 3 answers per origin, Heroku's median 100 ms
        def put(i=i):
            at = clock.now()
            evaluator.put("Cutover/Probes", [
                {"MetricName": "Latency", "Dimensions": median_of(o)["MetricStat"]["Metric"]["Dimensions"],
                 "Timestamp": at, "Values": [m * 0.8, m, m * 1.3]}
                for o, m in (("aws", aws_ms), ("heroku", 100.0))])
        clock.call_at(1 + 10 * i, put)
    clock.advance(130)
    alarmed = [c for c in changes if c[1] == "ALARM"]
    assert bool(alarmed) == fires, changes
    judged_at = {round(at) % 30 for at, _, _ in changes}
    assert judged_at <= {5}, changes  # judged as each 30-second period ends (ticks at 5, 15, 25 ... s)
    if fires:  # the third period ends at 90 s: judged at the tick after it, the ratio 2 shown
        assert 90 < alarmed[0][0] <= 105 and "2" in alarmed[0][2]

"""The engine's metric math: the alarms' expressions one datapoint at a time, and GetMetricData's
expressions over the other queries' results aligned by timestamp."""

from datetime import UTC, datetime

import pytest

from cutover_local import metric_math

T1, T2, T3 = (datetime(2026, 12, 1, 14, m, tzinfo=UTC) for m in (1, 2, 3))
RATE = "IF(requests >= 10, 100 * FILL(errors, 0) / requests, 0)"


def _never(expression, results):
    raise AssertionError(f"moto's parser was asked for {expression}")


def test_an_expression_is_evaluated_at_each_timestamp_any_result_has():
    results = [{"id": "requests", "values": [200.0, 5.0, 100.0], "timestamps": [T1, T2, T3]},
               {"id": "errors", "values": [10.0], "timestamps": [T3]}]  # no errors reported at T1, T2
    values, stamps = metric_math.over_results(RATE, results, _never)
    assert stamps == [T1, T2, T3]
    assert values == [0.0, 0.0, 10.0]  # FILL: no errors is 0%; under 10 requests the guard says 0


def test_a_timestamp_where_the_expression_is_missing_has_no_value():
    results = [{"id": "aws", "values": [300.0, 200.0], "timestamps": [T1, T2]},
               {"id": "heroku", "values": [100.0], "timestamps": [T2]}]
    values, stamps = metric_math.over_results("aws / heroku", results, _never)
    assert (values, stamps) == ([2.0], [T2])  # at T1 heroku is missing, and so is the ratio


def test_math_it_does_not_know_goes_to_motos_parser():
    seen = []
    results = [{"id": "requests", "values": [1.0], "timestamps": [T1]}]
    answer = metric_math.over_results("SUM(METRICS())", results, lambda e, r: seen.append(e) or ([1.0], [T1]))
    assert answer == ([1.0], [T1]) and seen == ["SUM(METRICS())"]


@pytest.mark.parametrize("expression", ["requests +", "unknown_id * 2"])
def test_evaluate_refuses_what_it_cannot_read(expression):
    with pytest.raises(metric_math.UnsupportedExpression):
        metric_math.evaluate(expression, {"requests": 1.0})

"""CloudWatch alarm evaluation for the local engine: period by period, M out of N.

Each minute the traffic simulator hands over the AWS origin's datapoints; every alarm that
watches one of the ALB metrics gets its value (a metric's statistic, or a metric-math
expression), and its state follows CloudWatch's rules: the last ``EvaluationPeriods``
datapoints, ``DatapointsToAlarm`` of them breaching, and ``TreatMissingData``.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import metric_math

Value = float | None
_COMPARISONS: dict[str, Callable[[float, float], bool]] = {
    "GreaterThanThreshold": operator.gt,
    "GreaterThanOrEqualToThreshold": operator.ge,
    "LessThanThreshold": operator.lt,
    "LessThanOrEqualToThreshold": operator.le,
}


def metric_value(metric_name: str, statistic: str, datapoint: Mapping[str, Any]) -> Value:
    """One ALB metric of one period, as CloudWatch would report it (None: no datapoint)."""
    requests = datapoint.get("RequestCount", 0)
    if metric_name == "RequestCount":
        return float(requests) if requests else None
    if metric_name == "HTTPCode_Target_5XX_Count":
        errors = datapoint.get("HTTPCode_Target_5XX_Count", 0)
        return float(errors) if errors else None  # the ALB publishes no zero counts
    if metric_name == "TargetResponseTime":
        if not requests:
            return None
        if statistic.startswith("p"):
            return float(datapoint["TargetResponseTime"][statistic])
        return float(datapoint["TargetResponseTime"]["Average"])
    return None


@dataclass
class Alarm:
    name: str
    definition: dict[str, Any]
    state: str
    values: deque[Value] = field(default_factory=deque)

    @property
    def periods(self) -> int:
        return int(self.definition.get("EvaluationPeriods", 1))

    @property
    def to_alarm(self) -> int:
        return int(self.definition.get("DatapointsToAlarm") or self.periods)

    def value(self, datapoint: Mapping[str, Any]) -> Value:
        d = self.definition
        if d.get("Metrics"):
            values: dict[str, Value] = {}
            result: Value = None
            for query in d["Metrics"]:
                if "MetricStat" in query:
                    stat = query["MetricStat"]
                    values[query["Id"]] = metric_value(stat["Metric"]["MetricName"], stat["Stat"], datapoint)
            for query in d["Metrics"]:
                if "Expression" in query:
                    values[query["Id"]] = metric_math.evaluate(query["Expression"], values)
                if query.get("ReturnData", True):
                    result = values.get(query["Id"])
            return result
        statistic = d.get("ExtendedStatistic") or d.get("Statistic", "Average")
        return metric_value(d["MetricName"], statistic, datapoint)

    def observe(self, datapoint: Mapping[str, Any]) -> tuple[str, str]:
        """Add one period's datapoint; return (new state, reason)."""
        self.values.append(self.value(datapoint))
        while len(self.values) > self.periods:
            self.values.popleft()
        window = list(self.values)
        treat = self.definition.get("TreatMissingData", "missing")
        compare = _COMPARISONS[self.definition["ComparisonOperator"]]
        threshold = float(self.definition["Threshold"])
        present = [v for v in window if v is not None]
        breaching = sum(1 for v in present if compare(v, threshold))
        missing = len(window) - len(present)
        if treat == "breaching":
            breaching += missing
        if not present and treat in ("missing", "ignore"):
            state = self.state if treat == "ignore" else "INSUFFICIENT_DATA"
            return state, f"no datapoints in the last {len(window)} period(s)"
        shown = ", ".join("-" if v is None else f"{v:.3g}" for v in window)
        if breaching >= self.to_alarm:
            return "ALARM", f"{breaching} of the last {len(window)} datapoints [{shown}] crossed {threshold:g}"
        return "OK", f"datapoints [{shown}] within {threshold:g}"


class AlarmEvaluator:
    """Evaluates the given metric alarms each period; ``on_change`` hears each state change."""

    def __init__(self, definitions: list[dict[str, Any]], on_change: Callable[[str, str, str, str], None]):
        self.alarms = [Alarm(d["AlarmName"], d, d.get("StateValue", "INSUFFICIENT_DATA")) for d in definitions]
        self.on_change = on_change

    def observe(self, datapoint: Mapping[str, Any]) -> None:
        for alarm in self.alarms:
            new, reason = alarm.observe(datapoint)
            if new != alarm.state:
                old, alarm.state = alarm.state, new
                self.on_change(alarm.name, old, new, reason)

    def states(self) -> dict[str, str]:
        return {a.name: a.state for a in self.alarms}

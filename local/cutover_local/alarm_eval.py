"""CloudWatch alarm evaluation for the local engine: period by period, M out of N, on what is visible.

Each minute the traffic simulator hands over the AWS origin's datapoints for the minute that
just ended. As in CloudWatch, an ALB datapoint becomes visible some time after its minute ends
(``METRIC_LAG``: 60-150 s, drawn from the seed), and only while requests flow. Every minute each
alarm is evaluated over its last ``EvaluationPeriods`` periods, on the datapoints visible at that
moment: a period whose datapoint is not visible yet counts as missing (``TreatMissingData``
decides what that means), ``DatapointsToAlarm`` of them breaching puts it in ALARM. A breach is
therefore seen minutes after it starts, and a check made the moment a bake ends has not seen its
last minutes.

Alarms on the probes' high-resolution metrics (``Cutover/Probes``, periods of 10 or 30 seconds) are
evaluated by ``ProbeAlarmEvaluator`` as each period ends, on what the probe function put with
PutMetricData, each datapoint visible a few seconds after it was put (``PROBE_LAG``).
"""

from __future__ import annotations

import math
import operator
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from . import metric_math
from .clock import VirtualClock

PERIOD = 60.0
METRIC_LAG = (60.0, 150.0)  # seconds after its minute ends until an ALB datapoint is visible
PROBE_NAMESPACE = "Cutover/Probes"
PROBE_PERIOD = 10.0
PROBE_LAG = (2.0, 10.0)  # seconds after PutMetricData until a high-resolution datapoint is visible

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
    if metric_name in ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"):
        errors = datapoint.get(metric_name, 0)
        return float(errors) if errors else None  # the ALB publishes no zero counts
    if metric_name in ("UnHealthyHostCount", "HealthyHostCount"):
        count = datapoint.get(metric_name)
        return float(count) if count is not None else None  # every minute, zero included
    if metric_name == "TargetResponseTime":
        if not datapoint.get("TargetResponseTime") or datapoint["TargetResponseTime"].get("p99") is None:
            return None  # no request reached a target (none healthy): no response time at all
        if statistic.startswith("p"):
            return float(datapoint["TargetResponseTime"][statistic])
        return float(datapoint["TargetResponseTime"]["Average"])
    return None


@dataclass
class Alarm:
    name: str
    definition: dict[str, Any]
    state: str

    @property
    def periods(self) -> int:
        return int(self.definition.get("EvaluationPeriods", 1))

    @property
    def to_alarm(self) -> int:
        return int(self.definition.get("DatapointsToAlarm") or self.periods)

    def value(self, datapoint: Mapping[str, Any],
              value_of: Callable[[Mapping[str, Any], str, Mapping[str, Any]], Value] | None = None) -> Value:
        """The alarm's value for one period. ``value_of(metric, statistic, datapoint)`` reads one
        metric (default: the ALB's, from the traffic simulation's minute)."""
        value_of = value_of or (lambda metric, statistic, data: metric_value(metric["MetricName"], statistic, data))
        d = self.definition
        if d.get("Metrics"):
            values: dict[str, Value] = {}
            result: Value = None
            for query in d["Metrics"]:
                if "MetricStat" in query:
                    stat = query["MetricStat"]
                    values[query["Id"]] = value_of(stat["Metric"], stat["Stat"], datapoint)
            for query in d["Metrics"]:
                if "Expression" in query:
                    values[query["Id"]] = metric_math.evaluate(query["Expression"], values)
                if query.get("ReturnData", True):
                    result = values.get(query["Id"])
            return result
        statistic = d.get("ExtendedStatistic") or d.get("Statistic", "Average")
        return value_of(d, statistic, datapoint)

    def judge(self, window: list[Value]) -> tuple[str, str]:
        """The state over the last ``periods`` values, oldest first (None: no datapoint)."""
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
    """Evaluates the given metric alarms every minute on the visible datapoints; ``on_change``
    hears each state change, ``on_visible`` each datapoint the moment it becomes visible."""

    def __init__(self, definitions: list[dict[str, Any]], on_change: Callable[[str, str, str, str], None],
                 clock: VirtualClock, seed: int = 0, lag: tuple[float, float] = METRIC_LAG,
                 on_visible: Callable[[int, Mapping[str, Any]], None] = lambda period, datapoint: None):
        self.alarms = [Alarm(d["AlarmName"], d, d.get("StateValue", "INSUFFICIENT_DATA")) for d in definitions
                       if not is_probe_alarm(d)]  # those are judged every 10 seconds (ProbeAlarmEvaluator)
        self.on_change, self.clock, self.lag, self.on_visible = on_change, clock, lag, on_visible
        self.rng = random.Random(f"{seed}/metric-lag")  # noqa: S311 - a reproducible simulation
        self.visible: dict[int, Mapping[str, Any]] = {}
        self.visible_at: dict[int, float] = {}

    def start(self) -> None:
        """Evaluate every minute, half-way through it (CloudWatch's evaluations are not aligned
        with the moment a minute ends)."""
        self.clock.call_at(PERIOD / 2, self._tick)

    def ended(self, period: int, datapoint: Mapping[str, Any]) -> None:
        """Period ``period`` (``[60 p, 60 p + 60)`` since the start) ended with this datapoint;
        it becomes visible after the metric lag, and only if requests flowed."""
        if not datapoint.get("RequestCount") and not datapoint.get("HTTPCode_ELB_5XX_Count"):
            return  # the ALB publishes nothing for a minute without requests
        at = (period + 1) * PERIOD + self.rng.uniform(*self.lag)
        self.visible_at[period] = at

        def show() -> None:
            self.visible[period] = datapoint
            self.on_visible(period, datapoint)

        self.clock.call_at(at, show)

    def _tick(self) -> None:
        now = self.clock.elapsed
        # CloudWatch judges the newest periods it has data for; a period with no datapoint counts
        # (as missing) once its datapoint can no longer arrive.
        settled = int((now - self.lag[1]) // PERIOD) - 1
        newest = max([settled, *(p for p in self.visible)])
        if newest >= 0:
            self.evaluate(newest)
        self.clock.call_at(now + PERIOD, self._tick)

    def evaluate(self, newest: int) -> None:
        """Evaluate every alarm over the periods up to ``newest``."""
        for alarm in self.alarms:
            window = [alarm.value(self.visible[p]) if p in self.visible else None
                      for p in range(newest - alarm.periods + 1, newest + 1) if p >= 0]
            if not window:
                continue
            new, reason = alarm.judge(window)
            if new != alarm.state:
                old, alarm.state = alarm.state, new
                self.on_change(alarm.name, old, new, reason)

    def states(self) -> dict[str, str]:
        return {a.name: a.state for a in self.alarms}


def is_probe_alarm(definition: Mapping[str, Any]) -> bool:
    """An alarm on the probes' metrics (it is judged every 10 seconds, not every minute)."""
    metrics = [definition] if "MetricName" in definition else [
        q["MetricStat"]["Metric"] for q in definition.get("Metrics", []) if "MetricStat" in q]
    return any(m.get("Namespace") == PROBE_NAMESPACE for m in metrics)


def alarm_period(definition: Mapping[str, Any]) -> float:
    """The alarm's period in seconds (a metric-math alarm's from its metrics)."""
    if "Period" in definition:
        return float(definition["Period"])
    stats = [q["MetricStat"] for q in definition.get("Metrics", []) if "MetricStat" in q]
    return float(stats[0].get("Period", PROBE_PERIOD)) if stats else PROBE_PERIOD


def _key(metric: Mapping[str, Any]) -> tuple[str, frozenset[tuple[str, str]]]:
    return str(metric["MetricName"]), frozenset((d["Name"], d["Value"]) for d in metric.get("Dimensions", []))


def statistic_of(values: list[float], statistic: str) -> Value:
    """CloudWatch's statistic over one period's values (None: no datapoint)."""
    if not values:
        return None
    ordered = sorted(values)
    if statistic == "Sum":
        return float(sum(values))
    if statistic == "SampleCount":
        return float(len(values))
    if statistic == "Maximum":
        return ordered[-1]
    if statistic == "Minimum":
        return ordered[0]
    if statistic.startswith("p"):
        rank = max(0, min(len(ordered) - 1, math.ceil(float(statistic[1:]) / 100 * len(ordered)) - 1))  # nearest rank
        return ordered[rank]
    return float(sum(values) / len(values))


class ProbeAlarmEvaluator:
    """The alarms on ``Cutover/Probes``, judged as each of their periods (10 or 30 seconds) ends,
    on the datapoints the probe function put (``put``, hooked on the embedded CloudWatch), each visible
    ``PROBE_LAG`` after it was put. ``on_change`` hears each state change."""

    def __init__(self, definitions: list[dict[str, Any]], on_change: Callable[[str, str, str, str], None],
                 clock: VirtualClock, seed: int = 0, lag: tuple[float, float] = PROBE_LAG):
        self.alarms = [Alarm(d["AlarmName"], d, d.get("StateValue", "INSUFFICIENT_DATA"))
                       for d in definitions if is_probe_alarm(d)]
        self.on_change, self.clock, self.lag = on_change, clock, lag
        self.rng = random.Random(f"{seed}/probe-lag")  # noqa: S311 - a reproducible simulation
        # period -> (metric name, dimensions) -> the values visible
        self.visible: dict[int, dict[tuple[str, frozenset[tuple[str, str]]], list[float]]] = {}

    def start(self) -> None:
        if self.alarms:
            self.clock.call_at(PROBE_PERIOD / 2, self._tick)

    def put(self, namespace: str, data: list[dict[str, Any]]) -> None:
        """What PutMetricData received (moto's backend, with its naive UTC or aware timestamps)."""
        if namespace != PROBE_NAMESPACE or not self.alarms:
            return
        arrived: list[tuple[int, tuple[str, frozenset[tuple[str, str]]], list[float]]] = []
        for datum in data:
            stamp = datum.get("Timestamp")
            moment = _as_elapsed(stamp, self.clock) if stamp is not None else self.clock.elapsed
            values = [float(v) for v in datum.get("Values") or [datum.get("Value", 0)]]
            arrived.append((int(moment // PROBE_PERIOD), _key(datum), values))

        def show() -> None:
            for period, key, values in arrived:
                self.visible.setdefault(period, {}).setdefault(key, []).extend(values)

        self.clock.call_at(self.clock.elapsed + self.rng.uniform(*self.lag), show)

    def _value_of(self, metric: Mapping[str, Any], statistic: str, bucket: Mapping[Any, list[float]]) -> Value:
        return statistic_of(bucket.get(_key(metric), []), statistic)

    def _period_values(self, first: int, buckets: int) -> dict[tuple[str, frozenset[tuple[str, str]]], list[float]] | None:
        """What is visible of one alarm period: ``buckets`` 10-second buckets from ``first``
        merged (None: nothing at all)."""
        merged: dict[tuple[str, frozenset[tuple[str, str]]], list[float]] = {}
        for bucket in range(first, first + buckets):
            for key, values in self.visible.get(bucket, {}).items():
                merged.setdefault(key, []).extend(values)
        return merged or None

    def _tick(self) -> None:
        ended = int(self.clock.elapsed // PROBE_PERIOD)  # 10-second buckets that have ended
        for alarm in self.alarms:
            buckets = max(1, round(alarm_period(alarm.definition) / PROBE_PERIOD))
            if ended % buckets:
                continue  # judged when one of its periods ends (10 or 30 seconds)
            newest = ended // buckets - 1
            periods = [self._period_values(p * buckets, buckets) for p in range(newest - alarm.periods + 1, newest + 1)
                       if p >= 0]
            window = [alarm.value(v, self._value_of) if v is not None else None for v in periods]
            if window:
                new, reason = alarm.judge(window)
                if new != alarm.state:
                    old, alarm.state = alarm.state, new
                    self.on_change(alarm.name, old, new, reason)
        self.clock.call_at(self.clock.elapsed + PROBE_PERIOD, self._tick)


def _as_elapsed(stamp: Any, clock: VirtualClock) -> float:
    moment = stamp if isinstance(stamp, datetime) else datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - clock.start).total_seconds()

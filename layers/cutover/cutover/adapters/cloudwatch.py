"""CloudWatch: alarm states (metric and composite), their transitions since a moment, the load
balancer's request count, metric values (the probes' figures) and PutMetricData."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from ..alarms import AlarmState, Transition
from ..clock import iso
from .clients import Adapter

ELB_NAMESPACE = "AWS/ApplicationELB"
# How far back the latest datapoint of an alarm's metric is looked for: three times what the
# alarm evaluates, at least this long (load balancer datapoints arrive minutes late).
LATEST_WINDOW_SECONDS = 900


def _window(alarm: dict[str, Any], until: datetime) -> datetime:
    periods = [int(alarm.get("Period") or 0)] + [int(q["MetricStat"].get("Period", 0)) for q in alarm.get("Metrics", [])
                                                 if "MetricStat" in q]
    evaluated = max(periods) * int(alarm.get("EvaluationPeriods") or 1)
    return until - timedelta(seconds=max(LATEST_WINDOW_SECONDS, 3 * evaluated))


class CloudWatch(Adapter):
    service = "cloudwatch"

    def _described(self, names: Sequence[str]) -> Iterator[dict[str, Any]]:
        # DescribeAlarms takes at most 100 names and returns only metric alarms unless
        # AlarmTypes names composite alarms too.
        for start in range(0, len(names), 100):
            kwargs: dict[str, Any] = {
                "AlarmNames": list(names[start : start + 100]),
                "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
            }
            while True:
                page = self.api.describe_alarms(**kwargs)
                yield from page.get("MetricAlarms", []) + page.get("CompositeAlarms", [])
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]

    def states(self, names: Sequence[str]) -> list[AlarmState]:
        """Current states of the named alarms; a name that does not exist is simply absent."""
        return [
            AlarmState(name=alarm["AlarmName"], state=alarm["StateValue"], reason=alarm.get("StateReason", ""),
                       updated_at=iso(alarm["StateUpdatedTimestamp"]))
            for alarm in self._described(names)
        ]

    def load_balancers(self, names: Sequence[str]) -> set[str]:
        """The application load balancers the named alarms watch (the ``LoadBalancer`` dimension
        of their ``AWS/ApplicationELB`` metrics, metric-math alarms included)."""
        found: set[str] = set()
        for alarm in self._described(names):
            metrics = [alarm] if "MetricName" in alarm else [q["MetricStat"]["Metric"] for q in alarm.get("Metrics", [])
                                                             if "MetricStat" in q]
            for metric in metrics:
                if metric.get("Namespace") == ELB_NAMESPACE:
                    found.update(d["Value"] for d in metric.get("Dimensions", []) if d["Name"] == "LoadBalancer")
        return found

    def requests(self, load_balancer: str, start: datetime, end: datetime) -> float:
        """The load balancer's requests from ``start`` to ``end`` (its per-minute RequestCount
        summed; a minute without requests has no datapoint)."""
        query = {"Id": "requests", "MetricStat": {
            "Metric": {"Namespace": ELB_NAMESPACE, "MetricName": "RequestCount",
                       "Dimensions": [{"Name": "LoadBalancer", "Value": load_balancer}]},
            "Period": 60, "Stat": "Sum"}}
        return sum(self.values([query], start, end).get("requests", []))

    def values(self, queries: Sequence[dict[str, Any]], start: datetime, end: datetime) -> dict[str, list[float]]:
        """GetMetricData: each query's values from ``start`` to ``end`` by id (every page, at
        most 500 queries a request)."""
        out: dict[str, list[float]] = {}
        for first in range(0, len(queries), 500):
            kwargs: dict[str, Any] = {"MetricDataQueries": list(queries[first:first + 500]), "StartTime": start,
                                      "EndTime": end}
            while True:
                page = self.api.get_metric_data(**kwargs)
                for result in page.get("MetricDataResults", []):
                    out.setdefault(result["Id"], []).extend(v for v in result.get("Values", []) if v is not None)
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return out

    def latest(self, alarms: Sequence[dict[str, Any]], until: datetime) -> dict[str, dict[str, Any] | None]:
        """The latest datapoint of each described metric alarm (DescribeAlarms' dict) up to
        ``until``: ``{"value", "at"}``, or None when its metric has none in the window its alarm
        evaluates (three times its periods, at least 15 minutes: datapoints arrive late). A
        single-metric alarm's query goes with the others, a metric-math alarm's in a request of
        its own (its query ids are its own). Composite alarms have no datapoint of their own."""
        out: dict[str, dict[str, Any] | None] = {}
        singles: list[tuple[str, dict[str, Any]]] = []
        for alarm in alarms:
            name = alarm["AlarmName"]
            if "MetricName" in alarm:
                stat = alarm.get("ExtendedStatistic") or alarm.get("Statistic", "Average")
                singles.append((name, {"Id": f"a{len(singles)}", "ReturnData": True, "MetricStat": {
                    "Metric": {"Namespace": alarm["Namespace"], "MetricName": alarm["MetricName"],
                               "Dimensions": alarm.get("Dimensions", [])},
                    "Period": int(alarm.get("Period", 60)), "Stat": stat}}))
            elif alarm.get("Metrics"):
                queries = [{k: v for k, v in q.items() if k in ("Id", "Expression", "MetricStat", "ReturnData", "Label")}
                           for q in alarm["Metrics"]]
                shown = next((q["Id"] for q in queries if q.get("ReturnData")), queries[-1]["Id"])
                found = self._newest(queries, _window(alarm, until), until)
                out[name] = found.get(shown)
        if singles:
            start = min(_window(a, until) for a in alarms if "MetricName" in a)
            found = self._newest([q for _, q in singles], start, until)
            for name, query in singles:
                out[name] = found.get(query["Id"])
        return out

    def _newest(self, queries: list[dict[str, Any]], start: datetime, end: datetime) -> dict[str, dict[str, Any]]:
        page = self.api.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=end,
                                        ScanBy="TimestampDescending")
        newest: dict[str, dict[str, Any]] = {}
        for result in page.get("MetricDataResults", []):
            pairs = sorted(zip(result.get("Timestamps", []), result.get("Values", []), strict=False), reverse=True)
            if pairs:
                newest[result["Id"]] = {"value": pairs[0][1], "at": iso(pairs[0][0])}
        return newest

    def publish(self, namespace: str, data: list[dict[str, Any]]) -> None:
        """PutMetricData: one request (at most 1,000 datums; the caller splits)."""
        self.api.put_metric_data(Namespace=namespace, MetricData=data)

    def existing(self, names: Sequence[str]) -> frozenset[str]:
        return frozenset(s.name for s in self.states(names))

    def transitions_since(self, names: Sequence[str], since: datetime, until: datetime) -> list[Transition]:
        """State changes of the named alarms between ``since`` and ``until`` (DescribeAlarmHistory)."""
        out: list[Transition] = []
        for name in names:
            kwargs: dict[str, Any] = {
                "AlarmName": name,
                "HistoryItemType": "StateUpdate",
                "StartDate": since,
                "EndDate": until,
                "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
            }
            while True:
                page = self.api.describe_alarm_history(**kwargs)
                for item in page.get("AlarmHistoryItems", []):
                    data = json.loads(item.get("HistoryData") or "{}")
                    state = data.get("newState", {}).get("stateValue")
                    if state:
                        out.append(
                            Transition(
                                name=item["AlarmName"],
                                state=state,
                                at=iso(item["Timestamp"]),
                                reason=data.get("newState", {}).get("stateReason", ""),
                            )
                        )
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return out

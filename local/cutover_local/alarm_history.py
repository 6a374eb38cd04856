"""CloudWatch DescribeAlarmHistory on moto (which records history but does not serve it).

Every state change of an alarm is recorded with the engine's clock, in AWS's shape
(``HistoryItemType`` StateUpdate, ``HistoryData`` JSON with ``oldState`` and ``newState``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from moto.cloudwatch import models as cw_models
from moto.cloudwatch import responses as cw_responses
from moto.core.responses import ActionResult

from cutover import clock


def _moment(value: Any) -> datetime | None:
    """A request's date parameter (ISO text or datetime, with or without zone) as aware UTC."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass
class AlarmHistory:
    items: list[dict[str, Any]] = field(default_factory=list)
    _saved: list[tuple[Any, str, Any]] = field(default_factory=list)

    def record(self, alarm: Any, old: str, new: str, reason: str) -> None:
        at = clock.now()
        alarm.state_updated_timestamp = at
        self.items.append(
            {
                "AlarmName": alarm.name,
                "AlarmType": "MetricAlarm",
                "Timestamp": at,
                "HistoryItemType": "StateUpdate",
                "HistorySummary": f"Alarm updated from {old} to {new}",
                "HistoryData": json.dumps(
                    {"version": "1.0", "oldState": {"stateValue": old}, "newState": {"stateValue": new, "stateReason": reason}}
                ),
            }
        )

    def query(self, name: str | None, item_type: str | None, start: Any, end: Any) -> list[dict[str, Any]]:
        out = [
            i for i in self.items
            if (name is None or i["AlarmName"] == name)
            and (item_type is None or i["HistoryItemType"] == item_type)
            and (start is None or i["Timestamp"] >= start)
            and (end is None or i["Timestamp"] <= end)
        ]
        return sorted(out, key=lambda i: i["Timestamp"], reverse=True)

    def install(self) -> AlarmHistory:
        history = self
        original_update = cw_models.Alarm.update_state

        def update_state(alarm: Any, reason: str, reason_data: str, state_value: str) -> None:
            old = alarm.state_value
            original_update(alarm, reason, reason_data, state_value)
            if old != state_value:
                history.record(alarm, old, state_value, reason)
            else:
                alarm.state_updated_timestamp = clock.now()

        def describe_alarm_history(response: Any) -> ActionResult:
            items = history.query(
                response._get_param("AlarmName"),
                response._get_param("HistoryItemType"),
                _moment(response._get_param("StartDate")),
                _moment(response._get_param("EndDate")),
            )
            return ActionResult({"AlarmHistoryItems": items})

        for owner, name, replacement in (
            (cw_models.Alarm, "update_state", update_state),
            (cw_responses.CloudWatchResponse, "describe_alarm_history", describe_alarm_history),
        ):
            self._saved.append((owner, name, owner.__dict__.get(name)))
            setattr(owner, name, replacement)
        return self

    def uninstall(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            if original is None:
                delattr(owner, name)
            else:
                setattr(owner, name, original)

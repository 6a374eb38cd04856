"""CloudWatch: alarm states (metric and composite) and their transitions since a moment."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ..alarms import AlarmState, Transition
from ..clock import iso
from .clients import Adapter


class CloudWatch(Adapter):
    service = "cloudwatch"

    def states(self, names: Sequence[str]) -> list[AlarmState]:
        """Current states of the named alarms; a name that does not exist is simply absent."""
        out: list[AlarmState] = []
        # DescribeAlarms takes at most 100 names and returns only metric alarms unless
        # AlarmTypes names composite alarms too.
        for start in range(0, len(names), 100):
            kwargs: dict[str, Any] = {
                "AlarmNames": list(names[start : start + 100]),
                "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
            }
            while True:
                page = self.api.describe_alarms(**kwargs)
                for alarm in page.get("MetricAlarms", []) + page.get("CompositeAlarms", []):
                    out.append(
                        AlarmState(
                            name=alarm["AlarmName"],
                            state=alarm["StateValue"],
                            reason=alarm.get("StateReason", ""),
                            updated_at=iso(alarm["StateUpdatedTimestamp"]),
                        )
                    )
                if not page.get("NextToken"):
                    break
                kwargs["NextToken"] = page["NextToken"]
        return out

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

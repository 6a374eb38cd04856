"""SNS: one message per state change of a cutover."""

from __future__ import annotations

import json
from typing import Any

from .clients import client


class Notifier:
    def __init__(self, default_topic_arn: str | None, api: Any = None):
        self.default_topic_arn = default_topic_arn
        self._api = api

    @property
    def api(self) -> Any:
        return self._api or client("sns")

    def send(self, topic_arn: str | None, subject: str, message: dict[str, Any]) -> str | None:
        topic = topic_arn or self.default_topic_arn
        if not topic:
            return None
        response = self.api.publish(
            TopicArn=topic,
            Subject=subject[:100],
            Message=json.dumps(message, sort_keys=True, default=str),
        )
        return response["MessageId"]

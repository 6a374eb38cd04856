"""SNS: one message per state change of a cutover. A failure to publish is logged, never raised."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from ..observability import logger, metrics
from .clients import Adapter


class Notifier(Adapter):
    service = "sns"

    def __init__(self, default_topic_arn: str | None, api: Any = None):
        super().__init__(api)
        self.default_topic_arn = default_topic_arn

    def send(self, topic_arn: str | None, subject: str, message: dict[str, Any]) -> str | None:
        topic = topic_arn or self.default_topic_arn
        if not topic:
            return None
        try:
            response = self.api.publish(
                TopicArn=topic,
                Subject=subject[:100],
                Message=json.dumps(message, sort_keys=True, default=str),
            )
        except (BotoCoreError, ClientError) as exc:
            # A lost notification must not stop a cutover or its rollback: the ledger has it all.
            logger.error("notification not sent", extra={"topic": topic, "subject": subject, "error": str(exc)})
            metrics.add_metric(name="NotificationFailed", unit="Count", value=1)
            return None
        return response["MessageId"]

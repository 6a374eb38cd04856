"""boto3 clients, created on first use (never at import) and shared by the adapters."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Route 53 allows five requests per second per account and answers Throttling or
# PriorRequestNotComplete past that; botocore's standard mode retries both with jittered
# backoff (at most 1 + 2 + 4 s with four attempts). What still fails becomes Route53Busy, which
# the state machine retries on its own schedule: the SDK's retries must end well inside a
# function's timeout (30 s), or Lambda kills it first (Lambda.Unknown).
ROUTE53_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=5, read_timeout=10)
DEFAULT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=5, read_timeout=20)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=ROUTE53_CONFIG if service == "route53" else DEFAULT_CONFIG)


def reset() -> None:
    """Forget every client (tests and the local engine start each AWS world afresh)."""
    client.cache_clear()


def error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class Adapter:
    """An AWS service behind a narrow interface; ``api`` is a boto3 client (a fake in tests)."""

    service = ""

    def __init__(self, api: Any = None):
        self._api = api

    @property
    def api(self) -> Any:
        return self._api or client(self.service)

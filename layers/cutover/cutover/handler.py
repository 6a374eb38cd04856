"""What every Lambda handler shares: settings read once, adapters, Powertools decorators."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

from .errors import InputInvalid
from .observability import logger, metrics, tracer
from .settings import Settings
from .steps import Deps

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


@cache
def deps() -> Deps:
    """Settings are read from the environment once per Lambda container."""
    return Deps(Settings.from_env())


def state_of(event: dict[str, Any]) -> dict[str, Any]:
    """The cutover state the state machine passes as ``{"cutover": {...}}``."""
    state = event.get("cutover") if isinstance(event, dict) else None
    if not isinstance(state, dict) or "id" not in state or "pairs" not in state:
        raise InputInvalid("expected {'cutover': {...}} with the state Preflight returned")
    return state


def observed(correlation_id_path: str) -> Callable[[Handler], Handler]:
    """Powertools logging (correlation id = execution name), tracing and metrics for a handler."""

    def wrap(fn: Handler) -> Handler:
        fn = tracer.capture_lambda_handler(fn)
        fn = metrics.log_metrics(fn)
        return logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(fn)

    return wrap

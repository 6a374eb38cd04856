"""What every Lambda handler shares: settings read once, adapters, Powertools decorators."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, wraps
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


def token_of(event: dict[str, Any]) -> str:
    token = event.get("token") if isinstance(event, dict) else None
    if not isinstance(token, str) or not token:
        raise InputInvalid("expected the task token as 'token' ($$.Task.Token)")
    return token


@dataclass(frozen=True)
class OperatorRequest:
    cutover_id: str
    actor: str
    full: bool = False
    reason: str = ""


def operator_request(event: dict[str, Any], needs_reason: bool = False) -> OperatorRequest:
    """``{"cutover_id": NAME, "actor": WHO, "full": bool, "reason": TEXT}`` from the CLI or console."""
    if not isinstance(event, dict) or not isinstance(event.get("cutover_id"), str) or not event["cutover_id"]:
        raise InputInvalid("expected {'cutover_id': NAME, 'actor': WHO, ...}: the execution name of the cutover")
    reason = event.get("reason", "")
    if needs_reason and (not isinstance(reason, str) or not reason.strip()):
        raise InputInvalid("a reason is needed (--reason TEXT): it goes into the ledger and the notification")
    full = event.get("full", False)
    if not isinstance(full, bool):
        raise InputInvalid("'full' is true or false")
    return OperatorRequest(event["cutover_id"], str(event.get("actor") or "operator"), full, str(reason))


def campaign_request(event: dict[str, Any], needs_reason: bool = False) -> OperatorRequest:
    """``{"campaign_id": NAME, "actor": WHO, "reason": TEXT}``: an operator's call on a campaign."""
    name = event.get("campaign_id")
    if not isinstance(name, str) or not name:
        raise InputInvalid("expected {'campaign_id': NAME, 'actor': WHO, ...}: the campaign's name")
    return operator_request({**{k: v for k, v in event.items() if k != "campaign_id"}, "cutover_id": name}, needs_reason)


def _metrics_of_this_invocation_only(fn: Handler) -> Handler:
    """With POWERTOOLS_METRICS_DISABLED, ``log_metrics`` neither prints nor clears the metrics, so
    in a process that runs many invocations (the local engine, the CLI's rehearsal) they pile up
    until Powertools prints the set to stdout by itself at 100 values, in the middle of ``--json``.
    Each invocation starts from an empty set, as in Lambda."""

    @wraps(fn)
    def run(event: dict[str, Any], context: Any) -> Any:
        try:
            return fn(event, context)
        finally:
            metrics.clear_metrics()

    return run


def observed(correlation_id_path: str) -> Callable[[Handler], Handler]:
    """Powertools logging (correlation id = execution name), tracing and metrics for a handler."""

    def wrap(fn: Handler) -> Handler:
        fn = tracer.capture_lambda_handler(fn)
        fn = metrics.log_metrics(fn)
        fn = _metrics_of_this_invocation_only(fn)
        return logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(fn)

    return wrap

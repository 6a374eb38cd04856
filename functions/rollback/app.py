"""Rollback: put all traffic back on Heroku, whatever failed (the state machine's Catch path)."""

from typing import Any

from cutover import steps
from cutover.handler import deps, observed, state_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    state = state_of(event)
    error, message = steps.describe_error(event.get("error"))
    return steps.rollback(state["id"], f"{error}: {message}", "execution", deps(), state=state, error=error)

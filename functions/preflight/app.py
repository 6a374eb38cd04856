"""Preflight: validate the plan, lock the names, snapshot them, convert to the weighted pair."""

from typing import Any

from cutover import steps
from cutover.handler import deps, observed


@observed("execution")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.preflight(event.get("plan"), str(event.get("execution")), deps(), execution_arn=event.get("execution_arn"))

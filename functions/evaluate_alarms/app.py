"""EvaluateAlarms: judge the stage's guard-rail alarms over its whole bake."""

from typing import Any

from cutover import steps
from cutover.handler import deps, observed, state_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.evaluate(state_of(event), deps(), recheck=event.get("recheck") is True)

"""CheckChange: read the status (PENDING or INSYNC) of the last Route 53 change."""

from typing import Any

from cutover import steps
from cutover.handler import deps, observed, state_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.change_status(state_of(event), deps())

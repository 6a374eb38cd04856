"""HoldForPromotion: a stage waits for an operator; keep the task token for `cutover promote`."""

from typing import Any

from cutover import operations
from cutover.handler import deps, observed, state_of, token_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return operations.hold(state_of(event), token_of(event), deps())

"""HoldForPromotion: a stage waits for an operator (or the cutover at 100% waits out its watch);
keep the task token for `cutover promote` (or `cutover commit`)."""

from typing import Any

from cutover import operations
from cutover.handler import deps, observed, state_of, token_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return operations.hold(state_of(event), token_of(event), deps(), purpose=str(event.get("purpose", "promotion")))

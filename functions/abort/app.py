"""Abort: an operator rolls a cutover back to Heroku now (`cutover abort NAME --reason TEXT`)."""

from typing import Any

from cutover import operations
from cutover.handler import deps, observed, operator_request


@observed("cutover_id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = operator_request(event, needs_reason=True)
    return operations.abort(request.cutover_id, request.reason, request.actor, deps())

"""Promote: an operator lets a waiting stage go on (`cutover promote NAME [--full]`)."""

from typing import Any

from cutover import operations
from cutover.handler import deps, observed, operator_request


@observed("cutover_id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = operator_request(event)
    return operations.promote(request.cutover_id, request.full, request.actor, deps())

"""Commit: an operator makes a cutover that succeeded permanent (`cutover commit NAME`)."""

from typing import Any

from cutover import operations
from cutover.handler import deps, observed, operator_request


@observed("cutover_id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = operator_request(event)
    return operations.commit(request.cutover_id, request.actor, deps())

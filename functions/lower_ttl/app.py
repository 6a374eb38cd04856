"""LowerTtl: lower the TTL of the weighted pair to the plan's ttl.during."""

from typing import Any

from cutover import steps
from cutover.handler import deps, observed, state_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.lower_ttl(state_of(event), deps())

"""RestoreTtl: at AWS 100%, put the original TTL back."""

from typing import Any

from cutover import steps
from cutover.handler import deps, observed, state_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.restore_ttl(state_of(event), deps())

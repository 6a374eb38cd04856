"""Probe: every minute, while any cutover is live, request its names at both origins every few
seconds and publish what users would meet (high-resolution metrics for 10-second alarms)."""

from typing import Any

from cutover import reactions
from cutover.handler import deps, observed


@observed("id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return reactions.probe(deps())

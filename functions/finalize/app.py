"""Finalize: record success, release the locks, notify."""

from typing import Any

from cutover import steps
from cutover.handler import deps, observed, state_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.finish(state_of(event), deps())

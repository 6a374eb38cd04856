"""Shift: move the weighted pair to the next stage's weight (compare-and-swap)."""

from typing import Any

from cutover import steps
from cutover.handler import deps, observed, state_of


@observed("cutover.id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return steps.shift(state_of(event), deps())

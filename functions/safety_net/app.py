"""SafetyNet: a cutover execution ended FAILED, TIMED_OUT or ABORTED; make sure traffic is on Heroku."""

from typing import Any

from cutover import reactions
from cutover.handler import deps, observed


@observed("detail.name")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return reactions.on_execution_ended(event, deps())

"""Campaign: the steps of a campaign's state machine (begin, each wave, each cutover, the gate
between waves, the end); the event's ``step`` names which."""

from typing import Any

from cutover import campaign_steps
from cutover.handler import deps, observed


@observed("campaign_id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return campaign_steps.run(event, deps())

"""Abort: an operator rolls a cutover back to Heroku now (`cutover abort NAME --reason TEXT`),
stops a campaign and rolls back each of its live cutovers (`cutover campaign abort NAME`), or moves
a committed cutover's names back to Heroku (`cutover revert NAME --reason TEXT`, ``"revert": true``):
every way back to Heroku an operator has, with the one role that may write Heroku records."""

from typing import Any

from cutover import campaign_steps, operations
from cutover.handler import campaign_request, deps, observed, operator_request


@observed("cutover_id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "campaign_id" in event:
        campaign = campaign_request(event, needs_reason=True)
        return campaign_steps.abort_campaign(campaign.cutover_id, campaign.reason, campaign.actor, deps())
    request = operator_request(event, needs_reason=True)
    # cutover revert, after a commit; cutover abort, while it is live
    return (operations.revert if event.get("revert") is True else operations.abort)(
        request.cutover_id, request.reason, request.actor, deps())

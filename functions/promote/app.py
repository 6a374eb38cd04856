"""Promote: an operator lets a waiting stage go on (`cutover promote NAME [--full]`), or opens a
campaign's gate between two waves (`cutover campaign promote NAME`)."""

from typing import Any

from cutover import campaign_steps, operations
from cutover.handler import campaign_request, deps, observed, operator_request


@observed("cutover_id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if isinstance(event, dict) and "campaign_id" in event:
        campaign = campaign_request(event)
        return campaign_steps.promote(campaign.cutover_id, campaign.actor, deps())
    request = operator_request(event)
    return operations.promote(request.cutover_id, request.full, request.actor, deps())

"""Reconcile: on a schedule, make safe every cutover whose execution ended unheard; resend notifications."""

from typing import Any

from cutover import reactions
from cutover.handler import deps, observed


@observed("id")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return reactions.reconcile(deps())

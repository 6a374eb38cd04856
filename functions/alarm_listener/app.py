"""AlarmListener: an alarm went to ALARM; roll back every live cutover watching it, at once."""

from typing import Any

from cutover import reactions
from cutover.handler import deps, observed


@observed("detail.alarmName")
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return reactions.on_alarm(event, deps())

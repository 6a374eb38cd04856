"""Every error the control plane raises on purpose, in one place.

The state machine matches these by class name (``ErrorEquals``) in its Retry and Catch
blocks, so a class name here is part of the ASL contract: rename one and the static ASL
tests fail. Never match on message text.

``TransientError`` subclasses are retried by the state machine; everything else is final
and sends the cutover to the rollback path.
"""

from __future__ import annotations


class CutoverError(Exception):
    """Base of every error raised on purpose by the control plane."""


class TransientError(CutoverError):
    """A failure that may pass if the same call is made again later."""


class Route53Busy(TransientError):
    """Route 53 throttled the call or a prior change is still being applied."""


class StoreBusy(TransientError):
    """DynamoDB throttled the call."""


class ChangeNotInSync(CutoverError):
    """A Route 53 change stayed PENDING longer than the control plane waits for it."""


class PlanInvalid(CutoverError):
    """The plan breaks one or more rules. Nothing was changed."""

    def __init__(self, problems: list[tuple[str, str]]):
        self.problems = list(problems)
        lines = [f"{field}: {reason}" for field, reason in self.problems]
        super().__init__("invalid plan: " + "; ".join(lines))


class RecordsNotReady(CutoverError):
    """The live records are not in a shape the control plane can cut over. Nothing changed."""


class LockHeld(CutoverError):
    """Another live cutover already holds one of the DNS names."""


class StaleRecords(CutoverError):
    """A compare-and-swap change was refused: the records are not what this cutover last wrote."""


class InvalidChangeBatch(CutoverError):
    """A change batch breaks a Route 53 rule (checked before sending, or refused by Route 53)."""


class RollbackIncomplete(CutoverError):
    """The rollback put back every name it could; Route 53 refused at least one. Retried."""


class NotReady(CutoverError):
    """An AWS origin failed its readiness check (name, certificate, answer). Nothing was changed."""


class HealthCheckPending(CutoverError):
    """No Route 53 health checker has reported on the AWS target yet. Only Shift raises it, and
    its own Retry waits for the checkers (a few minutes at most), then the cutover rolls back."""


class HealthCheckConflict(CutoverError):
    """Route 53 refused to create the health check (its reference is used by another). Nothing shifted."""


class HealthCheckUnhealthy(CutoverError):
    """The Route 53 health check of an AWS target is unhealthy at a stage's evaluation."""


class TrafficNotArriving(CutoverError):
    """After a shift and its TTL, the AWS origin saw far fewer requests than its share."""


class AlarmBreached(CutoverError):
    """A guard-rail alarm was in ALARM during the bake."""


class WorseThanHeroku(CutoverError):
    """Over a stage's bake the probes found AWS markedly slower or failing more than Heroku."""


class AlarmDataMissing(CutoverError):
    """Alarms stayed in INSUFFICIENT_DATA and the plan's policy does not let the stage pass."""


class AlarmNotFound(CutoverError):
    """An alarm named by the plan does not exist."""


class InputInvalid(CutoverError):
    """The event is not what the state machine passes to this function."""


class EventInvalid(CutoverError):
    """The event is not of the shape EventBridge delivers for the function's rule."""


class NotWaiting(CutoverError):
    """The cutover is not waiting for a promotion (none is pending, or it has ended)."""


class CutoverNotLive(CutoverError):
    """The cutover has ended (succeeded, or another cutover now holds its names): nothing was changed."""


class CutoverNotFound(CutoverError):
    """No cutover with that name is recorded."""

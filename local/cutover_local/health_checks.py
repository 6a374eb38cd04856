"""Route 53 health checks as the real service runs them, on the engine's clock (moto keeps only
their settings and always answers "Success").

- ``CreateHealthCheck`` is idempotent by ``CallerReference``: the same reference and settings
  return the existing check; other settings, or a reference whose check was deleted, are
  refused with ``HealthCheckAlreadyExists``.
- ``CHECKERS`` checkers (one per default region) each request the endpoint once per interval,
  staggered over the interval; each changes its view after ``FailureThreshold`` consecutive
  results the other way (its first result sets it). ``GetHealthCheckStatus`` lists each
  reporting checker's last result; none before the first results.
- The endpoint's answer comes from ``probe`` (the engine's: the simulated origin the target
  resolves to, its status and delay); a checker needs a 2XX or 3XX within 2 s of connecting.
- Route 53 judges the check healthy while more than 18% of the checkers see it healthy (and
  healthy while no checker has reported); ``answer_shares`` applies that to weighted records
  as Route 53 chooses answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.route53 import responses as r53_responses

from cutover import clock
from cutover.healthcheck import HEALTHY_SHARE

REGIONS = ("us-east-1", "us-west-1", "us-west-2", "eu-west-1", "ap-southeast-1", "ap-southeast-2",
           "ap-northeast-1", "sa-east-1")
CHECKERS = len(REGIONS)
# what a checker reports, like Route 53's StatusReport.Status
Probe = Callable[[dict[str, Any]], tuple[bool, str]]


class HealthCheckError(ServiceException):
    pass


def always_healthy(config: dict[str, Any]) -> tuple[bool, str]:
    return True, "Success: HTTP Status Code 200, OK"


@dataclass
class _Checker:
    healthy: bool | None = None  # its view; None until its first result
    streak: int = 0  # consecutive results against its view
    report: str = ""
    checked_at: Any = None


@dataclass
class HealthCheck:
    id: str
    reference: str
    config: dict[str, Any]
    created_at: float  # the engine's elapsed seconds
    checkers: list[_Checker] = field(default_factory=lambda: [_Checker() for _ in REGIONS])
    deleted: bool = False

    @property
    def interval(self) -> int:
        return int(self.config.get("RequestInterval") or 30)

    @property
    def threshold(self) -> int:
        return int(self.config.get("FailureThreshold") or 3)

    def healthy(self) -> bool:
        """Route 53's judgement: more than 18% of the checkers that have reported see it healthy
        (healthy until any has; a deleted check's status cannot be predicted: taken as healthy)."""
        views = [c.healthy for c in self.checkers if c.healthy is not None]
        if self.deleted or not views:
            return True
        return sum(views) / len(views) > HEALTHY_SHARE

    def observe(self, index: int, ok: bool, report: str) -> None:
        checker = self.checkers[index]
        checker.report, checker.checked_at = report, clock.now()
        if checker.healthy is None:
            checker.healthy = ok
        elif ok == checker.healthy:
            checker.streak = 0
        else:
            checker.streak += 1
            if checker.streak >= self.threshold:
                checker.healthy, checker.streak = ok, 0


@dataclass
class HealthCheckers:
    """Install with ``install(count, schedule)``; ``uninstall()`` puts moto back."""

    probe: Probe = always_healthy
    # called when Route 53's judgement of a check changes: (check, healthy)
    on_change: list[Callable[[HealthCheck, bool], None]] = field(default_factory=list)
    checks: dict[str, HealthCheck] = field(default_factory=dict)
    _ids: int = 0
    _saved: list[tuple[Any, str, Any]] = field(default_factory=list)

    def healthy(self, health_check_id: str) -> bool:
        check = self.checks.get(health_check_id)
        return True if check is None else check.healthy()

    def live(self) -> list[HealthCheck]:
        return [c for c in self.checks.values() if not c.deleted]

    def _create(self, reference: str, config: dict[str, Any], elapsed: float,
                schedule: Callable[[float, Callable[[], None]], None]) -> HealthCheck:
        for check in self.checks.values():
            if check.reference == reference:
                if check.deleted or check.config != config:
                    raise HealthCheckError(
                        "HealthCheckAlreadyExists",
                        f"A health check with the caller reference {reference} already exists"
                        + (" (deleted)" if check.deleted else " with other settings"))
                return check
        self._ids += 1
        check = HealthCheck(f"hc-{self._ids:08d}-0000-4000-8000-000000000000", reference, dict(config), elapsed)
        self.checks[check.id] = check
        # the checkers' first requests, spread over the first interval after it propagated
        for index in range(CHECKERS):
            at = elapsed + check.interval * (index + 1) / CHECKERS
            schedule(at, self._tick(check, index, schedule, at))
        return check

    def _tick(self, check: HealthCheck, index: int, schedule: Callable[[float, Callable[[], None]], None],
              at: float) -> Callable[[], None]:
        def run() -> None:
            if check.deleted:
                return
            before = check.healthy()
            ok, report = self.probe(check.config)
            check.observe(index, ok, report)
            if check.healthy() != before:
                for listener in self.on_change:
                    listener(check, check.healthy())
            schedule(at + check.interval, self._tick(check, index, schedule, at + check.interval))

        return run

    def install(self, count: Callable[[str], None], elapsed: Callable[[], float],
                schedule: Callable[[float, Callable[[], None]], None]) -> HealthCheckers:
        """``count``: the Route 53 account budget (raises Throttling); ``schedule``: the clock."""
        sim = self

        def create(response: Any) -> ActionResult:
            count("CreateHealthCheck")
            config = dict(response._get_param("HealthCheckConfig") or {})
            for key in ("Port", "RequestInterval", "FailureThreshold"):
                if key in config:
                    config[key] = int(config[key])
            if "EnableSNI" in config:
                config["EnableSNI"] = str(config["EnableSNI"]).lower() == "true"
            check = sim._create(response._get_param("CallerReference"), config, elapsed(), schedule)
            return ActionResult({"HealthCheck": {"Id": check.id, "CallerReference": check.reference,
                                                 "HealthCheckConfig": check.config, "HealthCheckVersion": 1}})

        def status(response: Any) -> ActionResult:
            count("GetHealthCheckStatus")
            check = sim._live(response._get_param("HealthCheckId"))
            observations = [
                {"Region": region, "IPAddress": f"15.177.{i}.1",
                 "StatusReport": {"Status": c.report, "CheckedTime": c.checked_at}}
                for i, (region, c) in enumerate(zip(REGIONS, check.checkers, strict=True)) if c.report
            ]
            return ActionResult({"HealthCheckObservations": observations})

        def delete(response: Any) -> ActionResult:
            count("DeleteHealthCheck")
            sim._live(response._get_param("HealthCheckId")).deleted = True
            return ActionResult({})

        for name, replacement in (("create_health_check", create), ("get_health_check_status", status),
                                  ("delete_health_check", delete)):
            self._saved.append((r53_responses.Route53, name, r53_responses.Route53.__dict__[name]))
            setattr(r53_responses.Route53, name, replacement)
        return self

    def _live(self, health_check_id: str) -> HealthCheck:
        check = self.checks.get(health_check_id)
        if check is None or check.deleted:
            raise HealthCheckError("NoSuchHealthCheck", f"No health check exists with the ID {health_check_id}")
        return check

    def uninstall(self) -> None:
        while self._saved:
            owner, name, original = self._saved.pop()
            setattr(owner, name, original)


def answer_shares(records: Sequence[dict[str, Any]], healthy: Callable[[str], bool]) -> dict[str, float]:
    """The share of DNS answers each weighted record of one name gets, as Route 53 chooses them
    with health checks: the healthy records of non-zero weight by weight; if none, the healthy
    ones of weight zero, equally; if no record is healthy, all of them as if healthy."""
    weighted = [r for r in records if "SetIdentifier" in r]
    if not weighted:
        return {}

    def ok(record: dict[str, Any]) -> bool:
        return not record.get("HealthCheckId") or healthy(str(record["HealthCheckId"]))

    candidates = [r for r in weighted if ok(r)] or weighted  # none healthy: all, as if healthy
    positive = [r for r in candidates if int(r.get("Weight", 0)) > 0]
    if positive:
        total = sum(int(r["Weight"]) for r in positive)
        shares = {str(r["SetIdentifier"]): int(r["Weight"]) / total for r in positive}
    else:
        shares = {str(r["SetIdentifier"]): 1 / len(candidates) for r in candidates}
    return {str(r["SetIdentifier"]): shares.get(str(r["SetIdentifier"]), 0.0) for r in weighted}


def dns_shares(records: Sequence[dict[str, Any]], healthy: Callable[[str], bool], heroku_id: str,
               aws_id: str) -> tuple[int, float, float] | None:
    """What DNS answers one name with now: its TTL and the Heroku and AWS shares of the answers,
    health checks applied (a simple CNAME: all to its target, counted as Heroku)."""
    weighted = {r.get("SetIdentifier"): r for r in records}
    if heroku_id not in weighted:
        return (int(records[0]["TTL"]), 1.0, 0.0) if records else None
    shares = answer_shares(records, healthy)
    return int(weighted[heroku_id]["TTL"]), shares.get(heroku_id, 0.0), shares.get(aws_id, 0.0)

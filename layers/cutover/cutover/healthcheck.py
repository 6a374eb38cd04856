"""The Route 53 health check on the AWS record: its settings, and what its status means.

Preflight creates one HTTPS health check per name, aimed at the name's AWS target, and the
conversion attaches it to the AWS weighted record; the first Shift requires it Healthy; a
rollback detaches it (the pair at Heroku 255 / AWS 0 carries none) and deletes it. Attached,
it works without the control plane: Route 53 stops answering with the AWS target once the
check is unhealthy (the rules, from Route 53's developer guide, "How Amazon Route 53 chooses
records when health checking is configured"):

- a record without a health check is always healthy (the Heroku record has none);
- among weighted records, Route 53 first considers the healthy ones of non-zero weight, and
  only when none is left the zero-weight ones; so at AWS 100 / Heroku 0 an unhealthy AWS record
  sends every answer to Heroku;
- when every record is unhealthy, it answers as if all were healthy.

A health check aimed at a name resolves it, sends it as Host (and as SNI with ``EnableSNI``),
and does not validate the certificate: aimed at the load balancer's own name, the load
balancer's default rule must answer the health path, so readiness sends that request too.
Route 53 judges an endpoint healthy when more than 18% of its checkers report it healthy; each
checker changes its view after ``failure_threshold`` consecutive results, one every
``interval`` seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .switches import section, skip_reason

DEFAULT_INTERVAL = 30
INTERVALS = (10, 30)  # the two request intervals Route 53 offers
DEFAULT_FAILURE_THRESHOLD = 3
HEALTHY_SHARE = 0.18  # more than this share of checkers reporting healthy: healthy
HTTPS_PORT = 443

HEALTHY, UNHEALTHY, PENDING = "healthy", "unhealthy", "pending"


@dataclass(frozen=True)
class Spec:
    """The plan's ``health_check`` section. ``path`` None: the readiness path."""

    path: str | None = None
    interval: int = DEFAULT_INTERVAL
    failure_threshold: int = DEFAULT_FAILURE_THRESHOLD
    skip: str | None = None  # switched off, with the operator's reason

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"interval": self.interval, "failure_threshold": self.failure_threshold}
        if self.path:
            out["path"] = self.path
        if self.skip:
            out["skip"] = self.skip
        return out

    def failure_seconds(self) -> int:
        """How long an endpoint that stops answering takes to be judged unhealthy, at most."""
        return self.interval * self.failure_threshold


def parse_spec(raw: Any) -> tuple[Spec, list[tuple[str, str]]]:
    """The plan's ``health_check`` mapping as a ``Spec``, and the problems found (field, reason)."""
    raw, problems = section(raw, "health_check", {"path", "interval", "failure_threshold", "skip"})
    if raw is None:
        return Spec(), problems
    path = raw.get("path")
    if path is not None and (not isinstance(path, str) or not path.startswith("/") or any(c in path for c in " \r\n")
                             or len(path) > 255):
        problems.append(("health_check.path", f"must be a URL path starting with / (no spaces, at most 255 characters), "
                                              f"got {path!r}"))
        path = None
    interval = raw.get("interval", DEFAULT_INTERVAL)
    if interval not in INTERVALS or isinstance(interval, bool):
        problems.append(("health_check.interval", f"must be 10 or 30 (seconds; the intervals Route 53 offers), got {interval!r}"))
        interval = DEFAULT_INTERVAL
    threshold = raw.get("failure_threshold", DEFAULT_FAILURE_THRESHOLD)
    if isinstance(threshold, bool) or not isinstance(threshold, int) or not 1 <= threshold <= 10:
        problems.append(("health_check.failure_threshold", f"must be a whole number from 1 to 10, got {threshold!r}"))
        threshold = DEFAULT_FAILURE_THRESHOLD
    skip, problem = skip_reason(raw.get("skip"), "health_check", "the AWS target answers only from inside the VPC")
    problems += [problem] if problem else []
    return Spec(path, interval, threshold, skip), problems


def config(target: str, path: str, spec: Spec) -> dict[str, Any]:
    """The ``HealthCheckConfig`` for one AWS target: HTTPS on 443, the target's own name as Host
    and SNI, the plan's path, interval and failure threshold."""
    return {
        "Type": "HTTPS",
        "FullyQualifiedDomainName": target,
        "Port": HTTPS_PORT,
        "ResourcePath": path,
        "RequestInterval": spec.interval,
        "FailureThreshold": spec.failure_threshold,
        "EnableSNI": True,
    }


def caller_reference(cutover_id: str, name: str) -> str:
    """The CreateHealthCheck idempotency key of one name of one cutover (at most 64 characters):
    a retried Preflight gets the health check the first attempt created, never a second one."""
    digest = hashlib.sha256(f"{cutover_id}\n{name}".encode()).hexdigest()[:40]
    return f"cutover-{digest}"


def status(observations: Sequence[dict[str, Any]]) -> tuple[str, str]:
    """What GetHealthCheckStatus's observations say: HEALTHY, UNHEALTHY or PENDING (no checker
    has reported yet), and a line that shows why (a failing checker's own report)."""
    reports = [str((o.get("StatusReport") or {}).get("Status", "")) for o in observations]
    reports = [r for r in reports if r]
    if not reports:
        return PENDING, "no health checker has reported yet"
    healthy = [r for r in reports if r.startswith("Success")]
    share = len(healthy) / len(reports)
    failing = next((r for r in reports if not r.startswith("Success")), "")
    summary = f"{len(healthy)} of {len(reports)} checkers report healthy"
    if share > HEALTHY_SHARE:
        return HEALTHY, summary
    return UNHEALTHY, f"{summary}; {failing}" if failing else summary

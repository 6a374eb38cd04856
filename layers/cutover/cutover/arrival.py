"""Traffic arrives: after a shift, its TTL and the metric lag, the AWS load balancer must see
about its share of the requests.

Alarms on the load balancer's metrics see nothing when users never reach it (a CNAME to the
wrong load balancer, resolvers that keep the old answer): no requests, no errors, every alarm
quiet. So each stage's evaluation also measures the load balancer's ``RequestCount`` over the
part of the bake that follows the TTL (every resolver that honours it has the new answer by
then) and whose data is visible (``metric_delay``), and fails the stage when:

- at the first stage, fewer than ``min_requests_per_minute`` arrived;
- at a later stage, the rate grew less than the weights did, beyond ``tolerance`` (10% → 50%
  is 5 times the requests; with the default tolerance of 0.5, at least 2.5 times);
- when the plan states the site's ``total_requests_per_minute``, the observed share (the rate
  over that total) is below the intended share beyond ``tolerance``.

The load balancer is the plan's ``traffic.load_balancer`` or, by default, the one the plan's
alarms watch (the ``LoadBalancer`` dimension of their ``AWS/ApplicationELB`` metrics).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .switches import section, skip_reason

DEFAULT_MIN_REQUESTS_PER_MINUTE = 1.0
DEFAULT_TOLERANCE = 0.5
# the ALB's LoadBalancer dimension: app/<name>/<id>
_LOAD_BALANCER = re.compile(r"^app/[A-Za-z0-9-]{1,32}/[0-9a-f]{16}$")


@dataclass(frozen=True)
class Spec:
    """The plan's ``traffic`` section."""

    load_balancer: str | None = None  # None: the one the plan's alarms watch
    min_requests_per_minute: float = DEFAULT_MIN_REQUESTS_PER_MINUTE
    tolerance: float = DEFAULT_TOLERANCE
    total_requests_per_minute: float | None = None
    skip: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"min_requests_per_minute": self.min_requests_per_minute, "tolerance": self.tolerance}
        for key in ("load_balancer", "total_requests_per_minute", "skip"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


def _number(raw: dict[str, Any], key: str, default: float | None, low: float, high: float | None,
            words: str, problems: list[tuple[str, str]]) -> float | None:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value < low or (high is not None and value > high):
        problems.append((f"traffic.{key}", f"{words}, got {value!r}"))
        return default
    return float(value)


def parse_spec(raw: Any) -> tuple[Spec, list[tuple[str, str]]]:
    """The plan's ``traffic`` mapping as a ``Spec``, and the problems found (field, reason)."""
    raw, problems = section(raw, "traffic", {"load_balancer", "min_requests_per_minute", "tolerance", "total_requests_per_minute", "skip"})
    if raw is None:
        return Spec(), problems
    balancer = raw.get("load_balancer")
    if balancer is not None and (not isinstance(balancer, str) or not _LOAD_BALANCER.match(balancer)):
        problems.append(("traffic.load_balancer", "must be the load balancer's CloudWatch dimension, like "
                                                  f"app/shop-alb/0123456789abcdef, got {balancer!r}"))
        balancer = None
    minimum = _number(raw, "min_requests_per_minute", DEFAULT_MIN_REQUESTS_PER_MINUTE, 0.01, None,
                      "must be a number of requests above 0", problems)
    tolerance = _number(raw, "tolerance", DEFAULT_TOLERANCE, 0.0, 0.9, "must be a fraction from 0 to 0.9", problems)
    total = _number(raw, "total_requests_per_minute", None, 1.0, None, "must be a number of requests of at least 1",
                    problems)
    skip, problem = skip_reason(raw.get("skip"), "traffic", "the AWS side is CloudFront, not a load balancer")
    problems += [problem] if problem else []
    assert minimum is not None and tolerance is not None
    return Spec(balancer, minimum, tolerance, total, skip), problems


def window(shifted_at: datetime, until: datetime, ttl: int, bake: int, metric_delay: int) -> tuple[datetime, datetime]:
    """The whole minutes to measure: from the TTL after the shift (and a minute for the change to
    reach every Route 53 server; at most half the bake) to the end of the visible data."""
    start = shifted_at + timedelta(seconds=min(ttl + 60, bake / 2))
    end = until - timedelta(seconds=metric_delay)
    start = start.replace(second=0, microsecond=0) + (timedelta(minutes=1) if start.second or start.microsecond else timedelta())
    end = end.replace(second=0, microsecond=0)
    return start, max(end, start + timedelta(minutes=1))


@dataclass(frozen=True)
class Arrival:
    """What one stage's measurement found, and whether traffic arrived."""

    stage: int
    intended_percent: int
    requests_per_minute: float
    minutes: int
    ok: bool
    reason: str
    observed_percent: float | None = None  # against the plan's total_requests_per_minute
    expected_growth: float | None = None
    observed_growth: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}


def judge(spec: Spec, stage: int, intended: int, requests: float, minutes: int,
          before: tuple[int, float] | None, names: str = "") -> Arrival:
    """Whether a stage's traffic arrived. ``before``: the previous stage's (percent, rate);
    ``names``: the DNS names moving, for the reason."""
    rate = requests / max(1, minutes)
    figures: dict[str, Any] = {}
    problems = []
    if spec.total_requests_per_minute:
        share = 100 * rate / spec.total_requests_per_minute
        figures["observed_percent"] = round(share, 1)
        if share < intended * (1 - spec.tolerance):
            problems.append(f"AWS saw {share:.1f}% of the site's {spec.total_requests_per_minute:g} requests a minute "
                            f"where {intended}% was intended")
    if before is None or before[1] <= 0:
        if rate < spec.min_requests_per_minute:
            problems.append(f"the AWS load balancer saw {rate:.1f} requests a minute over {minutes} minute(s) at "
                            f"{intended}% (at least {spec.min_requests_per_minute:g} expected)")
    else:
        expected = intended / before[0]
        growth = rate / before[1]
        figures.update(expected_growth=round(expected, 2), observed_growth=round(growth, 2))
        if growth < expected * (1 - spec.tolerance):
            problems.append(f"requests grew {growth:.2f} times from {before[0]}% to {intended}% where the weights grew "
                            f"{expected:.2f} times ({before[1]:.1f} → {rate:.1f} a minute)")
    if problems:
        reason = (f"stage {stage} at AWS {intended}%: traffic not arriving{' for ' + names if names else ''}: "
                  + "; ".join(problems)
                  + ": users sent to AWS are not reaching the load balancer the alarms watch (check the AWS record's "
                  "target, its certificate, resolvers)")
        return Arrival(stage, intended, round(rate, 1), minutes, False, reason, **figures)
    return Arrival(stage, intended, round(rate, 1), minutes, True, f"{rate:.1f} requests a minute at {intended}%", **figures)

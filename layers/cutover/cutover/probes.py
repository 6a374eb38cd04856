"""Synthetic probes: what a user's request meets at each origin, every few seconds, as metrics.

One probe round sends, for every name, the readiness request (``readiness.check``: the target
resolved, TLS with the name as SNI, ``GET path`` with the name as Host) to its AWS target and to
its Heroku target, side by side, and turns each answer into an ``Observation``: a request, and
an error when users would see one (an HTTP 5XX, a TLS or certificate failure, a name that does
not resolve, a refused connection, no answer in time), with its latency when it was answered.
``metric_data`` makes them high-resolution CloudWatch datapoints per name and origin
(``Requests``, ``Errors``, ``Latency``), for 10-second alarms and for comparing AWS with Heroku.

Not wired yet: no function runs the rounds on a schedule, and no alarm is made on the metrics
(issue 11 continues). What is here is the probe itself and its metrics, tested against the
loopback origins.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import readiness

NAMESPACE = "Cutover/Probes"
DEFAULT_TIMEOUT = 2
WORKERS = 32
# what a failed readiness step means to a user: the error kind counted
_ERROR_OF_STEP = {"dns": "dns", "connect": "connect", "tls": "tls", "certificate": "tls"}


@dataclass(frozen=True)
class Observation:
    """One probe request: ``error`` None when the user got an answer that is not a 5XX."""

    name: str
    origin: str  # "aws" or "heroku"
    target: str
    error: str | None  # "5xx", "tls", "dns", "connect", "timeout" or None
    status: int | None
    seconds: float | None  # the answer's latency (None: no answer)
    detail: str


def observe(result: readiness.Result) -> Observation:
    """A readiness result as a user would count it. A 4XX is an answer (the application's), not
    an error of the origin; any status is an answer with its latency."""
    if result.status is not None:
        error = "5xx" if result.status >= 500 else None
        return Observation(result.name, result.origin, result.target, error, result.status, result.seconds, result.reason)
    if result.timed_out:
        return Observation(result.name, result.origin, result.target, "timeout", None, None, result.reason)
    kind = _ERROR_OF_STEP.get(result.failed_at or "", "connect")
    return Observation(result.name, result.origin, result.target, kind, None, None, result.reason)


def probe(targets: Sequence[tuple[str, str, str]], path: str = readiness.DEFAULT_PATH,
          timeout: int = DEFAULT_TIMEOUT) -> list[Observation]:
    """One round: each (name, origin, target) requested side by side (the round takes one
    request's time, at most ``timeout``). The certificate must cover the name, as for users; its
    days left do not matter here (readiness judged them)."""
    spec = replace(readiness.Spec(), path=path, timeout=timeout, min_cert_days=0, expect=((100, 599),))
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(targets))) as pool:
        return list(pool.map(lambda t: observe(readiness.check(t[0], t[2], t[1], spec)), targets))


def metric_data(observations: Sequence[Observation], at: datetime) -> list[dict[str, Any]]:
    """PutMetricData entries at one-second resolution: per name and origin, the requests, the
    errors, and each answered request's latency in milliseconds."""
    out: list[dict[str, Any]] = []
    for (name, origin), seen in _by_name_and_origin(observations).items():
        dimensions = [{"Name": "Name", "Value": name}, {"Name": "Origin", "Value": origin}]

        def datum(metric: str, value: float, unit: str, dims: list[dict[str, str]] = dimensions) -> dict[str, Any]:
            return {"MetricName": metric, "Dimensions": dims, "Timestamp": at, "Value": value, "Unit": unit,
                    "StorageResolution": 1}

        out.append(datum("Requests", len(seen), "Count"))
        out.append(datum("Errors", sum(1 for o in seen if o.error), "Count"))
        out += [datum("Latency", round(1000 * o.seconds, 1), "Milliseconds") for o in seen if o.seconds is not None]
    return out


def _by_name_and_origin(observations: Sequence[Observation]) -> dict[tuple[str, str], list[Observation]]:
    groups: dict[tuple[str, str], list[Observation]] = {}
    for o in observations:
        groups.setdefault((o.name, o.origin), []).append(o)
    return groups

"""Synthetic probes: what a user's request meets at each origin, every few seconds, as metrics.

One probe round sends, for every name, ``requests`` copies of the readiness request
(``readiness.check``: the target resolved, TLS with the name as SNI, ``GET path`` with the name
as Host) to its AWS target and to its Heroku target, side by side, and turns each answer into an
``Observation``: a request, and an error when users would see one (an HTTP 5XX, a TLS or
certificate failure, a name that does not resolve, a refused connection, no answer in time),
with its latency when it was answered. ``metric_data`` makes them high-resolution CloudWatch
datapoints per name and origin (``Requests``, ``Errors``, ``Latency`` in ``Cutover/Probes``), for
10-second alarms and for comparing AWS with Heroku.

``run`` is the probe function's body: EventBridge invokes it every minute; with no live cutover it
returns at once (the schedule is idle), otherwise it probes every live cutover's names every
``interval`` for the rest of the minute and publishes each round the moment it is done. What it
probes comes from the live entry Preflight writes (``live_entry``), so one query of the table
is all it reads. It never changes a record and never stops a cutover: its alarms do that,
through the alarm listener, like any alarm the plan names. A round it cannot publish is counted
(``ProbeRoundsFailed``, alarmed in template.yaml) and the next round goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from . import readiness
from .durations import parse_duration
from .observability import logger, metrics
from .switches import section, skip_reason

NAMESPACE = "Cutover/Probes"
DEFAULT_INTERVAL = 10
INTERVALS = (5, 30)  # seconds: high-resolution alarms judge 10-second periods
DEFAULT_TIMEOUT = 2
# per name and origin each round. With the example probe-errors alarm (more than 5% in 2 of the
# last 3 ten-second periods) a period breaches at 2 failures of 20: an origin failing 8% of its
# requests crosses that in half the periods, one failing 20% in 9 of 10; a healthy one failing 1
# in 1,000 in about 1 period in 5,000, so 2 of 3 about once in 10 million evaluations (some three
# years of watching). At 5 a round one failure was a breaching period: the alarm needed 3 of 6
# to stay quieter (a false alarm about once in 50 days of watching), and was 20 s slower.
DEFAULT_REQUESTS = 20
MAX_REQUESTS = 20
WORKERS = 32
# EventBridge invokes the probe every minute; it probes for this much of it (rounds end before
# the next invocation starts) and its template Timeout leaves room for the last round's answers
WINDOW_SECONDS = 55
# PutMetricData takes at most 1,000 datums a request
MAX_DATUMS = 1000
# how a round sends one request: readiness.check(name, target, origin, spec). The local engine
# replaces it with its model of the origins (an answer in microseconds instead of a TLS handshake
# on loopback), unless a test asks for the real one.
SEND: Callable[..., readiness.Result] = readiness.check
PARALLEL = True  # the engine's model answers at once, one request after the other (its draws in order)
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


@dataclass(frozen=True)
class Spec:
    """The plan's ``probe`` section."""

    interval: int = DEFAULT_INTERVAL  # seconds between rounds
    timeout: int = DEFAULT_TIMEOUT  # seconds a request may take before it counts as an error
    requests: int = DEFAULT_REQUESTS  # per name and origin each round
    skip: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"interval": self.interval, "timeout": self.timeout, "requests": self.requests}
        if self.skip:
            out["skip"] = self.skip
        return out


def parse_spec(raw: Any) -> tuple[Spec, list[tuple[str, str]]]:
    """The plan's ``probe`` mapping as a ``Spec``, and the problems found (field, reason)."""
    raw, problems = section(raw, "probe", {"interval", "timeout", "requests", "skip"})
    if raw is None:
        return Spec(), problems
    seconds: dict[str, int] = {}
    for key, default, (low, high), why in (
            ("interval", DEFAULT_INTERVAL, INTERVALS, "the alarms on probes judge periods of 10 seconds"),
            ("timeout", DEFAULT_TIMEOUT, (1, 5), "a request slower than that counts as an error users see")):
        seconds[key] = default
        if key in raw:
            try:
                value = parse_duration(raw[key])
            except ValueError as exc:
                problems.append((f"probe.{key}", str(exc)))
                continue
            if not low <= value <= high:
                problems.append((f"probe.{key}", f"must be {low}s to {high}s ({why}), got {value}s"))
            else:
                seconds[key] = value
    if seconds["timeout"] >= seconds["interval"]:
        problems.append(("probe.timeout", f"must be shorter than the interval ({seconds['interval']}s), "
                                          f"got {seconds['timeout']}s"))
    requests = raw.get("requests", DEFAULT_REQUESTS)
    if isinstance(requests, bool) or not isinstance(requests, int) or not 1 <= requests <= MAX_REQUESTS:
        problems.append(("probe.requests", f"must be a whole number from 1 to {MAX_REQUESTS} (requests per name and "
                                           f"origin each round), got {requests!r}"))
        requests = DEFAULT_REQUESTS
    skip, problem = skip_reason(raw.get("skip"), "probe", "origins answer only inside the VPC")
    problems += [problem] if problem else []
    return Spec(seconds["interval"], seconds["timeout"], requests, skip), problems


def live_entry(spec: Spec, path: str, pairs: Sequence[Any]) -> dict[str, Any] | None:
    """What the live entry of a cutover tells the probe: its settings and, per name, both
    targets (None: probes switched off)."""
    if spec.skip:
        return None
    return {**spec.to_dict(), "path": path,
            "targets": [[p.name, origin, target] for p in pairs
                        for origin, target in (("aws", p.aws_target), ("heroku", p.heroku_target))]}


def run(live: Sequence[dict[str, Any]], publish: Callable[[list[dict[str, Any]]], None],
        now: Callable[[], datetime], sleep: Callable[[float], None],
        window: float = WINDOW_SECONDS) -> dict[str, Any]:
    """Probe every live cutover that asks for it, each at its own interval, for ``window``
    seconds from now; publish each round as it ends. A round that cannot be published is
    counted and the next goes on (the probe never fails a cutover)."""
    jobs = [(item["cutover_id"], item["probe"]) for item in live if item.get("probe")]
    summary: dict[str, Any] = {"cutovers": len(jobs), "rounds": 0, "requests": 0, "errors": 0, "failed_rounds": 0,
                               "failures": []}
    if not jobs:
        return summary
    start = now()
    due = {cutover_id: 0.0 for cutover_id, _ in jobs}
    while True:
        elapsed = (now() - start).total_seconds()
        for cutover_id, spec in jobs:
            if due[cutover_id] > elapsed:
                continue
            due[cutover_id] += float(spec["interval"])
            targets = [tuple(t) for t in spec["targets"]] * int(spec.get("requests", 1))
            seen = probe(targets, spec.get("path", readiness.DEFAULT_PATH), int(spec["timeout"]))
            summary["rounds"] += 1
            summary["requests"] += len(seen)
            summary["errors"] += sum(1 for o in seen if o.error)
            data = metric_data(seen, now())
            try:
                for first in range(0, len(data), MAX_DATUMS):
                    publish(data[first:first + MAX_DATUMS])
            except Exception as exc:  # noqa: BLE001 - counted and alarmed; the next round goes on
                summary["failed_rounds"] += 1
                summary["failures"].append(f"{cutover_id}: {type(exc).__name__}: {exc}"[:300])
                metrics.add_metric(name="ProbeRoundsFailed", unit="Count", value=1)
                logger.warning("probe round not published", extra={"cutover_id": cutover_id, "error": str(exc)})
        following = min(due.values())
        if following + max(float(spec["timeout"]) for _, spec in jobs) > window:
            return summary
        wait = following - (now() - start).total_seconds()
        if wait > 0:
            sleep(wait)


def probe(targets: Sequence[tuple[str, str, str]], path: str = readiness.DEFAULT_PATH,
          timeout: int = DEFAULT_TIMEOUT) -> list[Observation]:
    """One round: each (name, origin, target) requested side by side (the round takes one
    request's time, at most ``timeout``). The certificate must cover the name, as for users; its
    days left do not matter here (readiness judged them)."""
    spec = replace(readiness.Spec(), path=path, timeout=timeout, min_cert_days=0, expect=((100, 599),))
    if not targets:
        return []
    if not PARALLEL:
        return [observe(SEND(t[0], t[2], t[1], spec)) for t in targets]
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(targets))) as pool:
        return list(pool.map(lambda t: observe(SEND(t[0], t[2], t[1], spec)), targets))


def metric_data(observations: Sequence[Observation], at: datetime) -> list[dict[str, Any]]:
    """PutMetricData entries at one-second resolution: per name and origin, the requests, the
    errors, and the answered requests' latencies in milliseconds (one datum with their
    ``Values``: PutMetricData takes up to 150 a datum)."""
    out: list[dict[str, Any]] = []
    for (name, origin), seen in _by_name_and_origin(observations).items():
        dimensions = [{"Name": "Name", "Value": name}, {"Name": "Origin", "Value": origin}]

        def datum(metric: str, unit: str, dims: list[dict[str, str]] = dimensions, **value: Any) -> dict[str, Any]:
            return {"MetricName": metric, "Dimensions": dims, "Timestamp": at, "Unit": unit, "StorageResolution": 1,
                    **value}

        out.append(datum("Requests", "Count", Value=len(seen)))
        out.append(datum("Errors", "Count", Value=sum(1 for o in seen if o.error)))
        latencies = [round(1000 * o.seconds, 1) for o in seen if o.seconds is not None]
        for first in range(0, len(latencies), 150):
            out.append(datum("Latency", "Milliseconds", Values=latencies[first:first + 150]))
    return out


def _by_name_and_origin(observations: Sequence[Observation]) -> dict[tuple[str, str], list[Observation]]:
    groups: dict[tuple[str, str], list[Observation]] = {}
    for o in observations:
        groups.setdefault((o.name, o.origin), []).append(o)
    return groups

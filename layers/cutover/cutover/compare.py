"""AWS compared with Heroku: is the new origin markedly worse than the one users have today?

A fixed threshold misses an AWS origin that is twice as slow as Heroku but still under it. The
probes measure both origins with the same requests at the same moments (``probes.py``), so each
stage's evaluation compares them over the bake, per name:

- **latency**: AWS's p90 over the bake (the slow tail users notice, steady over a bake's few
  hundred answers where p99 is not: see ``MIN_ANSWERED``) is worse when it exceeds Heroku's by
  ``latency_ratio`` (default 1.5×) *and* by ``latency_margin_ms`` (default 50 ms: 30 ms against
  18 ms is not a regression a user notices), once each origin has ``MIN_ANSWERED`` answered
  probe requests;
- **errors**: AWS's error rate is worse when it exceeds Heroku's by ``error_rate_delta`` percent
  points (default 1) *and* by at least ``MIN_EXTRA_ERRORS`` requests (one or two failed probes
  more than Heroku are noise, not a difference), once each origin has ``MIN_REQUESTS``.

Too few probe requests (the probe function down, probes just started) is "not judged": the stage
is decided by everything else, as a failing probe must never fail a cutover by itself. The
figures of both origins go into the ledger with the stage's evaluation, and into the reason when
the comparison fails it. A metric-math alarm on the same metrics (``examples/alarms.yaml``,
``shop-probe-vs-heroku``) sees a latency regression within a couple of minutes, through the
alarm listener.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from .probes import NAMESPACE
from .probes import Spec as ProbeSpec
from .switches import section, skip_reason

DEFAULT_LATENCY_RATIO = 1.5
DEFAULT_ERROR_RATE_DELTA = 1.0  # percent points
DEFAULT_LATENCY_MARGIN_MS = 50
# answered probe requests per origin before their latencies are compared: with 100, two origins
# of equal speed (the engine's lognormal latencies, by Monte Carlo) differ by 1.5x at p90 about
# once in 20,000 bakes, at p99 about once in 40 (p99 needs thousands of answers to be as steady)
MIN_ANSWERED = 100
MIN_REQUESTS = 20  # probe requests per origin before their error rates are compared
MIN_EXTRA_ERRORS = 3  # failed probe requests more than Heroku's share before error rates differ
ORIGINS = ("aws", "heroku")
_PERCENTILES = ("p50", "p90", "p99")  # p90 is compared; the median and p99 are shown beside it
_METRICS = (("Requests", "Sum"), ("Errors", "Sum"), *(("Latency", p) for p in _PERCENTILES), ("Latency", "SampleCount"))


@dataclass(frozen=True)
class Spec:
    """The plan's ``compare`` section."""

    latency_ratio: float = DEFAULT_LATENCY_RATIO
    error_rate_delta: float = DEFAULT_ERROR_RATE_DELTA
    latency_margin_ms: float = DEFAULT_LATENCY_MARGIN_MS
    skip: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"latency_ratio": self.latency_ratio, "error_rate_delta": self.error_rate_delta,
                               "latency_margin_ms": self.latency_margin_ms}
        if self.skip:
            out["skip"] = self.skip
        return out


def parse_spec(raw: Any, probe: ProbeSpec) -> tuple[Spec, list[tuple[str, str]]]:
    """The plan's ``compare`` mapping as a ``Spec``, and the problems found (field, reason).
    With the probes switched off there is nothing to compare: the comparison is off too, and a
    plan that sets its thresholds anyway is told so."""
    if probe.skip:
        given = raw if isinstance(raw, dict) else {}
        if set(given) - {"skip"} and not given.get("skip"):
            return Spec(skip="the probes are off"), [("compare", "compares the probes' figures, but probe.skip switches "
                                                                 "the probes off: remove one of them")]
        reason = given.get("skip") if isinstance(given.get("skip"), str) else f"the probes are off ({probe.skip})"
        return Spec(skip=reason), []
    raw, problems = section(raw, "compare", {"latency_ratio", "error_rate_delta", "latency_margin_ms", "skip"})
    if raw is None:
        return Spec(), problems
    values: dict[str, float] = {}
    for key, default, low, high, words in (
            ("latency_ratio", DEFAULT_LATENCY_RATIO, 1.05, 10.0, "a ratio from 1.05 to 10 (AWS p90 over Heroku p90)"),
            ("error_rate_delta", DEFAULT_ERROR_RATE_DELTA, 0.1, 50.0,
             "percent points from 0.1 to 50 (AWS error rate minus Heroku's)"),
            ("latency_margin_ms", DEFAULT_LATENCY_MARGIN_MS, 0.0, 5000.0, "milliseconds from 0 to 5000")):
        value = raw.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
            problems.append((f"compare.{key}", f"must be {words}, got {value!r}"))
            value = default
        values[key] = float(value)
    skip, problem = skip_reason(raw.get("skip"), "compare", "Heroku runs a different build, slower by design")
    problems += [problem] if problem else []
    return Spec(values["latency_ratio"], values["error_rate_delta"], values["latency_margin_ms"], skip), problems


@dataclass(frozen=True)
class Figures:
    """One origin's probe figures over a window (latencies in milliseconds, None: no answer)."""

    requests: int
    errors: int
    answered: int
    p50_ms: float | None = None
    p90_ms: float | None = None
    p99_ms: float | None = None

    @property
    def error_rate(self) -> float | None:
        """Percent of the probe's requests that failed (None: no request)."""
        return 100.0 * self.errors / self.requests if self.requests else None

    def to_dict(self) -> dict[str, Any]:
        rate = self.error_rate
        out: dict[str, Any] = {"requests": self.requests, "errors": self.errors,
                               "error_rate": None if rate is None else round(rate, 2)}
        for p in _PERCENTILES:
            value = getattr(self, f"{p}_ms")
            out[f"{p}_ms"] = None if value is None else round(value, 1)
        return out

    def describe(self) -> str:
        rate = self.error_rate
        latency = ("no answer" if self.p90_ms is None else
                   f"median {self.p50_ms or 0:.0f} ms, p90 {self.p90_ms:.0f} ms, p99 {self.p99_ms or 0:.0f} ms")
        return f"{latency}, {'no request' if rate is None else f'{rate:.1f}% errors'} of {self.requests}"


@dataclass(frozen=True)
class Comparison:
    """One name's comparison: ``outcome`` is ``pass``, ``fail`` or ``not_judged``."""

    name: str
    aws: Figures
    heroku: Figures
    outcome: str
    reasons: tuple[str, ...] = ()
    latency_ratio: float | None = None
    error_rate_delta: float | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def reason(self) -> str:
        """What failed, with both origins' figures (or why it was not judged)."""
        what = "; ".join(self.reasons or self.notes) or "AWS is not worse than Heroku"
        return f"{self.name}: {what} (AWS {self.aws.describe()}; Heroku {self.heroku.describe()})"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "outcome": self.outcome, "aws": self.aws.to_dict(),
                               "heroku": self.heroku.to_dict(), "reason": self.reason}
        if self.latency_ratio is not None:
            out["latency_ratio"] = round(self.latency_ratio, 3)
        if self.error_rate_delta is not None:
            out["error_rate_delta"] = round(self.error_rate_delta, 2)
        return out


def judge(spec: Spec, name: str, aws: Figures, heroku: Figures) -> Comparison:
    """Is AWS markedly worse than Heroku for ``name``? Each test needs enough probe requests at
    both origins; one with too few is a note, not a verdict."""
    reasons: list[str] = []
    notes: list[str] = []
    ratio = delta = None
    if min(aws.answered, heroku.answered) < MIN_ANSWERED or not aws.p90_ms or not heroku.p90_ms:
        notes.append(f"latency not compared: fewer than {MIN_ANSWERED} answered probe requests at an origin "
                     f"(AWS {aws.answered}, Heroku {heroku.answered})")
    else:
        ratio = aws.p90_ms / heroku.p90_ms
        if ratio > spec.latency_ratio and aws.p90_ms - heroku.p90_ms > spec.latency_margin_ms:
            reasons.append(f"AWS p90 {aws.p90_ms:.0f} ms is {ratio:.2f}× Heroku's {heroku.p90_ms:.0f} ms "
                           f"(limit {spec.latency_ratio:g}× and +{spec.latency_margin_ms:g} ms)")
    if min(aws.requests, heroku.requests) < MIN_REQUESTS:
        notes.append(f"errors not compared: fewer than {MIN_REQUESTS} probe requests at an origin "
                     f"(AWS {aws.requests}, Heroku {heroku.requests})")
    else:
        aws_rate, heroku_rate = aws.error_rate or 0.0, heroku.error_rate or 0.0
        delta = aws_rate - heroku_rate
        extra = aws.errors - heroku_rate / 100 * aws.requests
        if delta > spec.error_rate_delta and extra >= MIN_EXTRA_ERRORS:
            reasons.append(f"AWS fails {aws_rate:.1f}% of probe requests, {delta:.1f} points more than Heroku's "
                           f"{heroku_rate:.1f}% (limit {spec.error_rate_delta:g} points)")
    judged = ratio is not None or delta is not None
    outcome = "fail" if reasons else ("pass" if judged else "not_judged")
    return Comparison(name, aws, heroku, outcome, tuple(reasons), ratio, delta, tuple(notes))


def window(since: datetime, until: datetime) -> tuple[datetime, datetime, int]:
    """GetMetricData's start, end and one period covering ``since`` to ``until``: whole minutes
    (CloudWatch aligns periods of a minute or more to the minute, and keeps high-resolution data
    at one-minute resolution after 3 hours)."""
    start = since.replace(second=0, microsecond=0)
    end = until.replace(second=0, microsecond=0)
    if end < until:
        end += timedelta(minutes=1)
    end = max(end, start + timedelta(minutes=1))
    return start, end, int((end - start).total_seconds())


def _id(index: int, origin: str, metric: str, stat: str) -> str:
    return f"n{index}_{origin}_{metric.lower()}_{stat.lower()}"


def queries(names: Sequence[str], period: int) -> list[dict[str, Any]]:
    """GetMetricData queries for every name's figures at both origins over one ``period``."""
    out = []
    for index, name in enumerate(names):
        for origin in ORIGINS:
            dimensions = [{"Name": "Name", "Value": name}, {"Name": "Origin", "Value": origin}]
            for metric, stat in _METRICS:
                out.append({"Id": _id(index, origin, metric, stat), "ReturnData": True, "MetricStat": {
                    "Metric": {"Namespace": NAMESPACE, "MetricName": metric, "Dimensions": dimensions},
                    "Period": period, "Stat": stat}})
    return out


def figures(names: Sequence[str], values: Mapping[str, Sequence[float]]) -> dict[str, dict[str, Figures]]:
    """Each name's figures per origin from the queries' values (id -> values, one period: a
    query with no datapoint has none)."""
    def total(key: str) -> float:
        return float(sum(v for v in values.get(key, ()) if v is not None))

    out: dict[str, dict[str, Figures]] = {}
    for index, name in enumerate(names):
        out[name] = {}
        for origin in ORIGINS:
            latency = {p: [v for v in values.get(_id(index, origin, "Latency", p), ()) if v is not None]
                       for p in _PERCENTILES}
            out[name][origin] = Figures(
                requests=round(total(_id(index, origin, "Requests", "Sum"))),
                errors=round(total(_id(index, origin, "Errors", "Sum"))),
                answered=round(total(_id(index, origin, "Latency", "SampleCount"))),
                **{f"{p}_ms": max(found) if found else None for p, found in latency.items()})
    return out


def compare_all(spec: Spec, found: Mapping[str, Mapping[str, Figures]]) -> list[Comparison]:
    return [judge(spec, name, origins["aws"], origins["heroku"]) for name, origins in found.items()]


def side_by_side(recorded: Mapping[str, Any]) -> str:
    """One name's comparison as the ledger holds it (``Comparison.to_dict``), both origins'
    figures on one line, as a person compares them."""
    def one(figures: Mapping[str, Any]) -> str:
        latency = ("no answer" if figures.get("p90_ms") is None else
                   f"median {figures.get('p50_ms') or 0:.0f} ms, p90 {figures['p90_ms']:.0f} ms, "
                   f"p99 {figures.get('p99_ms') or 0:.0f} ms")
        rate = "-" if figures.get("error_rate") is None else f"{figures['error_rate']:g}%"
        return f"{latency}, {rate} errors of {figures.get('requests', 0)}"
    ratio = f" ({recorded['latency_ratio']:.2f}x)" if recorded.get("latency_ratio") is not None else ""
    verdict = ": WORSE" if recorded.get("outcome") == "fail" else ""
    return f"{recorded['name']}: AWS {one(recorded['aws'])}{ratio}; Heroku {one(recorded['heroku'])}{verdict}"

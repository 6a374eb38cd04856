"""Simulated clients and origins on the virtual clock.

Clients resolve the DNS name, keep the answer for its TTL (a share of them ignore TTLs and keep
it far longer) and send requests to Heroku or AWS. Each origin has an error rate and a p99
latency, changed over time by the scenario's effects. Every minute the AWS origin's numbers are
handed over like an ALB's (RequestCount, HTTPCode_Target_5XX_Count, HTTPCode_ELB_5XX_Count,
TargetResponseTime) to the alarm evaluator, which makes them visible in CloudWatch after the
metric lag. With no healthy targets the ALB answers 503 itself: those errors count in
HTTPCode_ELB_5XX_Count only, and no request has a TargetResponseTime.

The clients are modelled as a population, not one by one: each tick, the share of cached
answers that expire re-resolves with the weights DNS serves at that moment. Randomness (request
counts, errors, latency noise) comes from one seeded generator, so a seed gives one result.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, timedelta
from typing import Any

from moto.cloudwatch.models import cloudwatch_backends

from .clock import VirtualClock
from .engine import ACCOUNT, REGION

LOAD_BALANCER = "app/shop-alb/0123456789abcdef"
TARGET_GROUP = "targetgroup/shop-tg/0123456789abcdef"


@dataclass(frozen=True)
class Effect:
    """A change to one origin's behaviour, from a moment on (and for a while, if ``duration``)."""

    origin: str  # "aws" or "heroku"
    stage: int | None = None  # counted from this stage's shift; None: from the start
    after: float = 0  # seconds after that
    duration: float | None = None
    min_aws_percent: int | None = None  # only while DNS sends at least this share to AWS
    error_rate: float | None = None  # fraction of requests answered 5XX
    p99_seconds: float | None = None
    unhealthy: bool = False  # no healthy target: the ALB itself answers every request 503
    # the AWS target is another load balancer (a wrong CNAME target): the requests DNS sends to
    # AWS are answered elsewhere, and the load balancer the alarms watch never sees them
    unseen: bool = False


@dataclass(frozen=True)
class TrafficConfig:
    requests_per_second: float = 40.0
    ignore_ttl_share: float = 0.05  # clients that keep an answer far beyond its TTL
    ignore_ttl_hold: float = 1800.0
    tick: float = 10.0
    targets: int = 2  # registered in the AWS origin's target group
    baseline: dict[str, tuple[float, float]] = field(
        default_factory=lambda: {"heroku": (0.002, 0.32), "aws": (0.001, 0.26)}  # error rate, p99 seconds
    )


@dataclass
class Sample:
    """One minute of traffic, as the timeline and the alarms see it."""

    t: float  # virtual seconds at the end of the minute
    dns_aws_percent: float
    client_aws_share: float
    aws_requests: int
    aws_errors: int
    aws_p99: float | None
    heroku_requests: int
    heroku_errors: int
    aws_elb_errors: int = 0  # of aws_errors, answered by the ALB itself


class TrafficSimulator:
    def __init__(
        self,
        clock: VirtualClock,
        served: Callable[[], tuple[int, float, float] | None],
        effects: list[Effect],
        stage_started: dict[int, float],
        seed: int,
        config: TrafficConfig | None = None,
        on_minute: list[Callable[[int, dict[str, Any]], None]] | None = None,
        aws_origin: Any = None,
    ) -> None:
        self.clock, self.served, self.effects, self.stage_started = clock, served, effects, stage_started
        self.config = config or TrafficConfig()
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not cryptography
        self.on_minute = on_minute or []
        # the loopback AWS origin (``origins.Origin``): it answers 503 while the scenario leaves
        # the load balancer without a healthy target, as the load balancer itself would
        self.aws_origin, self._aws_status = aws_origin, None
        self.samples: list[Sample] = []
        self.failures: list[tuple[float, int]] = []  # (end of a tick, AWS requests users saw fail in it)
        self._honouring = 0.0  # share of TTL-honouring clients holding an AWS answer
        self._ignoring = 0.0
        self._minute = self._empty()
        self._ticks = 0
        self._dns_aws_percent = 0.0  # what DNS sent to AWS at the last tick

    def behaviour(self, origin: str) -> tuple[float, float]:
        """How ``origin`` treats a request now: (error rate, p99 seconds), as the scenario says
        (the probes' model of the origins asks; a load balancer without healthy targets answers
        503 through the origin's status)."""
        error_rate, p99, _, _ = self._behaviour(origin, self.clock.elapsed, self._dns_aws_percent)
        return error_rate, p99

    def start(self) -> None:
        self.clock.call_at(self.config.tick, self._tick)

    # the model ---------------------------------------------------------------------------
    def _behaviour(self, origin: str, now: float, dns_aws_percent: float) -> tuple[float, float, bool, bool]:
        error_rate, p99 = self.config.baseline[origin]
        unhealthy = unseen = False
        for effect in self.effects:
            if effect.origin != origin:
                continue
            begin = 0.0 if effect.stage is None else self.stage_started.get(effect.stage)
            if begin is None or now < begin + effect.after:
                continue
            if effect.duration is not None and now >= begin + effect.after + effect.duration:
                continue
            if effect.min_aws_percent is not None and dns_aws_percent < effect.min_aws_percent:
                continue
            error_rate = effect.error_rate if effect.error_rate is not None else error_rate
            p99 = effect.p99_seconds if effect.p99_seconds is not None else p99
            unhealthy = unhealthy or effect.unhealthy
            unseen = unseen or effect.unseen
        return error_rate, p99, unhealthy, unseen

    def _count(self, n: float, p: float) -> int:
        """About n * p, with binomial spread (normal approximation), never negative."""
        if n <= 0 or p <= 0:
            return 0
        if p >= 1:
            return round(n)
        mean = n * p
        return max(0, min(round(n), round(self.rng.gauss(mean, math.sqrt(mean * (1 - p))))))

    def _tick(self) -> None:
        now = self.clock.elapsed
        dt = self.config.tick
        served = self.served()
        ttl, heroku_w, aws_w = served if served else (300, 1, 0)
        p = aws_w / (heroku_w + aws_w) if heroku_w + aws_w else 0.0
        self._dns_aws_percent = 100 * p
        self._honouring += min(1.0, dt / max(ttl, 1)) * (p - self._honouring)
        self._ignoring += min(1.0, dt / self.config.ignore_ttl_hold) * (p - self._ignoring)
        q = self.config.ignore_ttl_share
        share = (1 - q) * self._honouring + q * self._ignoring

        requests = self.config.requests_per_second * dt
        aws_n = self._count(requests, share)
        heroku_n = max(0, round(requests) - aws_n)
        aws_rate, aws_p99, aws_unhealthy, aws_unseen = self._behaviour("aws", now, 100 * p)
        heroku_rate, _, _, _ = self._behaviour("heroku", now, 100 * p)
        if self.aws_origin is not None:
            if aws_unhealthy and self._aws_status is None:
                self._aws_status, self.aws_origin.status = self.aws_origin.status, 503
            elif not aws_unhealthy and self._aws_status is not None:
                self.aws_origin.status, self._aws_status = self._aws_status, None
        m = self._minute
        failed_before = m["aws_errors"] + m["aws_elb_errors"]
        m["aws_requests"] += aws_n
        if aws_unseen:
            m["aws_unrouted"] += aws_n  # answered by another load balancer: no metric of the watched one moves
        elif aws_unhealthy:
            # the ALB answers 503 itself; no target sees the request, and RequestCount counts only
            # requests for which a target was chosen
            m["aws_elb_errors"] += aws_n
            m["aws_unrouted"] += aws_n
            m["unhealthy_targets"] = self.config.targets
        else:
            m["aws_errors"] += self._count(aws_n, aws_rate)
            if aws_n:
                m["aws_p99"].append(aws_p99 * (1 + 0.05 * self.rng.gauss(0, 1)))
        self.failures.append((now + dt, m["aws_errors"] + m["aws_elb_errors"] - failed_before))
        m["heroku_requests"] += heroku_n
        m["heroku_errors"] += self._count(heroku_n, heroku_rate)
        m["dns"], m["share"] = 100 * p, share
        self._ticks += 1
        if self._ticks % max(1, round(60 / self.config.tick)) == 0:
            self._close_minute(now)
        self.clock.call_at(now + self.config.tick, self._tick)

    def _empty(self) -> dict[str, Any]:
        return {"aws_requests": 0, "aws_errors": 0, "aws_elb_errors": 0, "aws_unrouted": 0, "heroku_requests": 0, "heroku_errors": 0,
                "aws_p99": [], "dns": 0.0, "share": 0.0, "unhealthy_targets": 0}

    def _close_minute(self, now: float) -> None:
        m, self._minute = self._minute, self._empty()
        p99 = max(m["aws_p99"]) if m["aws_p99"] else None
        sample = Sample(now, m["dns"], m["share"], m["aws_requests"], m["aws_errors"] + m["aws_elb_errors"], p99,
                        m["heroku_requests"], m["heroku_errors"], m["aws_elb_errors"])
        self.samples.append(sample)
        datapoint = {
            "RequestCount": sample.aws_requests - m["aws_unrouted"],
            "HTTPCode_Target_5XX_Count": m["aws_errors"],
            "HTTPCode_ELB_5XX_Count": m["aws_elb_errors"],
            "TargetResponseTime": {"p99": p99, "Average": p99 / 3 if p99 is not None else None},
            # the most of the minute; published every minute, requests or not
            "UnHealthyHostCount": m["unhealthy_targets"],
            "HealthyHostCount": self.config.targets - m["unhealthy_targets"],
        }
        period = round(now / 60) - 1
        for listener in self.on_minute:
            listener(period, datapoint)


def publish(datapoint: dict[str, Any], timestamp: Any) -> None:
    """Put one minute of the AWS origin's numbers into CloudWatch, as an ALB does."""
    dimensions = [{"Name": "LoadBalancer", "Value": LOAD_BALANCER}]
    data = []
    if datapoint["RequestCount"]:
        data.append({"MetricName": "RequestCount", "Dimensions": dimensions, "Timestamp": timestamp, "Value": datapoint["RequestCount"], "Unit": "Count"})
    if datapoint["TargetResponseTime"]["p99"] is not None:
        data.append({"MetricName": "TargetResponseTime", "Dimensions": dimensions, "Timestamp": timestamp,
                     "Value": datapoint["TargetResponseTime"]["p99"], "Unit": "Seconds"})
    for count in ("HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"):
        if datapoint.get(count):
            data.append({"MetricName": count, "Dimensions": dimensions, "Timestamp": timestamp,
                         "Value": datapoint[count], "Unit": "Count"})
    group = [{"Name": "TargetGroup", "Value": TARGET_GROUP}, *dimensions]
    for count in ("UnHealthyHostCount", "HealthyHostCount"):
        if count in datapoint:
            data.append({"MetricName": count, "Dimensions": group, "Timestamp": timestamp,
                         "Value": datapoint[count], "Unit": "Count"})
    if data:
        _put(data)


def _put(data: list[dict[str, Any]]) -> None:
    """Straight into the embedded CloudWatch (which keeps naive UTC times): the same datapoints as
    PutMetricData makes, without an API call each minute of simulated traffic."""
    for datum in data:
        datum["Timestamp"] = datum["Timestamp"].astimezone(UTC).replace(tzinfo=None)
    cloudwatch_backends[ACCOUNT][REGION].put_metric_data("AWS/ApplicationELB", data)


class SteadyUsers:
    """Users at a steady rate, sent where DNS answers now (``served``: the TTL and the Heroku and
    AWS shares, health checks applied): at the end of each minute, the AWS load balancer's
    RequestCount for it goes into CloudWatch at once. For step-by-step tests and the bare engine,
    whose cutovers must see their traffic arrive; a rehearsal's ``TrafficSimulator`` models
    TTLs, resolvers and the metric lag instead."""

    def __init__(self, clock: VirtualClock, served: Callable[[], tuple[int, float, float] | None],
                 per_minute: float = 1200.0) -> None:
        self.clock, self.served, self.per_minute = clock, served, per_minute

    def start(self) -> None:
        self.clock.call_at(self.clock.elapsed + 60, self._minute)

    def _minute(self) -> None:
        answer = self.served()
        if answer and answer[1] + answer[2] > 0:
            aws = round(self.per_minute * answer[2] / (answer[1] + answer[2]))
            if aws:
                _put([{"MetricName": "RequestCount", "Dimensions": [{"Name": "LoadBalancer", "Value": LOAD_BALANCER}],
                       "Timestamp": self.clock.now() - timedelta(seconds=60), "Value": aws, "Unit": "Count"}])
        self.clock.call_at(self.clock.elapsed + 60, self._minute)

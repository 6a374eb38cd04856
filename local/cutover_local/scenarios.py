"""Rehearsal scenarios: a plan, how the origins behave over time, and faults.

Origins' behaviour is given as traffic effects (``traffic.Effect``): from a moment (counted from
a stage's shift) and for a while, an origin's error rate or p99 latency changes. The alarms are
not scripted: they are evaluated from the simulated traffic, as CloudWatch would.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cutover.durations import parse_duration
from cutover.plan import yaml_problem

from .origins import CERTIFICATES
from .traffic import Effect

# the example alarms (examples/alarms.yaml): on the load balancer's one-minute metrics, and on the
# probe's 10-second ones (a test of one layer alone rehearses without the other)
LOAD_BALANCER_ALARMS = ("shop-5xx-rate", "shop-elb-5xx", "shop-unhealthy-targets", "shop-p99-latency")
PROBE_ALARMS = ("shop-probe-errors", "shop-probe-latency", "shop-probe-vs-heroku")
DEFAULT_PLAN: dict[str, Any] = {
    "hosted_zone_id": "ZREHEARSAL",
    "records": ["www.shop.example.com"],
    "heroku": {"target": "tranquil-reef-1234.herokudns.com"},
    "aws": {"target": "shop-alb-123456789.us-east-1.elb.amazonaws.com"},
    "ttl": {"during": 60},
    "stages": [{"weight": 10, "bake": "10m"}, {"weight": 50, "bake": "20m"}, {"weight": 100, "bake": "30m"}],
    "alarms": [*LOAD_BALANCER_ALARMS, *PROBE_ALARMS],
    "insufficient_data": "wait",
    "watch": "10m",  # a rehearsal watches 10 minutes at 100% (the default is 24 h), then commits
}
ORIGINAL_TTL = 3600


class ScenarioInvalid(ValueError):
    """A scenario name or file that cannot be used. Nothing was run."""


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    plan: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(DEFAULT_PLAN))
    traffic: tuple[Effect, ...] = ()
    faults: dict[str, int] = field(default_factory=dict)  # function logical id -> failures to inject
    insync_after: int = 25  # seconds a Route 53 change stays PENDING
    throttle_route53: int = 0  # answer Throttling to this many attempts before each one that passes
    promote_after: int = 300  # a rehearsal's operator promotes a manual gate after this many seconds
    aws_certificate: str = "valid"  # the AWS origin's certificate: valid, wrong-name or expired
    aws_status: int = 200  # what the AWS origin answers (its load balancer's default rule)
    aws_delay: float = 0.0  # seconds before it answers (wall time: a slow origin)
    # every control-plane function down from this many seconds after stage 1's shift, for
    # control_plane_down_for seconds (None: never)
    control_plane_down_after: float | None = None
    control_plane_down_for: float = 1800

    def catalogue_faults(self) -> list[Any]:
        """The scenario's faults as entries of the engine's catalogue (``faults.py``)."""
        from . import faults

        out: list[Any] = [faults.LambdaError(function, 1, count) for function, count in self.faults.items() if count]
        if self.throttle_route53 > 0:
            out.append(faults.Route53Refusals(self.throttle_route53))
        if self.control_plane_down_after is not None:
            out.append(faults.ControlPlaneDown(1, self.control_plane_down_after, self.control_plane_down_for))
        return out


BUILT_IN: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy", "AWS is healthy: 10% → 50% → 100%, TTL restored at the end."),
        Scenario(
            "errors-at-10",
            "The AWS origin answers 8% of requests with 5XX from the first stage on.",
            traffic=(Effect("aws", stage=1, error_rate=0.08),),
        ),
        Scenario(
            "latency-at-50",
            "AWS p99 latency climbs to 2.8 s once it takes half the traffic or more.",
            traffic=(Effect("aws", min_aws_percent=50, p99_seconds=2.8),),
        ),
        Scenario(
            "slow-vs-heroku",
            "From the first stage on AWS answers twice as slowly as Heroku (p99 640 ms against 320 ms), under every "
            "fixed latency threshold (1.5 s): the probes' comparison with Heroku rolls it back.",
            traffic=(Effect("aws", stage=1, p99_seconds=0.64),),
        ),
        Scenario(
            "aws-down",
            "The AWS origin has no healthy target from the first stage on: the ALB answers every request 503 itself.",
            traffic=(Effect("aws", stage=1, unhealthy=True),),
        ),
        Scenario(
            "alb-no-healthy-targets",
            "The load balancer loses its last healthy target 2 minutes into stage 1 and answers 503 itself: the probes' "
            "alarm rolls back within a minute (without it, the Route 53 health check drains AWS by DNS within 90 s).",
            traffic=(Effect("aws", stage=1, after=120, unhealthy=True),),
        ),
        Scenario(
            "wrong-target",
            "The plan's AWS target is another load balancer (staging's): it passes readiness, but the users DNS sends "
            "to AWS never reach the load balancer the alarms watch, and no alarm moves: rolled back at stage 1, "
            "traffic not arriving.",
            traffic=(Effect("aws", stage=1, unseen=True),),
        ),
        Scenario(
            "control-plane-down",
            "One minute into stage 1 every control-plane function fails for 30 minutes, and a minute later the AWS "
            "load balancer loses its targets: Route 53's health check alone sends every answer to Heroku.",
            traffic=(Effect("aws", stage=1, after=120, unhealthy=True),),
            control_plane_down_after=60,
        ),
        Scenario(
            "late-regression",
            "AWS passes every stage, then loses its healthy targets 3 hours after reaching 100%, during a 4-hour watch: "
            "the watch's probe alarm rolls back to Heroku within a minute.",
            plan={**copy.deepcopy(DEFAULT_PLAN), "watch": "4h"},
            traffic=(Effect("aws", stage=3, after=3 * 3600, unhealthy=True),),
        ),
        Scenario(
            "breach-recovers",
            "A 3-minute burst of 6% errors, 2 minutes into the first bake, over long before the bake ends.",
            traffic=(Effect("aws", stage=1, after=120, duration=180, error_rate=0.06),),
        ),
        Scenario(
            "route53-throttling",
            "Route 53 throttles two of every three calls; the SDK and the state machine retry.",
            throttle_route53=2,
        ),
        Scenario(
            "manual-gate",
            "The 50% stage waits for an operator, who promotes it 5 minutes later.",
            plan={**copy.deepcopy(DEFAULT_PLAN), "stages": [
                {"weight": 10, "bake": "10m"}, {"weight": 50, "bake": "20m", "promote": "manual"}, {"weight": 100, "bake": "30m"}]},
        ),
        Scenario(
            "tls-wrong-name",
            "The AWS load balancer serves a certificate for its own name, not the custom domain: refused at readiness, nothing changed.",
            aws_certificate="wrong-name",
        ),
        Scenario(
            "lambda-fault",
            "The shift function hits a transient Lambda service error once; the state machine retries it.",
            faults={"ShiftFunction": 1},
        ),
    )
}


def load(name_or_path: str | None) -> Scenario:
    """A built-in scenario by name, or a YAML scenario file."""
    if not name_or_path:
        return BUILT_IN["healthy"]
    if name_or_path in BUILT_IN:
        return BUILT_IN[name_or_path]
    path = Path(name_or_path)
    if not path.is_file():
        raise ScenarioInvalid(f"no scenario named {name_or_path!r} (built in: {', '.join(BUILT_IN)}) and no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioInvalid(f"{path}: not a text file (a YAML scenario expected)") from None
    except OSError as exc:
        raise ScenarioInvalid(f"cannot read {path}: {exc.strerror or exc}") from None
    if not text.strip():
        raise ScenarioInvalid(f"{path} is empty")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScenarioInvalid(f"{path}: not YAML ({yaml_problem(exc)})") from exc
    return from_dict(data, default_name=path.stem)


_EFFECT_FIELDS = {"origin", "stage", "after", "for", "min_aws_percent", "error_rate", "p99", "unhealthy", "unseen"}


def _effect(item: Any, where: str) -> Effect:
    if not isinstance(item, dict) or "origin" not in item:
        raise ScenarioInvalid(f"{where}: a mapping with origin (aws or heroku) and what changes")
    unknown = set(item) - _EFFECT_FIELDS
    if unknown:
        raise ScenarioInvalid(f"{where}: unknown fields {', '.join(sorted(unknown))}; allowed: {', '.join(sorted(_EFFECT_FIELDS))}")
    if item["origin"] not in ("aws", "heroku"):
        raise ScenarioInvalid(f"{where}.origin: must be aws or heroku")
    try:
        after = parse_duration(item.get("after", 0))
        duration = parse_duration(item["for"]) if "for" in item else None
        p99 = _latency(item["p99"]) if "p99" in item else None
    except ValueError as exc:
        raise ScenarioInvalid(f"{where}: {exc}") from exc
    rate = item.get("error_rate")
    if rate is not None and not (isinstance(rate, int | float) and 0 <= rate <= 1):
        raise ScenarioInvalid(f"{where}.error_rate: a fraction from 0 to 1")
    unhealthy = item.get("unhealthy", False)
    if not isinstance(unhealthy, bool):
        raise ScenarioInvalid(f"{where}.unhealthy: true or false (true: no healthy target, the ALB answers 503 itself)")
    unseen = item.get("unseen", False)
    if not isinstance(unseen, bool):
        raise ScenarioInvalid(f"{where}.unseen: true or false (true: the requests sent to AWS reach another load balancer)")
    return Effect(item["origin"], item.get("stage"), after, duration, item.get("min_aws_percent"), rate, p99, unhealthy,
                  unseen)


def _latency(value: Any) -> float:
    """Seconds from a number (seconds) or a string like ``800ms`` or ``2.5s``."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            if text.endswith("ms"):
                return float(text[:-2]) / 1000
            return float(text.removesuffix("s"))
        except ValueError:
            pass
    raise ValueError(f"p99: expected seconds or a string like '800ms' or '2.5s', got {value!r}")


def from_dict(data: Any, default_name: str = "custom") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioInvalid("a scenario is a mapping with plan, traffic, faults and route53")
    unknown = set(data) - {"name", "description", "plan", "traffic", "faults", "route53", "operator", "origins"}
    if unknown:
        raise ScenarioInvalid(f"unknown scenario fields: {', '.join(sorted(unknown))}")
    effects = tuple(_effect(item, f"traffic[{i}]") for i, item in enumerate(data.get("traffic") or []))
    faults = data.get("faults") or {}
    if not isinstance(faults, dict) or not all(isinstance(v, int) and v >= 0 for v in faults.values()):
        raise ScenarioInvalid("faults: a mapping of function logical id to a count of failures")
    route53 = data.get("route53") or {}
    certificate, status, delay = _aws_origin(data.get("origins"))
    return Scenario(
        name=str(data.get("name", default_name)),
        description=str(data.get("description", "")),
        plan=data.get("plan") or copy.deepcopy(DEFAULT_PLAN),
        traffic=effects,
        faults=dict(faults),
        insync_after=int(route53.get("insync_after", 25)),
        throttle_route53=int(route53.get("throttle", 0)),
        promote_after=_operator_delay(data.get("operator")),
        aws_certificate=certificate,
        aws_status=status,
        aws_delay=delay,
    )


def _aws_origin(spec: Any) -> tuple[str, int, float]:
    """The scenario's ``origins: {aws: {certificate, status, delay}}``."""
    usage = f"origins: {{aws: {{certificate: {' | '.join(CERTIFICATES)}, status: 100-599, delay: 0-10 (seconds)}}}}"
    spec = spec or {}
    aws = spec.get("aws") or {} if isinstance(spec, dict) else None
    if not isinstance(aws, dict) or set(spec) - {"aws"} or set(aws) - {"certificate", "status", "delay"}:
        raise ScenarioInvalid(usage)
    certificate, status, delay = aws.get("certificate", "valid"), aws.get("status", 200), aws.get("delay", 0)
    if (certificate not in CERTIFICATES or isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599
            or isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 10):
        raise ScenarioInvalid(usage)
    return certificate, status, float(delay)


def _operator_delay(spec: Any) -> int:
    if spec is None:
        return 300
    if not isinstance(spec, dict) or set(spec) - {"promote_after"}:
        raise ScenarioInvalid("operator: a mapping with promote_after (how long the operator takes to promote)")
    try:
        return parse_duration(spec.get("promote_after", 300))
    except ValueError as exc:
        raise ScenarioInvalid(f"operator.promote_after: {exc}") from exc

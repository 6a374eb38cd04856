"""The plan: what a cutover should do, parsed and validated before anything changes.

``parse_plan`` turns the execution input (JSON from the console or CLI, YAML for the CLI)
into an immutable ``Plan`` or raises ``PlanInvalid`` listing every problem, each naming the
field (``stages[1].weight``) and what to do. Checks that need the live zone (apex, records
inside the zone, alarms that exist, Heroku target matching the live record) live in
``check_against_zone`` so that they too run before the first change.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from . import arrival, compare, healthcheck, probes
from . import readiness as readiness_checks
from .durations import format_duration, parse_duration
from .errors import PlanInvalid
from .gates import Gate, parse_gate

DEFAULT_STAGES = ((10, 600), (50, 1200), (100, 1800))
DEFAULT_TTL_DURING = 60
TTL_DURING_MIN = 5
TTL_DURING_MAX = 300
BAKE_MAX = 24 * 3600
# Every stage adds its bounded loops to the execution's history: ten keep the worst case of the
# longest plan below 10,000 events (``history.py``; AWS fails an execution at 25,000).
MAX_STAGES = 10
INSUFFICIENT_DATA_POLICIES = ("wait", "fail", "ignore")
DEFAULT_INSUFFICIENT_DATA = "wait"
# A stage held for a manual promotion is not held for ever: past this the cutover rolls back.
DEFAULT_GATE_TIMEOUT = 4 * 3600
MIN_GATE_TIMEOUT, MAX_GATE_TIMEOUT = 60, 7 * 86_400
DEFAULT_WATCH, MAX_WATCH = 24 * 3600, 7 * 86_400
# A stage is judged this long after its bake ends: an ALB datapoint becomes visible 60-150 s after
# its minute ends and alarms are evaluated once a minute on what is visible, so a check made the
# moment a bake ends has not seen its last minutes (240 s: 150 s + one evaluation + a margin).
DEFAULT_METRIC_DELAY = 240
MAX_METRIC_DELAY = 15 * 60

_ZONE_ID = re.compile(r"^[A-Z0-9]{1,32}$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$")
_TOP_FIELDS = {
    "hosted_zone_id", "records", "heroku", "aws", "ttl", "stages", "alarms",
    "insufficient_data", "notify", "gate_timeout", "metric_delay", "readiness", "health_check",
    "traffic", "watch", "probe", "compare",
}


@dataclass(frozen=True)
class RecordSpec:
    """One DNS name to move, with its origins. ``heroku_target`` None: take it from the live record."""

    name: str
    aws_target: str
    heroku_target: str | None = None


@dataclass(frozen=True)
class Stage:
    weight: int  # AWS share in percent
    bake: int  # seconds to watch the alarms at this weight
    promote: Gate | None = None  # what the stage waits for before its shift

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"weight": self.weight, "bake": self.bake}
        if self.promote:
            out["promote"] = self.promote.to_dict()
        return out


@dataclass(frozen=True)
class Plan:
    hosted_zone_id: str
    records: tuple[RecordSpec, ...]
    stages: tuple[Stage, ...]
    alarms: tuple[str, ...]
    ttl_during: int = DEFAULT_TTL_DURING
    insufficient_data: str = DEFAULT_INSUFFICIENT_DATA
    notify_topic_arn: str | None = None
    gate_timeout: int = DEFAULT_GATE_TIMEOUT
    watch: int = DEFAULT_WATCH  # seconds the cutover stays live at 100%, then it is committed
    metric_delay: int = DEFAULT_METRIC_DELAY
    readiness: readiness_checks.Spec = field(default_factory=readiness_checks.Spec)
    health_check: healthcheck.Spec = field(default_factory=healthcheck.Spec)
    traffic: arrival.Spec = field(default_factory=arrival.Spec)
    probe: probes.Spec = field(default_factory=probes.Spec)
    compare: compare.Spec = field(default_factory=compare.Spec)
    names: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", tuple(r.name for r in self.records))

    def to_dict(self) -> dict[str, Any]:
        """The normalized plan as the state machine carries it (round-trips through ``parse_plan``)."""
        out: dict[str, Any] = {
            "hosted_zone_id": self.hosted_zone_id,
            "records": [
                {
                    "name": r.name,
                    "aws": {"target": r.aws_target},
                    **({"heroku": {"target": r.heroku_target}} if r.heroku_target else {}),
                }
                for r in self.records
            ],
            "ttl": {"during": self.ttl_during},
            "stages": [s.to_dict() for s in self.stages],
            "alarms": list(self.alarms),
            "insufficient_data": self.insufficient_data,
            "gate_timeout": self.gate_timeout,
            "watch": self.watch,
            "metric_delay": self.metric_delay,
            "readiness": self.readiness.to_dict(),
            "health_check": self.health_check.to_dict(),
            "traffic": self.traffic.to_dict(),
            "probe": self.probe.to_dict(),
            "compare": self.compare.to_dict(),
        }
        if self.notify_topic_arn:
            out["notify"] = {"topic_arn": self.notify_topic_arn}
        return out

    @property
    def health_check_path(self) -> str:
        """The path the Route 53 health check requests: its own, else the readiness path."""
        return self.health_check.path or self.readiness.path

    def describe(self) -> str:
        steps = ", ".join(
            f"{s.weight}% for {format_duration(s.bake)}" + (f" ({s.promote.kind} promotion)" if s.promote else "")
            for s in self.stages
        )
        return f"{', '.join(self.names)}: {steps}"


def load_plan_text(text: str) -> Any:
    """Read a plan document (JSON or YAML) into plain data, raising ``PlanInvalid`` if unreadable."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PlanInvalid([("plan", f"is neither JSON nor YAML ({yaml_problem(exc)})")]) from exc


def yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line: what is wrong and where (PyYAML's own message spans several)."""
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}" if mark else problem


def normalize_name(name: str) -> str:
    return name.strip().lower().rstrip(".")


def hostname_problem(name: str) -> str | None:
    """Why ``name`` (already normalized) is not a usable DNS host name, or None."""
    if not name:
        return "is empty"
    if len(name) > 253:
        return "is longer than 253 characters"
    if name.startswith("*"):
        return "is a wildcard; cut over concrete names"
    labels = name.split(".")
    if len(labels) < 2:
        return "must be a fully qualified name such as www.example.com"
    for label in labels:
        if not _LABEL.match(label):
            return f"has an invalid label {label!r} (letters, digits and inner hyphens, 1-63 long)"
    return None


class _Problems:
    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, reason: str) -> None:
        self.items.append((where, reason))

    def mapping(self, value: Any, where: str, allowed: set[str]) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            self.add(where, f"must be a mapping, got {type(value).__name__}")
            return None
        for key in value:
            if key not in allowed:
                self.add(
                    f"{where}.{key}" if where != "plan" else str(key),
                    f"unknown field; allowed: {', '.join(sorted(allowed))}",
                )
        return value


def _bounded_duration(problems: _Problems, spec: dict[str, Any], key: str, default: int,
                      bounds: tuple[int, int, str], meaning: str) -> int:
    """An optional duration field within ``bounds`` (low, high, as said to the user)."""
    if key not in spec:
        return default
    try:
        value = parse_duration(spec[key])
    except ValueError as exc:
        problems.add(key, str(exc))
        return default
    low, high, said = bounds
    if not low <= value <= high:
        problems.add(key, f"must be {said} ({meaning}), got {format_duration(value)}")
    return value


def _target(problems: _Problems, value: Any, where: str, required: bool) -> str | None:
    """Parse ``{target: host}`` at ``where``; returns the normalized host or None."""
    if value is None:
        if required:
            problems.add(f"{where}.target", "is required (the DNS name of the origin)")
        return None
    spec = problems.mapping(value, where, {"target"})
    if spec is None:
        return None
    raw = spec.get("target")
    if not isinstance(raw, str):
        if required or raw is not None:
            problems.add(f"{where}.target", "is required and must be a host name")
        return None
    host = normalize_name(raw)
    reason = hostname_problem(host)
    if reason:
        problems.add(f"{where}.target", reason)
        return None
    if host.endswith(".herokuapp.com"):
        problems.add(
            f"{where}.target",
            "is a *.herokuapp.com name, which breaks Heroku's certificates for your domain; "
            "use the DNS target Heroku gives the custom domain (heroku domains), "
            "which ends in .herokudns.com",
        )
        return None
    return host


def _records(problems: _Problems, raw: dict[str, Any]) -> tuple[RecordSpec, ...]:
    default_heroku = _target(problems, raw.get("heroku"), "heroku", required=False)
    default_aws = _target(problems, raw.get("aws"), "aws", required="aws" in raw)
    items = raw.get("records")
    if items is None:
        problems.add("records", "is required: the DNS names to move, e.g. [www.example.com]")
        return ()
    if not isinstance(items, list) or not items:
        problems.add("records", "must be a non-empty list of DNS names")
        return ()
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        where = f"records[{i}]"
        heroku, aws = default_heroku, default_aws
        if isinstance(item, str):
            name = item
        elif isinstance(item, dict):
            spec = problems.mapping(item, where, {"name", "heroku", "aws"})
            assert spec is not None
            name = spec.get("name")
            if "heroku" in spec:
                heroku = _target(problems, spec["heroku"], f"{where}.heroku", required=True)
            if "aws" in spec:
                aws = _target(problems, spec["aws"], f"{where}.aws", required=True)
            where = f"{where}.name"
            if not isinstance(name, str):
                problems.add(where, "is required and must be a DNS name")
                continue
        else:
            problems.add(where, "must be a DNS name or a mapping with name, heroku, aws")
            continue
        name = normalize_name(name)
        reason = hostname_problem(name)
        if reason:
            problems.add(where, reason)
            continue
        if name in seen:
            problems.add(where, f"{name} is listed twice")
            continue
        seen.add(name)
        if aws is None:
            if default_aws is None and "aws" not in raw:
                problems.add("aws.target", f"is required for {name} (the ALB or CloudFront name)")
            continue
        if heroku is not None and heroku == aws:
            problems.add(where, "the Heroku and AWS targets are the same name")
            continue
        if aws == name or heroku == name:
            problems.add(where, "a target must not be the record's own name")
            continue
        out.append(RecordSpec(name=name, aws_target=aws, heroku_target=heroku))
    return tuple(out)


def _duration(problems: _Problems, value: Any, where: str) -> int | None:
    try:
        return parse_duration(value)
    except ValueError as exc:
        problems.add(where, str(exc))
        return None


def _ttl(problems: _Problems, raw: Any) -> int:
    if raw is None:
        return DEFAULT_TTL_DURING
    spec = problems.mapping(raw, "ttl", {"during"})
    if spec is None or "during" not in spec:
        if spec is not None:
            problems.add("ttl.during", "is required when ttl is given (seconds, e.g. 60)")
        return DEFAULT_TTL_DURING
    during = _duration(problems, spec["during"], "ttl.during")
    if during is None:
        return DEFAULT_TTL_DURING
    if not TTL_DURING_MIN <= during <= TTL_DURING_MAX:
        problems.add(
            "ttl.during",
            f"must be between {TTL_DURING_MIN} and {TTL_DURING_MAX} seconds, got {during}: "
            "low enough to move traffic quickly, high enough that resolvers honour it",
        )
    return during


def _stages(problems: _Problems, raw: Any, ttl_during: int) -> tuple[Stage, ...]:
    if raw is None:
        return tuple(Stage(weight=w, bake=b) for w, b in DEFAULT_STAGES)
    if not isinstance(raw, list) or not raw:
        problems.add("stages", "must be a non-empty list of {weight, bake}")
        return ()
    if len(raw) > MAX_STAGES:
        problems.add("stages", f"at most {MAX_STAGES} stages, got {len(raw)}: the execution history of a longer "
                               "cutover could reach Step Functions' limit; merge stages or run two cutovers")
        return ()
    out: list[Stage] = []
    previous = 0
    for i, item in enumerate(raw):
        where = f"stages[{i}]"
        spec = problems.mapping(item, where, {"weight", "bake", "promote"})
        if spec is None:
            continue
        gate, gate_problems = parse_gate(spec.get("promote"), f"{where}.promote")
        for field_name, reason in gate_problems:
            problems.add(field_name, reason)
        weight = spec.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int):
            problems.add(f"{where}.weight", f"must be a whole percent from 1 to 100, got {weight!r}")
            continue
        if not 1 <= weight <= 100:
            problems.add(f"{where}.weight", f"must be from 1 to 100 percent, got {weight}")
            continue
        if weight <= previous:
            problems.add(
                f"{where}.weight",
                f"must be greater than the previous stage's {previous}: stages strictly increase",
            )
            continue
        previous = weight
        if "bake" not in spec:
            problems.add(f"{where}.bake", "is required (how long to watch the alarms, e.g. 10m)")
            continue
        bake = _duration(problems, spec["bake"], f"{where}.bake")
        if bake is None:
            continue
        if bake < ttl_during:
            problems.add(
                f"{where}.bake",
                f"must be at least ttl.during ({ttl_during}s), got {bake}s: "
                "shorter than the TTL, clients have not moved yet",
            )
            continue
        if bake > BAKE_MAX:
            problems.add(f"{where}.bake", f"must be at most {format_duration(BAKE_MAX)}, got {bake}s")
            continue
        out.append(Stage(weight=weight, bake=bake, promote=gate))
    if out and previous != 100 and len(out) == len(raw):
        problems.add(f"stages[{len(raw) - 1}].weight", f"the last stage must be 100, got {previous}")
    return tuple(out)


def _alarms(problems: _Problems, raw: Any) -> tuple[str, ...]:
    if raw is None:
        problems.add(
            "alarms",
            "is required: name the CloudWatch alarms (error rate, latency) that guard the cutover",
        )
        return ()
    if not isinstance(raw, list) or not raw:
        problems.add("alarms", "must be a non-empty list of CloudWatch alarm names")
        return ()
    out: list[str] = []
    for i, name in enumerate(raw):
        if not isinstance(name, str) or not 1 <= len(name.strip()) <= 255:
            problems.add(f"alarms[{i}]", "must be an alarm name (1-255 characters)")
        elif name in out:
            problems.add(f"alarms[{i}]", f"{name} is listed twice")
        else:
            out.append(name)
    return tuple(out)


def parse_plan(raw: Any) -> Plan:
    """Validate plain plan data and return a ``Plan``; raise ``PlanInvalid`` listing every problem."""
    problems = _Problems()
    spec = problems.mapping(raw, "plan", _TOP_FIELDS)
    if spec is None:
        raise PlanInvalid(problems.items)

    zone = spec.get("hosted_zone_id")
    if not isinstance(zone, str) or not _ZONE_ID.match(zone.removeprefix("/hostedzone/")):
        problems.add("hosted_zone_id", f"must be a Route 53 hosted zone id like Z0123456789ABC, got {zone!r}")
        zone = ""
    zone = zone.removeprefix("/hostedzone/")

    records = _records(problems, spec)
    ttl_during = _ttl(problems, spec.get("ttl"))
    stages = _stages(problems, spec.get("stages"), ttl_during)
    alarms = _alarms(problems, spec.get("alarms"))

    policy = spec.get("insufficient_data", DEFAULT_INSUFFICIENT_DATA)
    if policy not in INSUFFICIENT_DATA_POLICIES:
        problems.add("insufficient_data", f"must be one of {', '.join(INSUFFICIENT_DATA_POLICIES)}, got {policy!r}")

    gate_timeout = _bounded_duration(problems, spec, "gate_timeout", DEFAULT_GATE_TIMEOUT,
                                     (MIN_GATE_TIMEOUT, MAX_GATE_TIMEOUT, "1m to 7d"),
                                     "how long a stage may wait for its manual promotion")
    watch = _bounded_duration(problems, spec, "watch", DEFAULT_WATCH, (0, MAX_WATCH, "0s to 7d"),
                              "how long the cutover stays watched at 100% before it is committed")
    metric_delay = _bounded_duration(problems, spec, "metric_delay", DEFAULT_METRIC_DELAY,
                                     (0, MAX_METRIC_DELAY, "0s to 15m"),
                                     "how long after a bake its last datapoints are visible to the alarms")

    readiness, readiness_problems = readiness_checks.parse_spec(spec.get("readiness"))
    health, health_problems = healthcheck.parse_spec(spec.get("health_check"))
    traffic, traffic_problems = arrival.parse_spec(spec.get("traffic"))
    probe, probe_problems = probes.parse_spec(spec.get("probe"))
    compared, compare_problems = compare.parse_spec(spec.get("compare"), probe)
    for where, reason in readiness_problems + health_problems + traffic_problems + probe_problems + compare_problems:
        problems.add(where, reason)

    topic = None
    if spec.get("notify") is not None:
        notify = problems.mapping(spec["notify"], "notify", {"topic_arn"})
        if notify is not None:
            topic = notify.get("topic_arn")
            if not isinstance(topic, str) or not _TOPIC_ARN.match(topic):
                problems.add("notify.topic_arn", f"must be an SNS topic ARN, got {topic!r}")
                topic = None

    if problems.items:
        raise PlanInvalid(problems.items)
    return Plan(
        hosted_zone_id=zone,
        records=records,
        stages=stages,
        alarms=alarms,
        ttl_during=ttl_during,
        insufficient_data=policy,
        notify_topic_arn=topic,
        gate_timeout=gate_timeout,
        watch=watch,
        metric_delay=metric_delay,
        readiness=readiness,
        health_check=health,
        traffic=traffic,
        probe=probe,
        compare=compared,
    )


def check_against_zone(
    plan: Plan,
    zone_name: str,
    allowed_names: frozenset[str] | None,
    existing_alarms: frozenset[str],
) -> None:
    """Checks that need the live account; raise ``PlanInvalid`` before anything changes.

    ``allowed_names`` are the record names the deployed stack may touch (None: any in the zone).
    """
    problems = _Problems()
    zone = normalize_name(zone_name)
    for i, record in enumerate(plan.records):
        where = f"records[{i}]"
        if record.name == zone:
            problems.add(
                where,
                f"{record.name} is the zone apex: Route 53 cannot weight a Heroku target there "
                "(no CNAME at the apex, and a Heroku target cannot be an alias). Cut over "
                f"www.{zone} and redirect the apex to it, or put CloudFront in front of Heroku "
                "and weight alias records",
            )
        elif not record.name.endswith("." + zone):
            problems.add(where, f"{record.name} is not inside the hosted zone {zone}")
        elif allowed_names is not None and record.name not in allowed_names:
            problems.add(
                where,
                f"{record.name} is not one of the names this stack may change "
                f"({', '.join(sorted(allowed_names)) or 'none'}); add it to the RecordNames "
                "parameter and deploy again",
            )
    for i, alarm in enumerate(plan.alarms):
        if alarm not in existing_alarms:
            problems.add(f"alarms[{i}]", f"no CloudWatch alarm named {alarm!r} exists in this region")
    if problems.items:
        raise PlanInvalid(problems.items)

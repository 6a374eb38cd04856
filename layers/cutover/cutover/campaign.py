"""A campaign: many cutovers in waves, one account.

Teams leave Heroku app by app: staging before production, small services before the main site.
A campaign file lists the cutovers (each one a plan, over shared ``defaults``) in ``waves``; a
wave runs at most ``max_parallel`` cutovers at once and starts only when the wave before it has
ended, after its ``after`` (a pause, or a manual gate opened by ``cutover campaign promote``).
``on_rollback`` says what a cutover that does not end on AWS does to the rest: ``stop`` (no
further cutover starts; those running finish) or ``continue``.

The campaign runs as its own state machine, which starts each cutover as a child execution of
the cutover state machine (unchanged) and waits for it: each child is exactly the cutover one
would start by hand, with its own lock, ledger, gates and rollback.

A campaign file:

```yaml
campaign: fleet-2026-12           # the campaign's execution name
on_rollback: stop                 # stop | continue
max_parallel: 5                   # default for every wave (at most 40: an inline Map's limit)
defaults: {alarms: [...], stages: [...], watch: 30m}   # plan fields every cutover shares
waves:
  - name: staging
    max_parallel: 2
    after: {pause: 30m}           # or {gate: manual}; nothing after the last wave
    cutovers:
      - {name: www-staging, hosted_zone_id: Z..., records: [www.staging.example.com], aws: {...}}
```
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any

from .durations import parse_duration
from .errors import PlanInvalid
from .plan import Plan, parse_plan

ON_ROLLBACK = ("stop", "continue")
DEFAULT_ON_ROLLBACK = "stop"
DEFAULT_MAX_PARALLEL = 5
# An inline Map runs at most 40 iterations at once (Step Functions quota): more would only queue.
MAX_PARALLEL = 40
# Each cutover costs the campaign's execution about 20 history events; 500 keep it far below
# the 25,000-event limit (where an execution fails without any Catch running).
MAX_CUTOVERS = 500
MAX_WAVES = 50
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,79}$")  # an execution name AWS accepts
_TOP = {"campaign", "on_rollback", "max_parallel", "defaults", "waves"}
_WAVE = {"name", "max_parallel", "after", "cutovers"}
_AFTER = {"pause", "gate"}


@dataclass(frozen=True)
class Cutover:
    id: str  # the child execution's name and the cutover's id
    plan: Plan


@dataclass(frozen=True)
class Wave:
    name: str
    max_parallel: int
    cutovers: tuple[Cutover, ...]
    pause: int = 0  # seconds to wait after the wave
    gate: bool = False  # wait for cutover campaign promote after the wave


@dataclass(frozen=True)
class Campaign:
    id: str
    on_rollback: str
    waves: tuple[Wave, ...]

    @property
    def cutovers(self) -> tuple[Cutover, ...]:
        return tuple(c for w in self.waves for c in w.cutovers)

    def to_input(self) -> dict[str, Any]:
        """The campaign as its state machine carries it, once validated (each plan normalized)."""
        return {
            "campaign": self.id,
            "on_rollback": self.on_rollback,
            "waves": [
                {"index": i, "name": w.name, "max_parallel": w.max_parallel, "pause": w.pause, "gate": w.gate,
                 "last": i == len(self.waves) - 1,
                 "cutovers": [{"id": c.id, "plan": c.plan.to_dict()} for c in w.cutovers]}
                for i, w in enumerate(self.waves)
            ],
        }

    def describe(self) -> str:
        names = sum(len(c.plan.names) for c in self.cutovers)
        return (f"campaign {self.id}: {len(self.cutovers)} cutover(s), {names} name(s) in {len(self.waves)} wave(s); "
                f"a rollback {'stops the campaign' if self.on_rollback == 'stop' else 'lets the others go on'}")


class CampaignInvalid(PlanInvalid):
    """The campaign file breaks one or more rules; nothing was started."""

    def __init__(self, problems: list[tuple[str, str]]):
        super().__init__(problems)
        self.args = ("invalid campaign: " + "; ".join(f"{f}: {r}" for f, r in self.problems),)

    def __str__(self) -> str:
        return str(self.args[0])


def slug(name: str) -> str:
    """A DNS name as an execution name: ``www.shop.example.com`` -> ``www-shop-example-com``."""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:80]


def parse(raw: Any) -> Campaign:
    """Validate a campaign file's data (the campaign execution's input); raise
    ``CampaignInvalid`` naming every problem at once."""
    problems: list[tuple[str, str]] = []
    if not isinstance(raw, dict) or not raw:
        raise CampaignInvalid([("campaign", "must be a mapping with campaign, waves (and defaults, "
                                            "on_rollback, max_parallel)")])
    for key in sorted(set(raw) - _TOP):
        problems.append((key, f"unknown field (known: {', '.join(sorted(_TOP))})"))
    name = raw.get("campaign")
    if not isinstance(name, str) or not _NAME.match(name):
        problems.append(("campaign", f"must be a name of 1-80 letters, digits, - or _ (an execution name), got {name!r}"))
        name = "campaign"
    on_rollback = raw.get("on_rollback", DEFAULT_ON_ROLLBACK)
    if on_rollback not in ON_ROLLBACK:
        problems.append(("on_rollback", f"must be one of {', '.join(ON_ROLLBACK)}, got {on_rollback!r}"))
    default_parallel = _parallel(problems, raw.get("max_parallel", DEFAULT_MAX_PARALLEL), "max_parallel")
    defaults = raw.get("defaults", {})
    if not isinstance(defaults, dict):
        problems.append(("defaults", "must be a mapping of plan fields every cutover shares"))
        defaults = {}
    waves_raw = raw.get("waves")
    if not isinstance(waves_raw, list) or not waves_raw:
        problems.append(("waves", "must be a non-empty list of waves, each with its cutovers"))
        waves_raw = []
    if len(waves_raw) > MAX_WAVES:
        problems.append(("waves", f"at most {MAX_WAVES} waves, got {len(waves_raw)}"))
    waves: list[Wave] = []
    ids: dict[str, str] = {}
    dns_names: dict[str, str] = {}
    for w, wave_raw in enumerate(waves_raw):
        where = f"waves[{w}]"
        if not isinstance(wave_raw, dict):
            problems.append((where, "must be a mapping with cutovers (and name, max_parallel, after)"))
            continue
        for key in sorted(set(wave_raw) - _WAVE):
            problems.append((f"{where}.{key}", f"unknown field (known: {', '.join(sorted(_WAVE))})"))
        wave_name = wave_raw.get("name", f"wave-{w + 1}")
        if not isinstance(wave_name, str) or not wave_name.strip():
            problems.append((f"{where}.name", "must be a non-empty string"))
            wave_name = f"wave-{w + 1}"
        parallel = _parallel(problems, wave_raw.get("max_parallel", default_parallel), f"{where}.max_parallel")
        pause, gate = _after(problems, wave_raw.get("after"), f"{where}.after", last=w == len(waves_raw) - 1)
        cutovers_raw = wave_raw.get("cutovers")
        if not isinstance(cutovers_raw, list) or not cutovers_raw:
            problems.append((f"{where}.cutovers", "must be a non-empty list of plans"))
            cutovers_raw = []
        cutovers = []
        for c, cutover_raw in enumerate(cutovers_raw):
            found = _cutover(problems, cutover_raw, defaults, f"{where}.cutovers[{c}]", name)
            if found is None:
                continue
            if found.id in ids:
                problems.append((f"{where}.cutovers[{c}].name", f"{found.id!r} is used by {ids[found.id]} too: "
                                                               "each cutover needs its own name"))
            ids.setdefault(found.id, f"{where}.cutovers[{c}]")
            for dns in found.plan.names:
                if dns in dns_names:
                    problems.append((f"{where}.cutovers[{c}].records", f"{dns} is moved by {dns_names[dns]} too: "
                                                                      "a campaign moves each name once"))
                dns_names.setdefault(dns, f"{where}.cutovers[{c}]")
            cutovers.append(found)
        waves.append(Wave(wave_name, parallel, tuple(cutovers), pause, gate))
    if len(ids) > MAX_CUTOVERS:
        problems.append(("waves", f"at most {MAX_CUTOVERS} cutovers in one campaign, got {len(ids)}: split it"))
    if problems:
        raise CampaignInvalid(problems)
    return Campaign(name, on_rollback, tuple(waves))


def _parallel(problems: list[tuple[str, str]], value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PARALLEL:
        problems.append((where, f"must be a whole number from 1 to {MAX_PARALLEL} (cutovers at once), got {value!r}"))
        return DEFAULT_MAX_PARALLEL
    return value


def _after(problems: list[tuple[str, str]], value: Any, where: str, last: bool) -> tuple[int, bool]:
    if value is None:
        return 0, False
    if not isinstance(value, dict) or not value or set(value) - _AFTER:
        problems.append((where, "must be {pause: DURATION} or {gate: manual}"))
        return 0, False
    pause, gate = 0, False
    if "pause" in value:
        try:
            pause = parse_duration(value["pause"])
        except ValueError as exc:
            problems.append((f"{where}.pause", str(exc)))
    if "gate" in value:
        if value["gate"] == "manual":
            gate = True
        else:
            problems.append((f"{where}.gate", f"must be manual (cutover campaign promote opens it), got {value['gate']!r}"))
    if last and (pause or gate):
        problems.append((where, "the last wave has nothing after it to wait for: remove after"))
    return pause, gate


def _cutover(problems: list[tuple[str, str]], raw: Any, defaults: dict[str, Any], where: str,
             campaign: str) -> Cutover | None:
    if not isinstance(raw, dict):
        problems.append((where, "must be a plan (a mapping), with an optional name"))
        return None
    own = dict(raw)
    given = own.pop("name", None)
    merged = {**copy.deepcopy(defaults), **own}
    try:
        plan = parse_plan(merged)
    except PlanInvalid as exc:
        problems.extend((f"{where}.{field}", reason) for field, reason in exc.problems)
        return None
    cutover_id = given if given is not None else slug(f"{campaign}-{plan.names[0]}")
    if not isinstance(cutover_id, str) or not _NAME.match(cutover_id):
        problems.append((f"{where}.name", f"must be 1-80 letters, digits, - or _ (the cutover's execution name), got {cutover_id!r}"))
        return None
    return Cutover(cutover_id, plan)

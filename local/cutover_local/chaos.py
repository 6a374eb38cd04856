"""The chaos campaign: many rehearsals, each with a random mix of faults, every invariant checked.

One run is fully determined by its seed: the plan (one or two names, bakes of 3 to 6 minutes, at
times a manual gate), the origins' behaviour, and the faults drawn from the catalogue
(``faults.draw``). ``cutover rehearse --chaos SEED`` replays one run with its timeline.
"""

from __future__ import annotations

import copy
import random
from collections import Counter
from typing import Any

from cutover.plan import DEFAULT_METRIC_DELAY

from . import faults as catalogue
from . import invariants
from .rehearsal import Printer, rehearse
from .scenarios import DEFAULT_PLAN, Scenario
from .traffic import Effect

CHAOS_ORIGINAL_TTL = 300  # short plans: the old TTL to wait out is 5 minutes
CHAOS_WATCH = 300  # and 5 minutes watched at 100% before the commit


def scenario_for(seed: int) -> tuple[Scenario, list[Any]]:
    """The plan, origins and faults of chaos run ``seed``."""
    rng = random.Random(f"chaos/{seed}")  # noqa: S311 - a reproducible campaign
    plan = copy.deepcopy(DEFAULT_PLAN)
    plan["records"] = ["www.shop.example.com"] + (["api.shop.example.com"] if rng.random() < 0.4 else [])
    bakes = [rng.choice(("3m", "4m", "5m", "6m")) for _ in range(3)]
    plan["stages"] = [{"weight": w, "bake": b} for w, b in zip((10, 50, 100), bakes, strict=True)]
    if rng.random() < 0.2:
        plan["stages"][1]["promote"] = "manual"
    traffic: tuple[Effect, ...] = ()
    if rng.random() < 0.25:
        traffic = (Effect("aws", stage=rng.randint(1, 3), after=rng.choice((0, 60, 120)), error_rate=0.1),)
    plan["watch"] = f"{CHAOS_WATCH}s"  # short: faults land during the watch and its commit too
    horizon = CHAOS_ORIGINAL_TTL + 60 + sum(int(b[:-1]) * 60 + DEFAULT_METRIC_DELAY for b in bakes) + 120 + CHAOS_WATCH
    faults = catalogue.draw(rng, horizon)
    description = ", ".join(_describe(f) for f in faults)
    return Scenario(f"chaos-{seed}", description, plan=plan, traffic=traffic, insync_after=rng.choice((10, 25, 40)),
                    promote_after=rng.choice((60, 300))), faults


def _describe(fault: Any) -> str:
    fields = {k: v for k, v in vars(fault).items() if k != "kind"}
    return f"{fault.kind}({', '.join(f'{k}={v}' for k, v in fields.items())})"


def run(seed: int, say: Printer = lambda line: None) -> dict[str, Any]:
    """One chaos run: what was injected, how it ended, and every invariant it broke."""
    scenario, faults = scenario_for(seed)
    say(f"chaos run {seed}: {scenario.description}")
    result, timeline = rehearse(scenario, seed_value=seed, say=say, faults=faults, inspect=invariants.check,
                                original_ttl=CHAOS_ORIGINAL_TTL)
    return {"seed": seed, "faults": [f.kind for f in faults], "status": result["status"],
            "execution_status": result["execution_status"], "violations": result["violations"],
            "result": result, "timeline": timeline}


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """``runs``, ``violations``, ``by_invariant``, ``faults`` (by kind) and ``violating_seeds``."""
    by_invariant: Counter[str] = Counter()
    faults: Counter[str] = Counter()
    violating = []
    errors = []
    for one in runs:
        faults.update(one.get("faults", []))
        if one.get("error"):
            errors.append({"seed": one["seed"], "error": one["error"]})
            continue
        names = {v.split(":", 1)[0] for v in one["violations"]}
        by_invariant.update(names)
        if one["violations"]:
            violating.append(one["seed"])
    return {
        "runs": len(runs),
        "violations": sum(len(one.get("violations", [])) for one in runs),
        "by_invariant": {name: by_invariant.get(name, 0) for name in invariants.INVARIANTS},
        "faults": dict(sorted(faults.items())),
        "violating_seeds": violating,
        "harness_errors": errors,
    }

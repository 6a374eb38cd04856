"""The chaos campaign: N rehearsals, each with a random mix of faults, every invariant checked.

    .venv/bin/python bench/chaos.py --runs 300 --seed 0 [--workers 2] [--json]

Run ``seed`` is the rehearsal of seed S+i for i in 0..N-1; ``cutover rehearse --chaos SEED``
replays one with its timeline. Prints runs, faults by kind, violations by invariant and the
seeds of the violating runs (``--json``: one object with ``runs``, ``violations``,
``by_invariant``, ``faults`` and ``violating_seeds``).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import traceback


def _quiet() -> None:
    os.environ.update(POWERTOOLS_TRACE_DISABLED="true", POWERTOOLS_METRICS_DISABLED="true", POWERTOOLS_LOG_LEVEL="CRITICAL")
    import logging
    import warnings

    logging.getLogger("moto").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore")


def one(seed: int) -> dict:
    _quiet()
    from cutover_local import chaos

    try:
        run = chaos.run(seed)
    except Exception as exc:  # noqa: BLE001 - a broken run is reported, never hidden
        return {"seed": seed, "faults": [], "violations": [], "error": f"{type(exc).__name__}: {exc}",
                "trace": traceback.format_exc()}
    return {"seed": seed, "faults": run["faults"], "violations": run["violations"], "status": run["status"],
            "wall": run["result"]["wall_seconds"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    _quiet()
    from cutover_local.chaos import summarize
    from cutover_local.invariants import INVARIANTS

    started = time.perf_counter()
    seeds = list(range(args.seed, args.seed + args.runs))
    with multiprocessing.get_context("spawn").Pool(args.workers, maxtasksperchild=25) as pool:
        runs = pool.map(one, seeds, chunksize=1)
    summary = summarize(runs)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(summary, indent=2))
        return 1 if summary["violations"] or summary["harness_errors"] else 0
    print(f"chaos campaign: {summary['runs']} runs from seed {args.seed} in {summary['wall_seconds']} s "
          f"({args.workers} workers)")
    print("\nfaults injected, by kind:")
    for kind, n in summary["faults"].items():
        print(f"  {kind:28} {n}")
    print(f"\nviolations: {summary['violations']} in {len(summary['violating_seeds'])} runs; runs violating each invariant:")
    for name, n in summary["by_invariant"].items():
        print(f"  {name:28} {n:4}  {INVARIANTS[name]}")
    if summary["violating_seeds"]:
        print(f"\nviolating seeds: {' '.join(map(str, summary['violating_seeds']))}")
        print(f"replay one: .venv/bin/cutover rehearse --chaos {summary['violating_seeds'][0]}")
    for error in summary["harness_errors"]:
        print(f"\nrun {error['seed']} broke the harness: {error['error']}", file=sys.stderr)
    return 1 if summary["violations"] or summary["harness_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())

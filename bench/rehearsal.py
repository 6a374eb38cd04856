"""Benchmark: the default rehearsal's wall time and virtual-to-wall ratio, and the test suite's wall time.

    .venv/bin/python bench/rehearsal.py [--runs 7] [--suite-runs 3] [--e2e-runs 1]

The suite has two tiers (Makefile): ``make test``, whose aim is under 90 s on two cores, and
``make test-e2e``, the whole runs CI makes after it; each is timed as its own make command.

Each rehearsal runs as its own `cutover rehearse --json` process (what `make rehearse` does),
so the command's wall time includes start-up and deploy; the rehearsal's own wall time (from
its JSON) is the run alone. Prints medians and the spread; quote medians and ratios.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def rehearsal(scenario: str) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([str(BIN / "cutover"), "rehearse", "--json", "--scenario", scenario],
                          capture_output=True, text=True, cwd=ROOT, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode not in (0, 3):
        raise SystemExit(f"rehearsal failed ({done.returncode}): {done.stderr[-2000:]}")
    return elapsed, json.loads(done.stdout)


def suite(target: str = "test") -> float:
    """``make <target>`` as CI runs it, with its environments already installed (a fresh machine
    adds the pip installs)."""
    started = time.perf_counter()
    make = shutil.which("make") or "make"
    done = subprocess.run([make, target], capture_output=True, text=True, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"make {target} failed: {done.stdout[-2000:]}")
    return time.perf_counter() - started


def describe(values: list[float]) -> str:
    return f"median {statistics.median(values):.2f}s (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--suite-runs", type=int, default=3)
    parser.add_argument("--e2e-runs", type=int, default=0)
    parser.add_argument("--scenario", default="healthy")
    args = parser.parse_args()

    commands, runs, ratios = [], [], []
    for _ in range(args.runs):
        command, result = rehearsal(args.scenario)
        commands.append(command)
        runs.append(result["wall_seconds"])
        ratios.append(result["virtual_seconds"] / result["wall_seconds"])
    print(f"machine: {platform.machine()}, {platform.python_implementation()} {platform.python_version()}")
    print(f"rehearsal '{args.scenario}': {result['virtual_seconds']:.0f} virtual seconds")
    print(f"  command wall time (cutover rehearse): {describe(commands)}")
    print(f"  rehearsal wall time (run alone):      {describe(runs)}")
    print(f"  virtual-to-wall ratio:                median {statistics.median(ratios):.0f}x")
    if args.suite_runs:
        print(f"test suite wall time (make test):       {describe([suite() for _ in range(args.suite_runs)])}")
    if args.e2e_runs:
        print(f"whole runs' wall time (make test-e2e):  {describe([suite('test-e2e') for _ in range(args.e2e_runs)])}")


if __name__ == "__main__":
    main()

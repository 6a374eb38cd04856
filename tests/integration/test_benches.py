"""The benchmark scripts still run against the product as it is (a few iterations each: their
figures are measured by running them in full, see docs/benchmarks.md)."""

from __future__ import annotations

import importlib.util

from tests.support import ROOT


def load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reaction_bench_measures_a_listener_rollback(monkeypatch):
    # the script quiets Powertools through the environment at import: undone after this test
    for variable in ("POWERTOOLS_LOG_LEVEL", "POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_TRACE_DISABLED"):
        monkeypatch.setenv(variable, "CRITICAL" if variable.endswith("LEVEL") else "true")
    times = load("reaction").reaction_times(2, warmup=0)
    assert len(times) == 2 and all(0 < t < 10 for t in times)

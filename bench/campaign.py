"""Benchmark: campaigns of 10, 50 and 100 names on the engine, inside one account's Route 53 budget.

    .venv/bin/python bench/campaign.py [--sizes 10,50,100] [--json]

Each size is the built-in fleet's shape (``cutover_local.campaign_rehearsal.fleet``): names in up
to 10 zones, 5 waves (fewer for small fleets), 10 cutovers at once, a 15-minute pause between
waves, one app failing in wave 2 and ``on_rollback: continue``. For each it reports the Route 53
calls a second the whole account made (peak in any one virtual second, and the mean over the
campaign) against the budget of 5 a second, how many calls were throttled, state transitions and
Lambda invocations per name, and the rehearsal's wall time (one run each: a campaign of 100
takes minutes; quote the ratios between sizes). Every run must end with its healthy names on AWS
and its failing name on Heroku, or the bench stops.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import warnings

for variable, value in (("POWERTOOLS_LOG_LEVEL", "CRITICAL"), ("POWERTOOLS_METRICS_DISABLED", "true"),
                        ("POWERTOOLS_TRACE_DISABLED", "true")):
    os.environ.setdefault(variable, value)
# What `cutover rehearse` keeps off a terminal: moto logs every Fail state (the campaign's own
# NotAllOnAws, expected here), botocore and Powertools warn of what the engine injects.
logging.getLogger("moto").setLevel(logging.CRITICAL)
warnings.filterwarnings("ignore", message="No application metrics to publish")
warnings.filterwarnings("ignore", message=".*does not match an error shape")

from cutover_local.campaign_rehearsal import fleet, rehearse_campaign  # noqa: E402


def shape(names: int) -> dict:
    waves = 5 if names >= 50 else 2
    failing = min(names, names // waves + 7)  # an app of wave 2
    return fleet(names, zones=min(10, max(1, names // 10)), waves=waves, max_parallel=10, failing=(failing,))


def measure(names: int) -> dict:
    raw = shape(names)
    failing = {f"{c['records'][0]}" for w in raw["waves"] for c in w["cutovers"] if c["name"] in raw["_failing"]}
    result = rehearse_campaign(raw, say=lambda line: None)
    wrong = [n for n, v in result["names"].items()
             if v["final_weights"]["aws"] != (0 if n in failing else 100)]
    if wrong:
        raise SystemExit(f"{names} names: not where they should be: {wrong[:5]}")
    counters, r53 = result["counters"], result["route53"]
    return {"names": names, "waves": len(raw["waves"]), "status": result["status"],
            "virtual_hours": round(result["virtual_seconds"] / 3600, 1), "wall_seconds": result["wall_seconds"],
            "route53_peak_per_second": r53["peak_per_second"], "route53_mean_per_second": r53["mean_per_second"],
            "route53_calls": r53["calls"], "throttled": r53["throttled"], "budget_per_second": r53["budget_per_second"],
            "state_transitions_per_name": counters["state_transitions_per_name"],
            "lambda_invocations_per_name": counters["lambda_invocations_per_name"], "stalls": counters["stalls"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,50,100")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(int(size)) for size in args.sizes.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print("| names | waves | status | virtual | wall | Route 53 peak/s | mean/s | calls | throttled | "
          "transitions/name | invocations/name |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['names']} | {r['waves']} | {r['status']} | {r['virtual_hours']} h | {r['wall_seconds']:.0f} s | "
              f"{r['route53_peak_per_second']} (budget {r['budget_per_second']:g}) | {r['route53_mean_per_second']:.3f} | "
              f"{r['route53_calls']} | {r['throttled']} | {r['state_transitions_per_name']} | "
              f"{r['lambda_invocations_per_name']} |")
    base = rows[0]
    for r in rows[1:]:
        print(f"{r['names']} names: {r['names'] / base['names']:.0f}x the names, "
              f"{r['wall_seconds'] / base['wall_seconds']:.1f}x the wall time of {base['names']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

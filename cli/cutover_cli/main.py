"""``cutover``: rehearse a cutover offline. Operator commands (start, status, abort...) come later.

Exit codes: 0 succeeded, 3 rolled back, 2 invalid plan or scenario (nothing changed), 1 anything else.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import warnings
from pathlib import Path

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_ROLLED_BACK = 0, 1, 2, 3


def _quiet_functions(verbose: bool) -> None:
    """The functions' own JSON logs and metrics are noise on a terminal unless asked for."""
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "INFO" if verbose else "CRITICAL")
    if not verbose:
        warnings.filterwarnings("ignore", message="No application metrics to publish")
        warnings.filterwarnings("ignore", message=".*does not match an error shape")  # moto on injected Throttling
        # moto's interpreter logs every Fail state as an ERROR; the rehearsal reports it itself
        logging.getLogger("moto").setLevel(logging.CRITICAL)


def rehearse(args: argparse.Namespace) -> int:
    _quiet_functions(args.verbose)
    from cutover.errors import PlanInvalid
    from cutover.plan import load_plan_text
    from cutover_local import scenarios
    from cutover_local.rehearsal import rehearse as run

    out = sys.stderr if args.json else sys.stdout
    if args.report and not args.report.endswith((".html", ".htm")):
        print("cutover rehearse: --report writes HTML; give a file name ending in .html", file=sys.stderr)
        return EXIT_INVALID
    try:
        scenario = scenarios.load(args.scenario)
        plan = load_plan_text(Path(args.plan).read_text()) if args.plan else None
    except (scenarios.ScenarioInvalid, PlanInvalid, OSError) as exc:
        print(f"cutover rehearse: {exc}", file=sys.stderr)
        return EXIT_INVALID
    try:
        result, timeline = run(scenario, plan, seed_value=args.seed, say=lambda line: print(line, file=out, flush=True))
    except PlanInvalid as exc:
        print("cutover rehearse: the plan is invalid, nothing was run:", file=sys.stderr)
        for field, reason in exc.problems:
            print(f"  {field}: {reason}", file=sys.stderr)
        return EXIT_INVALID
    if args.report:
        from cutover_local.report import write_report

        write_report(Path(args.report), scenario.name, result, timeline)
        print(f"report: {args.report}", file=out)
    if args.json:
        print(json.dumps(result, indent=2))
    return {"SUCCEEDED": EXIT_OK, "ROLLED_BACK": EXIT_ROLLED_BACK}.get(result["status"], EXIT_FAILED)


def list_scenarios(args: argparse.Namespace) -> int:
    from cutover_local.scenarios import BUILT_IN

    for scenario in BUILT_IN.values():
        print(f"{scenario.name:16} {scenario.description}")
    return EXIT_OK


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cutover", description="Move a web app's traffic from Heroku to AWS by DNS, safely.")
    commands = top.add_subparsers(dest="command", required=True)
    r = commands.add_parser("rehearse", help="run a cutover offline on an embedded AWS (the real state machine and handlers)")
    r.add_argument("--scenario", help="a built-in scenario (cutover scenarios) or a scenario YAML file; default: healthy")
    r.add_argument("--plan", help="a plan file (YAML or JSON) to rehearse instead of the scenario's own")
    r.add_argument("--seed", type=int, default=7, help="seed of the traffic simulation (same seed, same result); default 7")
    r.add_argument("--json", action="store_true", help="print the result as one JSON object (progress goes to stderr)")
    r.add_argument("--report", metavar="FILE", help="write a timeline of the rehearsal as HTML (weights, errors, latency, alarms, events)")
    r.add_argument("--verbose", action="store_true", help="show the functions' own logs")
    r.set_defaults(func=rehearse)
    s = commands.add_parser("scenarios", help="list the built-in rehearsal scenarios")
    s.set_defaults(func=list_scenarios)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())

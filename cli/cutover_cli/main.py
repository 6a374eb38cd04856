# PYTHON_ARGCOMPLETE_OK
"""``cutover``: rehearse a cutover offline, or dry-run a plan against the live zone.

Operator commands (start, status, list, promote, abort, history): ``operate.py``. Every failure
goes through one path (``failures.py``): a line or two saying what to do, an exit code of its
kind, and a traceback only with ``--debug``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import signal
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .failures import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_ROLLED_BACK,
    CommandError,
    explain,
    read_text,
    writable_file,
)
from .operate import report_invalid_plan


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


def _engine_is_here() -> None:
    """The offline engine needs its extra (moto, trustme) and the project's template, functions
    and state machine, which a wheel does not ship yet: said plainly, not as an import error."""
    from importlib.util import find_spec

    missing = [name for name in ("moto", "trustme") if find_spec(name) is None]
    if missing:
        raise CommandError(f"the offline engine is not installed ({', '.join(missing)} missing): "
                           "pip install 'cutover[local]', or run it from a clone with make rehearse", EXIT_INVALID)
    from cutover_local.template import TEMPLATE_PATH

    if not TEMPLATE_PATH.is_file():
        raise CommandError(f"the offline engine deploys the project's template.yaml, functions/ and statemachines/, "
                           f"which are not at {TEMPLATE_PATH.parent} (a wheel installs them under <prefix>/share/cutover): "
                           "run it from a clone (make rehearse)", EXIT_INVALID)


def _offline(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """``rehearse`` and ``local up`` run on the engine alone: the user's AWS endpoint, profile,
    config and credentials are dropped before anything reads them (and put back after, for a
    caller in the same process)."""

    @functools.wraps(command)
    def offline(args: argparse.Namespace) -> int:
        _engine_is_here()
        from cutover_local import isolation

        saved = isolation.isolate()
        try:
            return command(args)
        finally:
            isolation.restore(saved)

    return offline


@_offline
def rehearse(args: argparse.Namespace) -> int:
    _quiet_functions(args.verbose)
    from cutover.errors import PlanInvalid
    from cutover.plan import load_plan_text
    from cutover_local import scenarios
    from cutover_local.rehearsal import rehearse as run

    out = sys.stderr if args.json else sys.stdout
    if args.report and not args.report.endswith((".html", ".htm")):
        raise CommandError("--report writes HTML; give a file name ending in .html", EXIT_INVALID)
    report = writable_file(args.report, "the report") if args.report else None  # before a run, not after
    try:
        scenario = scenarios.load(args.scenario)
        plan = load_plan_text(read_text(args.plan, "the plan")) if args.plan else None
    except (scenarios.ScenarioInvalid, PlanInvalid) as exc:
        raise CommandError(str(exc), EXIT_INVALID) from exc
    say = lambda line: print(line, file=out, flush=True)  # noqa: E731
    if args.campaign is not None:
        return _rehearse_campaign(args, say)
    if args.chaos is not None:
        if args.scenario or args.plan:
            print("cutover rehearse: --chaos replays a chaos run with its own plan and faults; "
                  "leave out --scenario and --plan", file=sys.stderr)
            return EXIT_INVALID
        from cutover_local import chaos

        replay = chaos.run(args.chaos, say=say)
        result, timeline, scenario = replay["result"], replay["timeline"], chaos.scenario_for(args.chaos)[0]
        for line in result["violations"]:
            say(f"VIOLATION {line}")
        say(f"{len(result['violations'])} invariant violation(s)")
    else:
        try:
            result, timeline = run(scenario, plan, seed_value=args.seed, say=say)
        except PlanInvalid as exc:
            return report_invalid_plan("rehearse", exc.problems, "nothing was run")
    if report:
        from cutover_local.report import write_report

        write_report(report, scenario.name, result, timeline)
        print(f"report: {args.report}", file=out)
    if args.json:
        print(json.dumps(result, indent=2))
    if result.get("violations"):
        return EXIT_FAILED  # a chaos replay that breaks an invariant
    return {"SUCCEEDED": EXIT_OK, "ROLLED_BACK": EXIT_ROLLED_BACK}.get(result["status"], EXIT_FAILED)


def _rehearse_campaign(args: argparse.Namespace, say: Callable[[str], None]) -> int:
    """``cutover rehearse --campaign FILE|NAME``: a campaign of cutovers on the engine."""
    from cutover.campaign import CampaignInvalid
    from cutover.errors import PlanInvalid
    from cutover.plan import load_plan_text
    from cutover_local.campaign_rehearsal import BUILT_IN, rehearse_campaign

    if args.scenario or args.plan or args.chaos is not None or args.report:
        raise CommandError("--campaign runs a campaign file (or a built-in one) on its own: leave out --scenario, "
                           "--plan, --chaos and --report", EXIT_INVALID)
    if args.campaign in BUILT_IN:
        raw = BUILT_IN[args.campaign]()
    else:
        try:
            raw = load_plan_text(read_text(args.campaign, "the campaign file"))
        except PlanInvalid as exc:
            raise CommandError(f"the campaign file {args.campaign}: {exc.problems[0][1]} "
                               f"(built-in campaigns: {', '.join(BUILT_IN)})", EXIT_INVALID) from exc
    try:
        result = rehearse_campaign(raw, seed_value=args.seed, say=say)
    except CampaignInvalid as exc:
        return report_invalid_plan("rehearse", exc.problems, "nothing was run", what="campaign")
    if args.json:
        print(json.dumps(result, indent=2))
    # a halted campaign has ended here: some cutover rolled back and its rule stopped the rest
    return {"SUCCEEDED": EXIT_OK, "COMPLETED_WITH_ROLLBACKS": EXIT_ROLLED_BACK, "HALTED": EXIT_ROLLED_BACK}.get(
        result["status"], EXIT_FAILED)


def plan_command(args: argparse.Namespace) -> int:
    """``cutover plan``: validate a plan against the live zone and show every batch it will send."""
    return dry_run(args)[0]


def dry_run(args: argparse.Namespace, quiet: bool = False) -> tuple[int, Any]:
    """The checks and the batches of ``cutover plan``; ``cutover start`` makes the same checks
    (``quiet``: only a refusal is printed). The exit code, and the plan as given."""
    from cutover import history
    from cutover.adapters.cloudwatch import CloudWatch
    from cutover.adapters.route53 import Route53
    from cutover.dryrun import dry_run as compute
    from cutover.dryrun import starting_pairs
    from cutover.durations import format_duration
    from cutover.errors import CutoverError, PlanInvalid
    from cutover.plan import load_plan_text, parse_plan
    from cutover.records import to_route53
    from cutover.steps import check_before_start, not_ready, readiness_results

    from .operate import StackNotFound, held_names, outputs_of, stack_settings

    command = "start" if quiet or getattr(args, "dry_run", False) else "plan"
    raw = None
    try:
        raw = load_plan_text(read_text(args.plan, "the plan"))
        plan = parse_plan(raw)
        try:
            outputs = outputs_of(args)
            stack_note = None
        except StackNotFound as exc:
            if command == "start":
                raise
            outputs, stack_note = None, f"{exc}; checked without the stack's allowed zones and names, and its locks"
        route53 = Route53()
        zone_name, load_balancer = check_before_start(plan, route53, CloudWatch(), stack_settings(outputs))
        held = held_names(outputs, plan.names) if outputs else {}
        live = route53.records_of(plan.hosted_zone_id, plan.names)
        result = compute(plan, live, args.insync)
        result["history_events_worst_case"] = history.worst_case(plan)
        # what users would meet on AWS (and on Heroku, the baseline): the checks the cutover makes first
        _local_origins(args)
        checks = readiness_results(plan, starting_pairs(plan, live)[1])
    except PlanInvalid as exc:
        return report_invalid_plan(command, exc.problems, "nothing would be changed"), raw
    except CutoverError as exc:
        print(f"cutover {command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_INVALID, raw
    failed = [c for c in checks if c.origin != "heroku" and not c.ok]
    refusals = [not_ready(c, plan) for c in failed]
    refusals += [f"{name} is held by the cutover {holder} (cutover status {holder})" for name, holder in held.items()]
    if quiet:
        if refusals:
            print(f"cutover start: refused: {'; '.join(refusals)}", file=sys.stderr)
        return (EXIT_INVALID if refusals else EXIT_OK), raw
    if args.json:
        print(json.dumps({
            **result,
            "stack": None if outputs is None else {"allowed_zone_ids": outputs.get("AllowedZoneIds", "*"),
                                                   "allowed_record_names": outputs.get("AllowedRecordNames", "*"),
                                                   "held": held},
            "readiness": {"skipped": plan.readiness.skip} if plan.readiness.skip else [c.to_dict() for c in checks],
            "traffic_load_balancer": load_balancer,
            "ready": not refusals,
            "steps": [{"what": s.what, "earliest_at": s.earliest_at, "aws_percent": s.aws_percent,
                       "changes": to_route53(s.changes)} for s in result["steps"]],
            "rollback": to_route53(result["rollback"]),
        }, indent=2))
        return (EXIT_INVALID if refusals else EXIT_OK), raw
    print(f"{plan.describe()} in zone {zone_name} ({plan.hosted_zone_id}); Route 53 changes assumed INSYNC in {args.insync}s")
    print(f"stack: {stack_note}" if stack_note else
          f"stack: allows zones {outputs.get('AllowedZoneIds') or '*'} and names {outputs.get('AllowedRecordNames') or '*'}; "
          + ("names held: " + ", ".join(f"{n} by {h}" for n, h in held.items()) if held else "no name held by another cutover"))
    print(f"\ntraffic check: each stage's requests counted at {load_balancer}" if load_balancer
          else f"\ntraffic check: switched off ({plan.traffic.skip})")
    print("\nreadiness, as users would meet each origin:" if checks else f"\nreadiness: switched off ({plan.readiness.skip})")
    for check in checks:
        print(f"    {'ok  ' if check.ok else 'FAIL'} {check.origin:16} {check.name} via {check.target}: "
              + (check.reason if check.ok else f"{check.failed_at}: {check.reason}"))
    for step in result["steps"]:
        print(f"\n+{format_duration(step.earliest_at)}  {step.what}")
        for change in step.changes:
            r = change["ResourceRecordSet"]
            weight = f" weight {r['Weight']}" if "Weight" in r else ""
            ident = f" [{r['SetIdentifier']}]" if "SetIdentifier" in r else ""
            print(f"    {change['Action']:6} {r['Name']} {r['Type']}{ident}{weight} TTL {r['TTL']} -> {r['ResourceRecords'][0]['Value']}")
    print(f"\nearliest finish: +{format_duration(result['earliest_finish_seconds'])}")
    worst = result["worst_case_exposure"]
    print(f"worst case exposure with between-stage checks only: {worst['percent_seconds']} %-seconds "
          f"(a breach right after the stage {worst['stage']} shift, caught when it is judged: its bake, then metric_delay); "
          "the alarm listener cuts it to the time the alarm takes to fire")
    print(f"execution history: at most {result['history_events_worst_case']} events, every loop at its bound "
          f"and a day of rollback retries (Step Functions' limit: {history.HISTORY_LIMIT})")
    print("a rollback at any point sends:")
    for change in result["rollback"]:
        r = change["ResourceRecordSet"]
        print(f"    {change['Action']:6} {r['Name']} {r['Type']} [{r['SetIdentifier']}] weight {r['Weight']} TTL {r['TTL']}")
    if refusals:
        print("\ncutover start would be refused, nothing changed: " + "; ".join(refusals), file=sys.stderr)
        return EXIT_INVALID, raw
    return EXIT_OK, raw


def _local_origins(args: argparse.Namespace) -> None:
    """Against ``cutover local up``: its outputs name the loopback origins and their test CA, so the
    readiness checks reach them as the engine's own functions do (real TLS and HTTP)."""
    path = getattr(args, "outputs", None) or os.environ.get("CUTOVER_OUTPUTS")
    if not path:
        return
    try:
        origins = json.loads(Path(path).read_text()).get("LocalOrigins")
    except (OSError, ValueError, AttributeError):
        return
    if not isinstance(origins, dict):
        return
    from cutover import readiness

    by_suffix = {suffix: (str(address[0]), int(address[1])) for suffix, address in origins.get("addresses", {}).items()}

    def resolve(host: str, port: int) -> list[tuple[str, int]]:
        found = [address for suffix, address in by_suffix.items() if host.lower().rstrip(".").endswith(suffix)]
        if not found:
            raise OSError(f"[Errno -2] Name or service not known: {host} (not an origin of the local endpoint)")
        return found[:1]

    readiness.system_resolver = resolve
    readiness.CA_BUNDLE = origins.get("cafile")


@_offline
def local_up(args: argparse.Namespace) -> int:
    """``cutover local up``: the engine as a local AWS endpoint, until interrupted."""
    _quiet_functions(args.verbose)
    if not args.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    from cutover_local.endpoint import PortInUse, up

    folder = Path(args.dir)
    if folder.exists() and not folder.is_dir():
        raise CommandError(f"--dir {args.dir} is a file: give a folder for outputs.json, plan.json and gated.json", EXIT_INVALID)
    try:
        up(args.port, folder, lambda line: print(line, flush=True))
    except PortInUse as exc:
        raise CommandError(f"{exc}: stop what listens there (another cutover local up?) or pass --port "
                           "(0 picks a free one)", EXIT_INVALID) from exc
    return EXIT_OK


def list_scenarios(args: argparse.Namespace) -> int:
    from cutover_local.scenarios import BUILT_IN

    width = max(len(name) for name in BUILT_IN)
    for scenario in BUILT_IN.values():
        print(f"{scenario.name:{width}}  {scenario.description}")
    return EXIT_OK


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("cutover")
    except PackageNotFoundError:
        return "(not installed)"


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="cutover", description="Move a web app's traffic from Heroku to AWS by DNS, safely.",
                                  epilog="exit codes: 0 done, 1 failed, 2 refused or invalid input (nothing changed), "
                                         "3 rolled back, 4 cannot reach AWS (credentials, region, endpoint), 130 interrupted")
    top.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    top.add_argument("--debug", action="store_true", help="show the traceback of a failure (also $CUTOVER_DEBUG=1)")
    # --debug after the command too (`cutover status x --debug`); SUPPRESS keeps one given before it
    debug = argparse.ArgumentParser(add_help=False)
    debug.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show the traceback of a failure")
    commands = top.add_subparsers(dest="command", required=True)
    r = commands.add_parser("rehearse", parents=[debug], help="run a cutover offline on an embedded AWS (the real state machine and handlers)")
    r.add_argument("--scenario", help="a built-in scenario (cutover scenarios) or a scenario YAML file; default: healthy")
    r.add_argument("--plan", help="a plan file (YAML or JSON) to rehearse instead of the scenario's own")
    r.add_argument("--seed", type=int, default=7, help="seed of the traffic simulation (same seed, same result); default 7")
    r.add_argument("--chaos", type=int, metavar="SEED",
                   help="replay chaos run SEED (bench/chaos.py): its plan, faults, timeline and invariant violations")
    r.add_argument("--campaign", metavar="FILE|NAME",
                   help="rehearse a campaign (waves of cutovers): a campaign file, or a built-in one (fleet-100, fleet-10)")
    r.add_argument("--json", action="store_true", help="print the result as one JSON object (progress goes to stderr)")
    r.add_argument("--report", metavar="FILE", help="write a timeline of the rehearsal as HTML (weights, errors, latency, alarms, events)")
    r.add_argument("--verbose", action="store_true", help="show the functions' own logs")
    r.set_defaults(func=rehearse)
    common = argparse.ArgumentParser(add_help=False, parents=[debug])
    common.add_argument("--stack", default=os.environ.get("CUTOVER_STACK", "cutover-prod"),
                        help="the deployed stack (default: $CUTOVER_STACK or cutover-prod)")
    common.add_argument("--outputs", help="a JSON file of the stack's outputs instead of CloudFormation (or $CUTOVER_OUTPUTS)")
    common.add_argument("--region", help="AWS region (default: the standard AWS configuration)")
    common.add_argument("--profile", help="a profile of the AWS configuration (default: $AWS_PROFILE, else the default chain)")
    common.add_argument("--endpoint-url", help="a local AWS endpoint instead of AWS")
    common.add_argument("--json", action="store_true", help="machine-readable output (the same as --output json)")
    common.add_argument("--output", "-o", choices=("table", "json"), default="table",
                        help="table (for people, the default) or json (one document, for machines)")
    common.set_defaults(operator_command=True)
    p = commands.add_parser("plan", parents=[common],
                            help="dry run: validate a plan against the live zone and show every batch it will send")
    p.add_argument("plan", help="the plan file (YAML or JSON)")
    p.add_argument("--insync", type=int, default=60, help="seconds a Route 53 change takes to be INSYNC (default 60)")
    p.set_defaults(func=plan_command)
    from . import campaign
    from .operate import _timeout_option, add_commands

    add_commands(commands, common)
    campaign.add_commands(commands, common, _timeout_option)
    local = commands.add_parser("local", parents=[debug], help="the local engine as an AWS endpoint")
    local_commands = local.add_subparsers(dest="local_command", required=True)
    u = local_commands.add_parser("up", parents=[debug], help="serve the stack on loopback for the AWS CLI and cutover --endpoint-url")
    u.add_argument("--port", type=int, default=4566, help="port on 127.0.0.1 (0: any free port); default 4566")
    u.add_argument("--dir", default=".cutover-local", help="where outputs.json, plan.json and gated.json go (default .cutover-local)")
    u.add_argument("--verbose", action="store_true", help="show the functions' own logs")
    u.set_defaults(func=local_up)
    s = commands.add_parser("scenarios", parents=[debug], help="list the built-in rehearsal scenarios")
    s.set_defaults(func=list_scenarios)
    return top


def main(argv: list[str] | None = None) -> int:
    if argv is None and hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `cutover history NAME | head` ends quietly
    top = parser()
    import argcomplete

    argcomplete.autocomplete(top)  # answers a shell's completion request and exits; nothing otherwise
    args = top.parse_args(argv)
    if getattr(args, "output", None) == "json":
        args.json = True
    debug = getattr(args, "debug", False) or os.environ.get("CUTOVER_DEBUG", "") not in ("", "0")
    try:
        if getattr(args, "operator_command", False):
            _quiet_functions(False)
            if args.endpoint_url:
                os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
            if args.region:
                os.environ["AWS_DEFAULT_REGION"] = args.region
            if args.profile:
                os.environ["AWS_PROFILE"] = args.profile
        return args.func(args)
    except KeyboardInterrupt:
        if debug:
            raise
        print(file=sys.stderr)  # past the ^C on the terminal, nothing more
        return EXIT_INTERRUPTED
    except Exception as exc:  # the one place a failure becomes a message (--debug: the traceback)
        if debug:
            raise
        explained = explain(exc)
        message, code = explained or (f"unexpected error: {type(exc).__name__}: {exc} (run it again with --debug "
                                      "to see where, and report it)", EXIT_FAILED)
        print(f"cutover {args.command}: {message}", file=sys.stderr)
        return code

if __name__ == "__main__":
    sys.exit(main())

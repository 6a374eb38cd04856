"""The operator commands: start, status, list, promote, abort, history.

They find the deployed stack's outputs through CloudFormation (``--stack``), or from a JSON file
of outputs (``--outputs FILE`` or ``CUTOVER_OUTPUTS``, what a local endpoint writes), use the
standard AWS credential chain, and go through the control plane's own functions for every
action (Promote, Abort), so the ledger records who did what.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from .failures import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_ROLLED_BACK, CommandError, read_text


def report_invalid_plan(command: str, problems: list[tuple[str, str]], consequence: str, what: str = "plan") -> int:
    """Print every problem of a refused plan (or campaign), each naming its field; the exit code for it."""
    print(f"cutover {command}: the {what} is invalid, {consequence}:", file=sys.stderr)
    for field, reason in problems:
        print(f"  {field}: {reason}", file=sys.stderr)
    return EXIT_INVALID


_NEEDED_OUTPUTS = ("StateMachineArn", "TableName")


class StackNotFound(CommandError):
    """No deployed stack by that name: ``cutover plan`` goes on without its allow-lists."""


def stack_settings(outputs: dict[str, str] | None) -> Any:
    """What the deployed stack allows (its HostedZoneIds and RecordNames parameters, as outputs);
    no restriction without a stack."""
    from cutover.settings import Settings

    outputs = outputs or {}
    return Settings.from_env({"TABLE_NAME": outputs.get("TableName", "-"),
                              "ALLOWED_ZONE_IDS": outputs.get("AllowedZoneIds", ""),
                              "ALLOWED_RECORD_NAMES": outputs.get("AllowedRecordNames", "")})


def held_names(outputs: dict[str, str], names: list[str]) -> dict[str, str]:
    """The names of a plan another cutover holds now (its lock), each with the holder."""
    store = _store(outputs)
    return {name: holder for name in names if (holder := store.lock_holder(name))}


def outputs_of(args: argparse.Namespace) -> dict[str, str]:
    path = args.outputs or os.environ.get("CUTOVER_OUTPUTS")
    if path:
        try:
            outputs = json.loads(read_text(path, "the stack outputs file", "the JSON of cutover local up's outputs.json"))
        except ValueError as exc:
            raise CommandError(f"the stack outputs file {path} is not JSON ({exc})", EXIT_INVALID) from exc
        missing = [key for key in _NEEDED_OUTPUTS if not isinstance(outputs, dict) or key not in outputs]
        if missing:
            raise CommandError(f"the stack outputs file {path} lacks {', '.join(missing)}: give the file cutover local up "
                               "writes, or the stack's outputs", EXIT_INVALID)
        return outputs
    import boto3
    from botocore.exceptions import ClientError

    try:
        stack = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"][0]
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ValidationError":
            raise  # credentials refused, access denied: said as such by the one error path
        raise StackNotFound(f"no stack {args.stack!r} in this account and region: deploy it, or pass --stack or "
                            "--outputs", EXIT_INVALID) from exc
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def _invoke(function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
    import boto3

    answer = boto3.client("lambda").invoke(FunctionName=function_name, Payload=json.dumps(payload))
    result = json.loads(answer["Payload"].read() or b"{}")
    if answer.get("FunctionError"):
        kind = result.get("errorType", "Error")
        refused = ("NotWaiting", "InputInvalid", "CutoverNotFound", "CutoverNotLive", "StaleRecords",
                   "CampaignNotFound", "CampaignNotLive")
        code = EXIT_INVALID if kind in refused else EXIT_FAILED
        raise CommandError(f"{kind}: {result.get('errorMessage', result)}", code, kind)
    return result


def _invoke_on(outputs: dict[str, str], function: str, payload: dict[str, Any], verb: str) -> dict[str, Any]:
    """``_invoke`` for a call on one cutover: a name the table does not know may still be an
    execution (refused at its preflight before it recorded anything, or still in it); said so."""
    try:
        return _invoke(outputs[function], payload)
    except CommandError as exc:
        name = payload["cutover_id"]
        if exc.kind != "CutoverNotFound":
            raise
        status = execution_status(outputs["StateMachineArn"], name)
        if status == "RUNNING":
            raise CommandError(f"{name} was not {verb}, nothing changed: its execution is still in its preflight and "
                               "has recorded nothing yet; try again in a few seconds", EXIT_INVALID) from None
        if status is not None:
            raise CommandError(f"{name} was not {verb}, nothing changed: its execution ended {status} before it "
                               f"changed anything (refused at its preflight: cutover status {name} says why)",
                               EXIT_INVALID) from None
        raise


def _execution_arn(outputs: dict[str, str], name: str) -> str:
    machine = outputs["StateMachineArn"]
    return machine.replace(":stateMachine:", ":execution:") + f":{name}"


def _store(outputs: dict[str, str]) -> Any:
    from cutover.adapters.store import Store

    return Store(outputs["TableName"])


def _actor() -> str:
    """Who acts, for the ledger: the caller's AWS identity (its ARN, as STS says it), with the
    label ``$CUTOVER_ACTOR`` gives in front of it (a pipeline's name, a ticket). Never ``$USER``:
    the name of a laptop's account says nothing about who holds the credentials."""
    import boto3

    identity = boto3.client("sts").get_caller_identity()["Arn"]
    label = os.environ.get("CUTOVER_ACTOR", "").strip()
    return f"{label} ({identity})" if label else identity


def _summary(outputs: dict[str, str], name: str) -> dict[str, Any]:
    import boto3
    from botocore.exceptions import ClientError

    try:
        described = boto3.client("stepfunctions").describe_execution(executionArn=_execution_arn(outputs, name))
    except ClientError as exc:
        raise CommandError(f"no cutover named {name}: {exc} (see cutover list)", EXIT_INVALID) from exc
    state = _store(outputs).state(name) or {}
    weights = {p["name"]: {"heroku": p["heroku_weight"], "aws": p["aws_weight"]} for p in state.get("pairs", [])}
    stage_weights = [s["weight"] for s in state.get("plan", {}).get("stages", [])]
    current = state.get("aws_percent")
    stage = stage_weights.index(current) + 1 if current in stage_weights else 0
    waiting = _store(outputs).gate(name)
    ledger = _store(outputs).ledger(name)
    return {
        "name": name,
        "execution": described["status"],
        "cutover": state.get("status"),
        "stage": stage,
        "stages": state.get("stage_count"),
        "aws_percent": state.get("aws_percent"),
        "weights": weights,
        "waiting_for_promotion": bool(waiting) and waiting.get("kind") != "watch",
        # at 100%, watched until then committed (cutover commit ends the watch now)
        "watched_until": next((e["until"] for e in _store(outputs).ledger(name, event="watching")), None)
        if waiting and waiting.get("kind") == "watch" else None,
        "rollback_reason": state.get("rollback_reason"),
        "reverted": {k: v for k, v in state["revert"].items() if k in ("by", "reason", "change_id")}
        if state.get("revert") else None,
        # each evaluated stage's traffic at the load balancer: intended and observed side by side
        "traffic": [e["traffic"] for e in ledger if e["event"] == "evaluated" and e.get("traffic")],
        # AWS compared with Heroku by the probes: each evaluated stage, and before an alarm's rollback
        "compare": [{"stage": e["stage"], "event": e["event"], "names": e["compare"]} for e in ledger
                    if e["event"] in ("evaluated", "rechecked") and e.get("compare")],
        "probes_before_rollback": next(({"alarm": e["alarm"], "names": e["compare"]} for e in ledger
                                        if e["event"] == "probe_figures"), None),
        "health_checks": _health_checks(state),
        "served": _served(state),
        "error": described.get("error"),
        "cause": cause_words(described.get("cause")),
    }


def cause_words(cause: str | None) -> str | None:
    """An execution's cause as a person reads it: a failed Lambda task's cause is its error as
    JSON, stack trace included; only the message is kept (the trace is in the function's logs)."""
    try:
        error = json.loads(cause) if cause else None
    except ValueError:
        return cause
    if isinstance(error, dict) and "errorMessage" in error:
        return str(error["errorMessage"])
    return cause


def _served(state: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What Route 53 holds now for each name, whatever the ledger says: the weights of the pair
    (``heroku``, ``aws``), or the simple CNAME a commit left (``cname``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cutover import records as rr
    from cutover.adapters.route53 import Route53
    from cutover.errors import CutoverError, Route53Busy

    zone = state.get("plan", {}).get("hosted_zone_id")
    names = [p["name"] for p in state.get("pairs", [])]
    if not zone or not names:
        return {}
    try:
        held = Route53().records_of(zone, names)
    except (ClientError, BotoCoreError, CutoverError) as exc:
        busy = isinstance(exc, Route53Busy)  # the account's budget, shared by every caller
        return {name: {"unknown": f"cannot read the zone: {exc}", **({"busy": True} if busy else {})} for name in names}
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        cnames = [r for r in held.get(rr.bare(name), []) if r.get("Type") == "CNAME"]
        weights = {r.get("SetIdentifier"): r.get("Weight") for r in cnames if "SetIdentifier" in r}
        if rr.HEROKU_ID in weights or rr.AWS_ID in weights:
            out[name] = {"heroku": weights.get(rr.HEROKU_ID, 0), "aws": weights.get(rr.AWS_ID, 0)}
        elif cnames:
            out[name] = {"cname": cnames[0]["ResourceRecords"][0]["Value"]}
        else:
            out[name] = {"unknown": "no CNAME record for the name"}
    return out


def _health_checks(state: dict[str, Any]) -> dict[str, dict[str, str]]:
    """What Route 53's checkers say now of each name's health check on the AWS record."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cutover import healthcheck
    from cutover.adapters.route53 import Route53
    from cutover.errors import CutoverError

    out = {}
    for pair in state.get("pairs", []):
        if not pair.get("health_check_id"):
            continue
        try:
            status, why = healthcheck.status(Route53().health_check_observations(pair["health_check_id"]))
        except (ClientError, BotoCoreError, CutoverError) as exc:
            status, why = "unknown", f"cannot read it: {exc}"
        out[pair["name"]] = {"id": pair["health_check_id"], "status": status, "why": why}
    return out


def _print_summary(s: dict[str, Any]) -> None:
    from cutover.compare import side_by_side

    from .live import served_words

    line = f"{s['name']}: {s['execution']}"
    if s["cutover"] == "RUNNING":
        line += f", stage {s['stage']} of {s['stages']}, AWS {s['aws_percent']}% intended"
    elif s["cutover"]:
        line += f", cutover {s['cutover']}"
    if s["waiting_for_promotion"]:
        line += f" - waiting for a promotion (cutover promote {s['name']})"
    if s.get("watched_until"):
        line += f" - watched at 100% until {s['watched_until']}, then committed (cutover commit {s['name']} now)"
    print(line)
    for name, served in s.get("served", {}).items():
        print(f"  {name}: DNS serves {served_words(served)}")
    for name, check in s.get("health_checks", {}).items():
        print(f"  {name}: Route 53 health check {check['id']} {check['status']} ({check['why']})")
    for t in s.get("traffic", []):
        growth = f", x{t['observed_growth']:g} of x{t['expected_growth']:g}" if "observed_growth" in t else ""
        share = f", {t['observed_percent']:g}% observed" if "observed_percent" in t else ""
        print(f"  stage {t['stage']}: {t['intended_percent']}% intended{share}: "
              f"{t['requests_per_minute']:g} requests a minute at the load balancer{growth}")
    for c in s.get("compare", []):
        for n in c["names"]:
            when = " (rechecked before its promotion)" if c.get("event") == "rechecked" else ""
            print(f"  stage {c['stage']}{when} compared with Heroku: {side_by_side(n)}")
    if s["rollback_reason"]:
        print(f"  rolled back: {s['rollback_reason']}")
        before = s.get("probes_before_rollback")
        for n in (before or {}).get("names", []):
            print(f"  probes before {before['alarm']} went to ALARM: {side_by_side(n)}")
    elif s.get("reverted"):
        print(f"  reverted to Heroku by {s['reverted']['by']}: {s['reverted']['reason']}")
    elif s["error"]:
        print(f"  {s['error']}: {s['cause'] or ''}".rstrip())


def start(args: argparse.Namespace) -> int:
    """Every check ``cutover plan`` makes (the zone, the alarms, the stack's allow-lists, the
    locks, readiness from here), then the execution; ``--dry-run`` stops after the checks."""
    from .main import dry_run

    code, raw = dry_run(args, quiet=not args.dry_run)
    if code != EXIT_OK or args.dry_run:
        if code != EXIT_OK:
            print("cutover start: nothing was started", file=sys.stderr)
        return code
    return _start(outputs_of(args), args.name or f"cutover-{time.strftime('%Y%m%d-%H%M%S')}", raw, args)


def execution_status(machine: str, name: str) -> str | None:
    """The status of ``machine``'s execution named ``name`` (names are kept 90 days), or None."""
    import boto3
    from botocore.exceptions import ClientError

    try:
        return str(boto3.client("stepfunctions").describe_execution(
            executionArn=machine.replace(":stateMachine:", ":execution:", 1) + f":{name}")["status"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionDoesNotExist":
            raise
        return None


def refuse_used_name(machine: str, name: str, used: str) -> None:
    """Refuse (``used``, exit 2) an execution name of ``machine`` used in the last 90 days."""
    if execution_status(machine, name) is not None:
        raise CommandError(used, EXIT_INVALID)


def start_once(machine: str, name: str, raw: Any, used: str) -> str:
    """Start an execution named ``name``, refusing (``used``, exit 2) a name used before. Step
    Functions itself refuses a used name only when the input differs: the same name and input
    while that execution runs returns the running one as if it had just started, which would
    tell the operator a second start happened."""
    import boto3
    from botocore.exceptions import ClientError

    refuse_used_name(machine, name, used)
    try:
        started = boto3.client("stepfunctions").start_execution(stateMachineArn=machine, name=name, input=json.dumps(raw))
        return str(started["executionArn"])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ExecutionAlreadyExists":
            raise
        raise CommandError(used, EXIT_INVALID) from exc


def _start(outputs: dict[str, str], name: str, raw: Any, args: argparse.Namespace) -> int:
    arn = start_once(outputs["StateMachineArn"], name, raw,
                     f"a cutover named {name} was started on this stack before (names are kept 90 days): "
                     "give another --name (cutover list shows the names in use)")
    print(json.dumps({"name": name, "executionArn": arn}) if args.json else f"started {name} ({arn})")
    if args.wait:
        return _watch(outputs, name, args.json, timeout=args.timeout)
    return EXIT_OK


def retry(args: argparse.Namespace) -> int:
    """Start a cutover again with the plan its execution was given, under a new name."""
    import boto3
    from botocore.exceptions import ClientError

    from cutover.errors import PlanInvalid
    from cutover.plan import parse_plan

    outputs = outputs_of(args)
    sfn = boto3.client("stepfunctions")
    try:
        described = sfn.describe_execution(executionArn=_execution_arn(outputs, args.name))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("ExecutionDoesNotExist", "InvalidArn"):
            raise
        raise CommandError(f"no cutover named {args.name} on this stack (see cutover list)", EXIT_INVALID) from exc
    if described["status"] == "RUNNING":
        raise CommandError(f"{args.name} is still running: nothing to retry (cutover status {args.name})", EXIT_INVALID)
    if described["status"] == "SUCCEEDED" and (_store(outputs).state(args.name) or {}).get("status") != "REVERTED":
        raise CommandError(f"{args.name} succeeded: its names are on AWS, nothing to retry", EXIT_INVALID)
    raw = json.loads(described["input"])
    try:
        parse_plan(raw)  # checked as start checks it: the rules may have changed since
    except PlanInvalid as exc:
        return report_invalid_plan("retry", exc.problems, "nothing was started")
    name = args.as_name or _next_free_name(sfn, outputs, f"{args.name}-retry")
    return _start(outputs, name, raw, args)


def _next_free_name(sfn: Any, outputs: dict[str, str], stem: str) -> str:
    used = {e["name"] for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=outputs["StateMachineArn"])
            for e in page["executions"]}
    return next(f"{stem}-{n}" for n in range(1, len(used) + 2) if f"{stem}-{n}" not in used)


def view_of(outputs: dict[str, str], name: str, last_served: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """What the live view shows of a cutover now (``live.snapshot``). ``last_served`` carries
    what DNS served at the previous poll: Route 53's budget is the account's (5 requests a
    second for every caller), and a read it throttled keeps the last answer, said as such."""
    import boto3

    from . import live

    summary = _summary(outputs, name)
    last_served = {} if last_served is None else last_served
    for record, served in summary.get("served", {}).items():
        if served.get("busy") and record in last_served:
            summary["served"][record] = {**last_served[record], "stale": "Route 53 throttled this read; the last answer"}
        elif "unknown" not in served:
            last_served[record] = served
    store = _store(outputs)
    state = store.state(name) or {}
    names = list(state.get("plan", {}).get("alarms", []))
    alarms: list[dict[str, Any]] = []
    latest: dict[str, dict[str, Any] | None] = {}
    if names:
        answer = boto3.client("cloudwatch").describe_alarms(AlarmNames=names[:100], AlarmTypes=["MetricAlarm", "CompositeAlarm"])
        found = {a["AlarmName"]: a for a in answer.get("MetricAlarms", []) + answer.get("CompositeAlarms", [])}
        alarms = [found.get(n, {"AlarmName": n, "StateValue": "MISSING", "StateReason": "no such alarm"}) for n in names]
        latest = _latest_datapoints([a for a in alarms if a["StateValue"] != "MISSING"])
    return live.snapshot(summary, state, store.gate(name), store.ledger(name), alarms, datetime.now(UTC), latest)


def _latest_datapoints(alarms: list[dict[str, Any]]) -> dict[str, dict[str, Any] | None]:
    """Each alarm's latest datapoint (GetMetricData) up to the control plane's now; when CloudWatch
    will not say (throttled, not allowed), the view says so rather than failing."""
    from botocore.exceptions import BotoCoreError, ClientError

    from cutover.adapters.cloudwatch import CloudWatch
    from cutover.clock import now

    try:
        return CloudWatch().latest(alarms, now())
    except (ClientError, BotoCoreError) as exc:
        why = exc.response.get("Error", {}).get("Code", "error") if isinstance(exc, ClientError) else type(exc).__name__
        return {a["AlarmName"]: {"unknown": f"GetMetricData: {why}"} for a in alarms}


# Each poll reads the pair (one ListResourceRecordSets a name) and the health checks' status from
# Route 53, whose budget the whole account shares: every 5 seconds, not faster.
WATCH_POLL_SECONDS = 5.0


def _watch(outputs: dict[str, str], name: str, as_json: bool, poll: float = WATCH_POLL_SECONDS,
           timeout: int | None = None) -> int:
    """Follow a cutover until it ends: the live view (``live.py``), then its summary; with
    ``--json``, the summary alone."""
    from . import live

    deadline = None if timeout is None else time.monotonic() + timeout
    expired = lambda: deadline is not None and time.monotonic() >= deadline  # noqa: E731
    try:
        if as_json:
            while (summary := _summary(outputs, name))["execution"] == "RUNNING":
                if expired():
                    raise TimeoutError
                time.sleep(poll)
            print(json.dumps(summary))
        else:
            last_served: dict[str, dict[str, Any]] = {}
            live.follow(lambda: view_of(outputs, name, last_served), lambda view: view["execution"] != "RUNNING", live.Screen(),
                        time.sleep, poll, expired)
            summary = _summary(outputs, name)
            print()
            _print_summary(summary)
        return _exit_for(summary)
    except TimeoutError:
        raise CommandError(f"{name} still runs after --timeout {timeout}s; it goes on without you watching "
                           f"(cutover status {name})", EXIT_FAILED) from None
    except KeyboardInterrupt:
        print(f"\nstopped following {name}; the cutover goes on (cutover status {name}, cutover abort {name})",
              file=sys.stderr)
        raise


def _exit_for(summary: dict[str, Any]) -> int:
    if summary["execution"] == "SUCCEEDED" and summary["cutover"] != "REVERTED":
        return EXIT_OK
    if summary["cutover"] in ("ROLLED_BACK", "REVERTED"):
        return EXIT_ROLLED_BACK
    return EXIT_FAILED


def status(args: argparse.Namespace) -> int:
    outputs = outputs_of(args)
    name = args.name or _latest(outputs)
    if args.watch:
        return _watch(outputs, name, args.json, timeout=args.timeout)
    summary = _summary(outputs, name)
    if args.json:
        print(json.dumps(summary))
    else:
        _print_summary(summary)
    return EXIT_OK if summary["execution"] == "RUNNING" else _exit_for(summary)


def _latest(outputs: dict[str, str]) -> str:
    import boto3

    executions = boto3.client("stepfunctions").list_executions(stateMachineArn=outputs["StateMachineArn"])["executions"]
    if not executions:
        raise CommandError("no cutover has been started on this stack yet", EXIT_INVALID)
    return max(executions, key=lambda e: e["startDate"])["name"]


def list_cutovers(args: argparse.Namespace) -> int:
    import boto3

    outputs = outputs_of(args)
    pages = boto3.client("stepfunctions").get_paginator("list_executions").paginate(stateMachineArn=outputs["StateMachineArn"])
    executions = [e for page in pages for e in page["executions"]]
    rows = [{"name": e["name"], "status": e["status"], "started": e["startDate"].isoformat()} for e in executions]
    store = _store(outputs)
    for row in rows:  # an execution that succeeded may have been reverted since: the table says
        if row["status"] == "SUCCEEDED" and (store.state(row["name"]) or {}).get("status") == "REVERTED":
            row["status"] = "REVERTED"
    if args.json:
        print(json.dumps(rows))
    else:
        for row in rows:
            print(f"{row['name']:40} {row['status']:10} {row['started']}")
    return EXIT_OK


def promote(args: argparse.Namespace) -> int:
    outputs = outputs_of(args)
    result = _invoke_on(outputs, "PromoteFunctionName", {"cutover_id": args.name, "full": args.full,
                                                          "actor": _actor()}, "promoted")
    print(json.dumps(result) if args.json else f"promoted {args.name} (stage {result['stage']}{', straight to the last stage' if args.full else ''})")
    return EXIT_OK


def abort(args: argparse.Namespace) -> int:
    outputs = outputs_of(args)
    result = _invoke_on(outputs, "AbortFunctionName", {"cutover_id": args.name, "reason": args.reason,
                                                        "actor": _actor()}, "aborted")
    print(json.dumps(result) if args.json else f"aborted {args.name}: all traffic is going back to Heroku; {result['ended']}")
    return EXIT_OK


def _confirmed(args: argparse.Namespace, what: str, question: str, declined: str) -> bool:
    """``--yes``, or a yes at a terminal; away from one, refused with what the command would do."""
    if args.yes:
        return True
    if not sys.stdin.isatty():
        raise CommandError(f"{what}: add --yes", EXIT_INVALID)
    if input(f"{question} [y/N] ").strip().lower() in ("y", "yes"):
        return True
    print(declined)
    return False


def commit(args: argparse.Namespace) -> int:
    outputs = outputs_of(args)
    if not _confirmed(args, f"cutover commit ends {args.name}'s watch now and makes AWS the only answer for its names "
                            "(the way back is cutover revert, all names at once)",
                      f"commit {args.name}: end the watch, replace the weighted pair by a simple CNAME to AWS and delete "
                      "the health check?", "not committed, nothing changed"):
        return EXIT_INVALID
    result = _invoke_on(outputs, "CommitFunctionName", {"cutover_id": args.name, "actor": _actor()}, "committed")
    if args.json:
        print(json.dumps(result))
    elif result["already"]:
        print(f"{args.name} was already committed")
    else:
        print(f"committing {args.name}: its watch ended; the execution replaces each weighted pair by a simple CNAME "
              f"to AWS and deletes the health check (cutover status {args.name} shows when it is done)")
    return EXIT_OK


def revert(args: argparse.Namespace) -> int:
    outputs = outputs_of(args)
    if not _confirmed(args, f"cutover revert moves every name of {args.name} back to Heroku (a simple CNAME to "
                            "Heroku, all at once)",
                      f"revert {args.name}: point each of its names back to Heroku now, in one change?",
                      "not reverted, nothing changed"):
        return EXIT_INVALID
    result = _invoke_on(outputs, "AbortFunctionName", {"cutover_id": args.name, "reason": args.reason,
                                                        "actor": _actor(), "revert": True}, "reverted")
    if args.json:
        print(json.dumps(result))
    elif result["already"]:
        print(f"{args.name} was already reverted: its names point to Heroku")
    else:
        print(f"reverted {args.name}: " + "; ".join(result["names"]))
        print(f"  Route 53 change {result['change_id'] or '(none needed)'}; resolvers holding the AWS answer keep it up "
              "to its TTL: keep AWS serving until then")
    return EXIT_OK


def history(args: argparse.Namespace) -> int:
    entries = _store(outputs_of(args)).ledger(args.name)
    if not entries:
        raise CommandError(f"no ledger for {args.name} (see cutover list)", EXIT_INVALID)
    if args.json:
        print(json.dumps(entries, default=str))
        return EXIT_OK
    for entry in entries:
        evidence = {k: v for k, v in entry.items() if k not in ("at", "event", "actor", "seq")}
        print(f"{entry['at']}  {entry['event']:24} {entry['actor']:16} {json.dumps(evidence, default=str)}")
    return EXIT_OK


def _duration(value: str) -> int:
    from cutover.durations import parse_duration

    try:
        seconds = parse_duration(value if not value.isdigit() else int(value))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if seconds <= 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return seconds


def _timeout_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=_duration, metavar="DURATION",
                        help="stop following after this long (90s, 30m, 2h); the cutover goes on; exit 1")


def add_commands(commands: Any, common: argparse.ArgumentParser) -> None:
    c = commands.add_parser("start", parents=[common], help="start a cutover from a plan, after every check of cutover plan")
    c.add_argument("plan")
    c.add_argument("--dry-run", action="store_true", help="make the checks and show the batches; start nothing")
    c.add_argument("--insync", type=int, default=60, help=argparse.SUPPRESS)
    c.add_argument("--name", help="the execution name (default: cutover-<time>)")
    c.add_argument("--wait", action="store_true", help="follow it until it ends (exit 0 succeeded, 3 rolled back)")
    _timeout_option(c)
    c.set_defaults(func=start)
    c = commands.add_parser("retry", parents=[common], help="start a cutover that failed or was rolled back again, "
                                                            "with the plan it was given")
    c.add_argument("name", help="the cutover to start again")
    c.add_argument("--as", dest="as_name", metavar="NEW_NAME", help="the new execution's name (default: NAME-retry-N)")
    c.add_argument("--wait", action="store_true", help="follow it until it ends (exit 0 succeeded, 3 rolled back)")
    _timeout_option(c)
    c.set_defaults(func=retry)
    c = commands.add_parser("status", parents=[common], help="where a cutover is (default: the latest)")
    c.add_argument("name", nargs="?")
    c.add_argument("--watch", action="store_true", help="follow it until it ends")
    _timeout_option(c)
    c.set_defaults(func=status)
    c = commands.add_parser("list", parents=[common], help="the cutovers of this stack")
    c.set_defaults(func=list_cutovers)
    c = commands.add_parser("promote", parents=[common], help="let a stage waiting for an operator go on")
    c.add_argument("name")
    c.add_argument("--full", action="store_true", help="straight to the last stage (after the alarm check)")
    c.set_defaults(func=promote)
    c = commands.add_parser("abort", parents=[common], help="roll back to Heroku now; wins over a pending promotion")
    c.add_argument("name")
    c.add_argument("--reason", required=True, help="why: it goes into the ledger and the notification")
    c.set_defaults(func=abort)
    c = commands.add_parser("commit", parents=[common],
                            help="make a cutover that succeeded permanent: a simple CNAME to AWS, its health check deleted")
    c.add_argument("name")
    c.add_argument("--yes", action="store_true", help="do not ask (needed when not at a terminal)")
    c.set_defaults(func=commit)
    c = commands.add_parser("revert", parents=[common],
                            help="move a committed cutover's names back to Heroku, all in one change (asks first)")
    c.add_argument("name")
    c.add_argument("--reason", required=True, help="why: it goes into the ledger and the notification")
    c.add_argument("--yes", action="store_true", help="do not ask (needed when not at a terminal)")
    c.set_defaults(func=revert)
    c = commands.add_parser("history", parents=[common], help="the ledger: every decision, who made it, and its evidence")
    c.add_argument("name")
    c.set_defaults(func=history)

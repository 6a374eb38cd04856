"""``cutover campaign start|status|promote|abort|history``: many cutovers in waves, with the
habits of the single-cutover commands (``--output json|table``, ``--wait``/``--watch`` with
``--timeout``, exit 0 all on AWS, 3 some rolled back, 1 failed or aborted, 2 refused)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .failures import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_ROLLED_BACK, CommandError, read_text
from .operate import (
    _actor,
    _invoke,
    _store,
    execution_status,
    held_names,
    outputs_of,
    refuse_used_name,
    report_invalid_plan,
    stack_settings,
    start_once,
)

POLL_SECONDS = 5.0
_EXIT = {"SUCCEEDED": EXIT_OK, "STARTING": EXIT_OK, "RUNNING": EXIT_OK, "HALTED": EXIT_OK, "COMPLETED_WITH_ROLLBACKS": EXIT_ROLLED_BACK}


def exit_code(v: dict[str, Any]) -> int:
    """0 running or all on AWS; 3 some rolled back (the rule went on, or halted the campaign and
    it has ended); 1 failed or aborted."""
    if v["status"] == "HALTED" and v["ended"]:
        return EXIT_ROLLED_BACK
    return _EXIT.get(v["status"], EXIT_FAILED)


def _machine(outputs: dict[str, str]) -> str:
    machine = outputs.get("CampaignStateMachineArn")
    if not machine:
        raise CommandError("this stack has no campaign state machine (CampaignStateMachineArn): deploy the current "
                           "template", EXIT_INVALID)
    return machine


def account_problems(campaign: Any, outputs: dict[str, str]) -> list[tuple[str, str]]:
    """What each cutover's Preflight would refuse, checked now for every cutover of the file (the
    checks ``cutover start`` makes: the stack's allowed zones and names, the names in their zone,
    the alarms exist and none is in ALARM, the records can become a weighted pair) and the names
    another cutover holds. Readiness is left to each cutover's Preflight: a campaign's last wave
    may start days later, and it checks its origins then."""
    from cutover.adapters.cloudwatch import CloudWatch
    from cutover.adapters.route53 import Route53
    from cutover.dryrun import starting_pairs
    from cutover.errors import CutoverError, PlanInvalid
    from cutover.steps import check_before_start

    route53, cloudwatch, settings = Route53(), CloudWatch(), stack_settings(outputs)
    problems: list[tuple[str, str]] = []
    for cutover in campaign.cutovers:
        try:
            check_before_start(cutover.plan, route53, cloudwatch, settings)
            starting_pairs(cutover.plan, route53.records_of(cutover.plan.hosted_zone_id, cutover.plan.names))
        except PlanInvalid as exc:
            problems += [(f"{cutover.id}.{where}", why) for where, why in exc.problems]
        except CutoverError as exc:
            problems.append((cutover.id, f"{type(exc).__name__}: {exc}"))
    held = held_names(outputs, [n for c in campaign.cutovers for n in c.plan.names])
    problems += [(name, f"held by the live cutover {holder}") for name, holder in sorted(held.items())]
    problems += _used_names(campaign, outputs["StateMachineArn"])
    return problems


def _used_names(campaign: Any, cutover_machine: str) -> list[tuple[str, str]]:
    """Each cutover runs as an execution of the cutover state machine named after it: a name used
    in the last 90 days (an earlier campaign, a cutover started by hand) would fail that cutover
    when its wave comes, so it is refused now."""
    used = []
    for cutover in campaign.cutovers:
        status = execution_status(cutover_machine, cutover.id)
        if status is not None:
            used.append((f"{cutover.id}.name", f"an execution named {cutover.id} ran on this stack before ({status}; "
                                              "names are kept 90 days): give the cutover another name"))
    return used


def start(args: argparse.Namespace) -> int:
    """Validate the whole file (every problem named, nothing started), make every cutover's
    account checks (``account_problems``), then start the campaign's execution."""
    from cutover import campaign as cp
    from cutover.errors import PlanInvalid
    from cutover.plan import load_plan_text

    try:
        raw = load_plan_text(read_text(args.file, "the campaign file"))
        campaign = cp.parse(raw)
    except cp.CampaignInvalid as exc:
        return report_invalid_plan("campaign start", exc.problems, "nothing was started", what="campaign")
    except PlanInvalid as exc:
        raise CommandError(f"the campaign file {args.file}: {exc.problems[0][1]}", EXIT_INVALID) from exc
    outputs = outputs_of(args)
    machine = _machine(outputs)
    used = (f"a campaign named {campaign.id} was started on this stack before (names are kept 90 days; "
            f"cutover campaign status {campaign.id}): give the file another campaign name")
    refuse_used_name(machine, campaign.id, used)  # first: its children hold their names too
    problems = account_problems(campaign, outputs)
    if problems:
        return report_invalid_plan("campaign start", problems, "nothing was started", what="campaign")
    if args.dry_run:
        print(json.dumps(campaign.to_input()) if args.json else
              f"{campaign.describe()}: valid; every cutover's zone, names, alarms and records checked; nothing was started")
        return EXIT_OK
    arn = start_once(machine, campaign.id, raw, used)
    print(json.dumps({"campaign": campaign.id, "executionArn": arn}) if args.json
          else f"started {campaign.describe()} ({arn})")
    return _follow(outputs, campaign.id, args) if args.wait else EXIT_OK


def view(outputs: dict[str, str], name: str) -> dict[str, Any]:
    """The campaign as the store holds it: its status, each wave and each cutover's status."""
    from cutover.campaign_steps import has_ended

    store = _store(outputs)
    saved = store.campaign(name)
    if saved is None:
        return _unrecorded(outputs, name)
    ledger = store.campaign_ledger(name)
    ended = {e["cutover"]: e for e in ledger if e["event"] == "cutover_ended"}
    skipped = {e["cutover"] for e in ledger if e["event"] == "cutover_skipped"}
    waves = []
    for index, wave in enumerate(saved.get("waves", [])):
        cutovers = []
        for cutover_id in wave["cutovers"]:
            if cutover_id in ended:
                status, reason = ended[cutover_id]["status"], ended[cutover_id].get("reason")
            elif cutover_id in skipped:
                status, reason = "SKIPPED", None
            else:
                state = store.state(cutover_id)
                status = (state or {}).get("status") or "NOT_STARTED"
                reason = None
            cutovers.append({"id": cutover_id, "status": status, **({"reason": reason} if reason else {})})
        waves.append({"wave": index + 1, "name": wave["name"], "max_parallel": wave["max_parallel"], "cutovers": cutovers})
    gate = store.campaign_gate(name)
    return {"campaign": name, "status": saved.get("status"), "ended": has_ended(ledger),
            "on_rollback": saved.get("on_rollback"),
            "waiting_after_wave": gate["wave"] if gate else None, "waves": waves,
            "last_decision": {k: v for k, v in ledger[-1].items() if k != "seq"} if ledger else None}


def _unrecorded(outputs: dict[str, str], name: str) -> dict[str, Any]:
    """A campaign the store does not hold: its execution has just started and its first step has
    not recorded it yet (``start --wait`` meets this at once), or it ended before recording it."""
    status = execution_status(_machine(outputs), name)
    if status is None:
        raise CommandError(f"no campaign named {name} on this stack", EXIT_INVALID)
    if status != "RUNNING":
        raise CommandError(f"campaign {name} ended {status} before it recorded its waves: nothing of it started "
                           f"(see its execution {name} in the console)", EXIT_FAILED)
    return {"campaign": name, "status": "STARTING", "ended": False, "on_rollback": None,
            "waiting_after_wave": None, "waves": [], "last_decision": None}


def _lines(v: dict[str, Any]) -> list[str]:
    if v["status"] == "STARTING":
        return [f"campaign {v['campaign']}: STARTING (its execution runs; its waves are not recorded yet)"]
    state = f"{v['status']}, ended" if v["status"] == "HALTED" and v["ended"] else v["status"]
    out = [f"campaign {v['campaign']}: {state} (a rollback {'stops it' if v['on_rollback'] == 'stop' else 'lets the others go on'})"]
    if v["waiting_after_wave"]:
        out.append(f"  waits after wave {v['waiting_after_wave']}: cutover campaign promote {v['campaign']}")
    for wave in v["waves"]:
        counts: dict[str, int] = {}
        for c in wave["cutovers"]:
            counts[c["status"]] = counts.get(c["status"], 0) + 1
        out.append(f"  wave {wave['wave']} {wave['name']} (at most {wave['max_parallel']} at once): "
                   + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
        for c in wave["cutovers"]:
            if c["status"] not in ("SUCCEEDED", "NOT_STARTED"):
                out.append(f"    {c['id']:28} {c['status']}" + (f"  {c['reason']}" if c.get("reason") else ""))
    if v["last_decision"]:
        d = v["last_decision"]
        out.append(f"  last decision: {d.get('at')} {d.get('event')} by {d.get('actor')}")
    return out


def status(args: argparse.Namespace) -> int:
    outputs = outputs_of(args)
    if args.watch:
        return _follow(outputs, args.name, args)
    v = view(outputs, args.name)
    print(json.dumps(v, default=str) if args.json else "\n".join(_lines(v)))
    return exit_code(v)


def _follow(outputs: dict[str, str], name: str, args: argparse.Namespace) -> int:
    """Print the campaign's view whenever it changes, until it ends (or ``--timeout``)."""
    deadline = time.monotonic() + args.timeout if getattr(args, "timeout", None) else None
    shown = None
    while True:
        v = view(outputs, name)
        text = json.dumps(v, default=str) if args.json else "\n".join(_lines(v))
        if text != shown:
            print(text, flush=True)
            shown = text
        if v["ended"] or v["status"] not in ("STARTING", "RUNNING", "HALTED"):
            return exit_code(v)
        if deadline is not None and time.monotonic() >= deadline:
            print(f"cutover campaign: still {v['status']} after --timeout; it goes on", file=sys.stderr)
            return EXIT_FAILED
        time.sleep(POLL_SECONDS)


def promote(args: argparse.Namespace) -> int:
    outputs = outputs_of(args)
    result = _invoke(outputs["PromoteFunctionName"], {"campaign_id": args.name, "actor": _actor()})
    print(json.dumps(result) if args.json else f"promoted {args.name}: the wave after wave {result['after_wave']} starts")
    return EXIT_OK


def abort(args: argparse.Namespace) -> int:
    outputs = outputs_of(args)
    result = _invoke(outputs["AbortFunctionName"], {"campaign_id": args.name, "reason": args.reason, "actor": _actor()})
    print(json.dumps(result) if args.json else
          f"aborted campaign {args.name}: no further cutover starts; rolled back to Heroku: "
          f"{', '.join(result['rolled_back']) or 'none was live'}")
    return EXIT_OK


def history(args: argparse.Namespace) -> int:
    entries = _store(outputs_of(args)).campaign_ledger(args.name)
    if not entries:
        raise CommandError(f"no ledger for campaign {args.name}", EXIT_INVALID)
    if args.json:
        print(json.dumps(entries, default=str))
        return EXIT_OK
    for entry in entries:
        evidence = {k: v for k, v in entry.items() if k not in ("at", "event", "actor", "seq")}
        print(f"{entry['at']}  {entry['event']:24} {entry['actor']:16} {json.dumps(evidence, default=str)}")
    return EXIT_OK


def add_commands(commands: Any, common: argparse.ArgumentParser, timeout_option: Any) -> None:
    top = commands.add_parser("campaign", help="many cutovers in waves: start, status, promote, abort, history")
    sub = top.add_subparsers(dest="campaign_command", required=True)
    c = sub.add_parser("start", parents=[common], help="validate a campaign file, check every cutover against the account, start it")
    c.add_argument("file", help="the campaign file (YAML or JSON)")
    c.add_argument("--dry-run", action="store_true", help="make every check (the file, each cutover against the account, the locks, the names); start nothing")
    c.add_argument("--wait", action="store_true", help="follow it until it ends")
    timeout_option(c)
    c.set_defaults(func=start)
    c = sub.add_parser("status", parents=[common], help="each wave and each cutover of a campaign")
    c.add_argument("name")
    c.add_argument("--watch", action="store_true", help="follow it until it ends")
    timeout_option(c)
    c.set_defaults(func=status)
    c = sub.add_parser("promote", parents=[common], help="open the gate between two waves")
    c.add_argument("name")
    c.set_defaults(func=promote)
    c = sub.add_parser("abort", parents=[common], help="stop the campaign and roll every live cutover of it back to Heroku")
    c.add_argument("name")
    c.add_argument("--reason", required=True, help="why: it goes into the ledger and the notification")
    c.set_defaults(func=abort)
    c = sub.add_parser("history", parents=[common], help="the campaign's ledger: every decision and its evidence")
    c.add_argument("name")
    c.set_defaults(func=history)

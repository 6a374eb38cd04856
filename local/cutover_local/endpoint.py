"""The local engine as an AWS endpoint on loopback (``cutover local up``).

moto's server runs in this process beside the engine, so the AWS CLI (or any SDK) can start an
execution of the real state machine over HTTP, while the handlers run in-process on the engine.
The stack is deployed from template.yaml onto a demo zone with a Heroku CNAME and the example
alarms; its outputs go to a JSON file for ``cutover --outputs`` (or ``CUTOVER_OUTPUTS``).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
from moto.server import ThreadedMotoServer

from cutover import records as rr

from . import seed
from .clock import VirtualClock
from .engine import REGION, Engine
from .health_checks import dns_shares
from .scenarios import DEFAULT_PLAN
from .traffic import LOAD_BALANCER, TARGET_GROUP, SteadyUsers

ZONE, NAME = "shop.example.com", "www.shop.example.com"


class _AccountClock:
    """Time as the account's Route 53 budget meets it here: wall time (operators polling from
    their shells) plus the engine's virtual time (a retry interval or an SDK backoff, skipped at
    once in wall time). On AWS both are the same time; counting only wall time starved a task's
    retries, which passed in milliseconds, and rolled a cutover back for throttling."""

    def __init__(self, virtual: VirtualClock) -> None:
        self._virtual = virtual

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self._virtual.elapsed)


class PortInUse(OSError):
    """The port asked for is taken: said before the engine starts, never a hang."""


def _check_free(port: int) -> None:
    """Bind the port as the server will (address reuse on, as werkzeug's server has it). moto's
    threaded server, given a busy port, ends its thread and waits for it forever."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise PortInUse(f"port {port} on 127.0.0.1 is in use ({exc.strerror or exc})") from None


class _Server(ThreadedMotoServer):
    """moto's threaded server, failing instead of waiting forever when its thread cannot bind
    (a port taken between the check above and the bind)."""

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server_entry, daemon=True)
        self._thread.start()
        while not self._server_ready_event.wait(0.05):
            if not self._thread.is_alive():
                raise PortInUse(f"port {self._port} on 127.0.0.1 could not be bound")


def up(port: int, workdir: Path, say: Callable[[str], None], stop: threading.Event | None = None) -> None:
    """Serve until ``stop`` is set (or SIGINT/SIGTERM). Writes outputs.json, plan.json and gated.json
    (the plan with a manual gate) to ``workdir``."""
    stop = stop or threading.Event()
    _check_free(port)
    workdir.mkdir(parents=True, exist_ok=True)
    with Engine() as engine:
        if engine.route53.budget is not None:
            # here virtual time moves only in waits (no rehearsal moves it): the account's Route 53
            # budget refills by wall time too, as operators polling it would meet it
            engine.route53.budget.clock = _AccountClock(engine.clock)
        zone_id = seed.zone_with_heroku_record(ZONE, NAME, DEFAULT_PLAN["heroku"]["target"])
        seed.example_alarms(DEFAULT_PLAN["alarms"], LOAD_BALANCER, TARGET_GROUP)
        for alarm in DEFAULT_PLAN["alarms"]:  # no errors are simulated here: the alarms start OK
            boto3.client("cloudwatch").set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="local endpoint")
        stack = engine.deploy({"HostedZoneIds": zone_id, "RecordNames": NAME})
        # steady users where DNS sends them, so that a cutover sees its traffic arrive
        SteadyUsers(engine.clock, lambda: dns_shares(engine.route53.served(zone_id, NAME), engine.health_checks.healthy,
                                                     rr.HEROKU_ID, rr.AWS_ID)).start()
        server = _Server(ip_address="127.0.0.1", port=port, verbose=False)
        server.start()
        try:
            host, bound = server.get_host_and_port()
            outputs_path, plan_path, gated_path = workdir / "outputs.json", workdir / "plan.json", workdir / "gated.json"
            # and where its origins listen, for the readiness checks of ``cutover plan``
            origins = {"addresses": engine.origins.addresses(), "cafile": engine.origins.cafile}
            outputs_path.write_text(json.dumps({**stack.outputs, "LocalOrigins": origins}, indent=2))
            plan = dict(DEFAULT_PLAN, hosted_zone_id=zone_id)
            plan_path.write_text(json.dumps(plan, indent=2))
            gated_path.write_text(json.dumps(gated(plan), indent=2))
            _announce(say, f"http://{host}:{bound}", outputs_path, (plan_path, gated_path), stack.outputs, zone_id)
            _until(stop, engine)
        finally:
            server.stop()


def gated(plan: dict[str, Any]) -> dict[str, Any]:
    """The same plan with a manual promotion before its second stage: a cutover that waits for
    ``cutover promote`` (or ``abort``) at 10%."""
    stages = [dict(stage) for stage in plan["stages"]]
    stages[1]["promote"] = "manual"
    return dict(plan, stages=stages)


def _announce(say: Callable[[str], None], url: str, outputs: Path, plans: tuple[Path, Path], values: dict[str, Any],
              zone_id: str) -> None:
    plan, gated_plan = plans
    say(f"export AWS_ENDPOINT_URL={url} AWS_DEFAULT_REGION={REGION} AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local")
    say(f"export CUTOVER_OUTPUTS={outputs} STATE_MACHINE_ARN={values['StateMachineArn']}")
    say(f"# zone {ZONE} ({zone_id}): {NAME} is a CNAME to Heroku; a plan for it: {plan}")
    say(f"# the same plan with a manual promotion before stage 2: {gated_plan}")
    say(f"# aws stepfunctions start-execution --state-machine-arn $STATE_MACHINE_ARN --name demo-1 --input file://{plan}")
    say("ready")


def _until(stop: threading.Event, engine: Engine) -> None:
    previous = {}
    main = threading.current_thread() is threading.main_thread()
    if main:
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        while not stop.wait(0.2):
            engine.announce_ended()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if main:
        # the process is asked to end: whatever the shutdown waits for (an execution's thread, a
        # request in flight), it must not outlive the request by more than SHUTDOWN_SECONDS
        watchdog = threading.Timer(SHUTDOWN_SECONDS, _exit_now)
        watchdog.daemon = True
        watchdog.start()


SHUTDOWN_SECONDS = 15.0


def _exit_now() -> None:
    print(f"cutover local up: the shutdown did not finish within {SHUTDOWN_SECONDS:g}s; exiting now", file=sys.stderr,
          flush=True)
    os._exit(1)

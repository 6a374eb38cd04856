"""`cutover local up` serves the stack on loopback: the real AWS CLI starts a cutover, the
`cutover` CLI steers it and reads its ledger. Everything here runs as separate processes."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import ROOT

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e

AWS = ROOT / ".venv-awscli" / "bin" / "aws"
CUTOVER = Path(sys.executable).parent / "cutover"


@pytest.fixture
def endpoint(tmp_path):
    if not AWS.exists():
        pytest.fail(f"the AWS CLI is not installed at {AWS}: run `make test`, which installs it")
    server = subprocess.Popen([str(CUTOVER), "local", "up", "--port", "0", "--dir", str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    deadline = time.monotonic() + 60
    try:
        for line in server.stdout:
            if line.startswith("export "):
                env.update(dict(pair.split("=", 1) for pair in shlex.split(line)[1:]))
            if line.strip() == "ready" or time.monotonic() > deadline:
                break
        assert "AWS_ENDPOINT_URL" in env and env["AWS_ENDPOINT_URL"].startswith("http://127.0.0.1:"), "local up did not start"
        yield env, tmp_path
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=20)


def run(env, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in command], env=env, capture_output=True, text=True, timeout=60, check=False)


def status(env, name: str) -> dict:
    done = run(env, CUTOVER, "status", name, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def until(env, name: str, check, timeout: float = 40.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = status(env, name)
        if check(current):
            return current
        time.sleep(0.3)
    raise AssertionError(f"{name} never reached the expected state: {current}")


def test_the_aws_cli_starts_a_cutover_that_the_cutover_cli_steers(endpoint):
    env, workdir = endpoint
    outputs = json.loads((workdir / "outputs.json").read_text())
    gated = json.loads((workdir / "gated.json").read_text())  # local up's plan, with a manual gate before stage 2
    assert gated["stages"][1]["promote"] == "manual"
    assert dict(gated, stages=None) == dict(json.loads((workdir / "plan.json").read_text()), stages=None)
    # the dry run reaches the endpoint's own origins for its readiness checks (real TLS on loopback)
    planned = run(env, CUTOVER, "plan", str(workdir / "gated.json"), "--json")
    assert planned.returncode == 0, planned.stderr
    assert [(c["origin"], c["status"]) for c in json.loads(planned.stdout)["readiness"]] == [
        ("aws", 200), ("heroku", 200), ("aws-health-check", 200)]

    started = run(env, AWS, "stepfunctions", "start-execution", "--state-machine-arn", outputs["StateMachineArn"],
                  "--name", "demo-1", "--input", f"file://{workdir / 'gated.json'}")
    assert started.returncode == 0, started.stderr
    assert json.loads(started.stdout)["executionArn"].endswith(":demo-1")

    held = until(env, "demo-1", lambda s: s["waiting_for_promotion"])
    assert held["aws_percent"] == 10 and held["execution"] == "RUNNING"
    promoted = run(env | {"CUTOVER_ACTOR": "carol"}, CUTOVER, "promote", "demo-1")
    assert promoted.returncode == 0, promoted.stderr
    watched = until(env, "demo-1", lambda s: s["watched_until"] is not None)  # at 100%, the plan's 30-minute watch
    assert watched["execution"] == "RUNNING" and watched["aws_percent"] == 100
    committing = run(env | {"CUTOVER_ACTOR": "carol"}, CUTOVER, "commit", "demo-1", "--yes")
    assert committing.returncode == 0, committing.stderr
    done = until(env, "demo-1", lambda s: s["execution"] != "RUNNING")
    assert done["execution"] == "SUCCEEDED" and done["weights"]["www.shop.example.com"] == {"heroku": 0, "aws": 100}

    history = run(env, CUTOVER, "history", "demo-1", "--json")
    entries = json.loads(history.stdout)
    assert [e["event"] for e in entries][0] == "started" and entries[-1]["event"] == "succeeded"
    assert next(e for e in entries if e["event"] == "promotion_approved")["actor"].startswith("carol (arn:aws:")

    listed = run(env, AWS, "stepfunctions", "list-executions", "--state-machine-arn", outputs["StateMachineArn"])
    assert [e["name"] for e in json.loads(listed.stdout)["executions"]] == ["demo-1"]


def test_once_asked_to_stop_the_endpoint_cannot_outlive_the_request(monkeypatch):
    """Whatever its shutdown waits for, ``cutover local up`` exits within SHUTDOWN_SECONDS of a
    SIGTERM or Ctrl-C: a watchdog is armed as soon as it is asked to stop."""
    import threading

    from cutover_local import endpoint

    fired = threading.Event()
    monkeypatch.setattr(endpoint, "SHUTDOWN_SECONDS", 0.05)
    monkeypatch.setattr(endpoint, "_exit_now", fired.set)
    stop = threading.Event()
    stop.set()  # as the signal handler does
    endpoint._until(stop, engine=None)  # the main thread, as in the CLI
    assert fired.wait(5), "no watchdog was armed"


def test_the_route53_budget_refills_over_virtual_time_as_well_as_wall_time():
    """On the endpoint a retry interval passes at once in wall time: the account's budget must
    count it, or a task's retries all meet an empty bucket and the cutover rolls back."""
    from cutover_local.clock import VirtualClock
    from cutover_local.endpoint import _AccountClock
    from cutover_local.harsh import TokenBucket

    clock = VirtualClock()
    bucket = TokenBucket(_AccountClock(clock), rate=1.0, burst=1.0)
    assert bucket.take() and not bucket.take()  # the burst spent, within a wall second
    clock.advance(2)  # a Retry interval of two seconds, on the engine's clock
    assert bucket.take()

"""Every command, run as a user runs it (a process of its own, their environment), under broken
environments and broken inputs: a message of a line or two, the documented exit code, never a
traceback and never a hang."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from cutover_cli.failures import EXIT_INVALID, EXIT_UNREACHABLE

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
PLAN = str(ROOT / "examples" / "plan.yaml")
CAMPAIGN = str(ROOT / "examples" / "campaign.yaml")
SECONDS = 60  # far more than any of these takes; a hang fails the test instead of the suite


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


def _run(argv: list[str], env: dict[str, str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "cutover_cli.main", *argv], env=env, cwd=cwd, input=stdin,
                          capture_output=True, text=True, timeout=SECONDS)


def _plain_env(tmp: Path, **extra: str) -> dict[str, str]:
    """The user's shell with nothing of AWS in it but ``extra``; HOME has no ~/.aws."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CUTOVER_"))}
    env.update(HOME=str(tmp), AWS_CONFIG_FILE=str(tmp / "no-config"), AWS_SHARED_CREDENTIALS_FILE=str(tmp / "no-creds"))
    env.update(extra)
    return env


def _assert_said_not_raised(result: subprocess.CompletedProcess[str], argv: list[str], code: int | None = None) -> None:
    what = f"cutover {' '.join(argv)}"
    assert "Traceback" not in result.stderr + result.stdout, f"{what} printed a traceback:\n{result.stderr}"
    assert result.returncode != 0, f"{what} exited 0: {result.stdout}"
    if code is not None:
        assert result.returncode == code, f"{what} exited {result.returncode}, not {code}: {result.stderr}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert 1 <= len(lines) <= 3, f"{what} said {len(lines)} lines:\n{result.stderr}"
    assert lines[0].startswith(f"cutover {argv[0]}: "), f"{what} does not name itself: {lines[0]}"


@pytest.fixture
def outputs(tmp_path):
    """Outputs of a stack that looks deployed, so that each command gets as far as its first call."""
    path = tmp_path / "outputs.json"
    arn = "arn:aws:states:us-east-1:123456789012:stateMachine:cutover-prod-cutover"
    path.write_text(json.dumps({"StateMachineArn": arn, "TableName": "cutover-prod-table",
                                "CampaignStateMachineArn": arn.replace("-cutover", "-campaign"),
                                "PromoteFunctionName": "p", "AbortFunctionName": "a", "CommitFunctionName": "c"}))
    return str(path)


def _operator_commands(outputs: str) -> list[list[str]]:
    with_outputs = ["--outputs", outputs]
    return [
        ["plan", PLAN],
        ["start", PLAN],  # the stack found through CloudFormation
        ["status"],
        ["start", PLAN, "--name", "cutover-1", *with_outputs],
        ["status", "cutover-1", *with_outputs],
        ["list", *with_outputs],
        ["promote", "cutover-1", *with_outputs],
        ["abort", "cutover-1", "--reason", "tested", *with_outputs],
        ["commit", "cutover-1", "--yes", *with_outputs],
        ["revert", "cutover-1", "--reason", "tested", "--yes", *with_outputs],
        ["history", "cutover-1", *with_outputs],
        ["campaign", "start", CAMPAIGN, *with_outputs],
        ["campaign", "status", "campaign-1", *with_outputs],
        ["campaign", "promote", "campaign-1", *with_outputs],
        ["campaign", "abort", "campaign-1", "--reason", "tested", *with_outputs],
        ["campaign", "history", "campaign-1", *with_outputs],
    ]


def _broken_environments(tmp: Path) -> dict[str, dict[str, str]]:
    binary = tmp / "binary-config"
    binary.write_bytes(bytes(range(256)) * 4)
    creds = {"AWS_ACCESS_KEY_ID": "AKIAEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret"}
    return {
        "no credentials": _plain_env(tmp, AWS_DEFAULT_REGION="us-east-1"),
        "no region": _plain_env(tmp, **creds),
        "the endpoint is gone": _plain_env(tmp, AWS_DEFAULT_REGION="us-east-1",
                                           AWS_ENDPOINT_URL=f"http://127.0.0.1:{_closed_port()}", **creds),
        "an unknown profile": _plain_env(tmp, AWS_DEFAULT_REGION="us-east-1", AWS_PROFILE="nobody"),
        "a config file that is not text": _plain_env(tmp, AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=str(binary)),
    }


def test_every_operator_command_in_every_broken_environment_says_it_cannot_reach_aws(tmp_path, outputs):
    cases = [(name, env, argv) for name, env in _broken_environments(tmp_path).items()
             for argv in _operator_commands(outputs)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda case: _run(case[2], case[1], tmp_path), cases))
    for (name, _env, argv), result in zip(cases, results, strict=True):
        try:
            _assert_said_not_raised(result, argv, EXIT_UNREACHABLE)
        except AssertionError as exc:
            raise AssertionError(f"with {name}: {exc}") from None
    by_env = {name: result.stderr for (name, _e, argv), result in zip(cases, results, strict=True) if argv == ["status"]}
    assert "credentials" in by_env["no credentials"] and "--region" in by_env["no region"]
    assert "cutover local up is running" in by_env["the endpoint is gone"] and "nobody" in by_env["an unknown profile"]


def test_files_that_cannot_be_read_are_refused_before_anything_is_called(tmp_path, outputs):
    binary, empty, folder, not_yaml = tmp_path / "plan.bin", tmp_path / "empty.yaml", tmp_path / "folder", tmp_path / "bad.yaml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    empty.write_text("  \n")
    folder.mkdir()
    not_yaml.write_text("stages: [unclosed\n")
    no_outputs = {"StateMachineArn": "arn"}
    partial = tmp_path / "partial.json"
    partial.write_text(json.dumps(no_outputs))
    # credentials and a region that would work: only the input is wrong
    env = _plain_env(tmp_path, AWS_DEFAULT_REGION="us-east-1", AWS_ENDPOINT_URL=f"http://127.0.0.1:{_closed_port()}",
                     AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
    cases = {
        ("plan", str(tmp_path / "missing.yaml")): "does not exist",
        ("plan", str(folder)): "is a directory",
        ("start", str(binary), "--outputs", outputs): "is not text",
        ("start", str(empty), "--outputs", outputs): "is empty",
        ("start", str(not_yaml), "--outputs", outputs): "neither JSON nor YAML",
        ("campaign", "start", str(binary), "--outputs", outputs): "is not text",
        ("campaign", "start", str(empty), "--outputs", outputs): "is empty",
        ("status", "x", "--outputs", str(binary)): "is not text",
        ("status", "x", "--outputs", str(empty)): "is empty",
        ("status", "x", "--outputs", str(partial)): "lacks TableName",
        ("history", "x", "--outputs", str(not_yaml)): "is not JSON",
        ("rehearse", "--plan", str(binary)): "is not text",
        ("rehearse", "--plan", str(empty)): "is empty",  # never the default plan
        ("rehearse", "--scenario", str(binary)): "not a text file",
        ("rehearse", "--report", str(tmp_path / "no-such-folder" / "r.html")): "does not exist",
        ("rehearse", "--report", str(folder)): "ending in .html",
        ("local", "up", "--dir", str(binary)): "is a file",
    }
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda argv: _run(list(argv), env, tmp_path), cases))
    for (argv, words), result in zip(cases.items(), results, strict=True):
        _assert_said_not_raised(result, list(argv), EXIT_INVALID)
        assert words in result.stderr, f"cutover {' '.join(argv)}: {result.stderr}"


def test_a_busy_port_is_said_at_once_and_nothing_waits_for_it(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["local", "up", "--port", str(port), "--dir", str(tmp_path / "local")]
        result = _run(argv, _plain_env(tmp_path), tmp_path)
    _assert_said_not_raised(result, argv, EXIT_INVALID)
    assert f"port {port}" in result.stderr and "--port" in result.stderr
    assert not (tmp_path / "local" / "outputs.json").exists(), "nothing was set up"


def test_debug_shows_the_traceback_for_those_who_ask(tmp_path):
    env = _plain_env(tmp_path, AWS_DEFAULT_REGION="us-east-1")
    quiet, loud = _run(["status"], env, tmp_path), _run(["status", "--debug"], env, tmp_path)
    assert quiet.returncode == EXIT_UNREACHABLE and "Traceback" not in quiet.stderr
    assert loud.returncode != 0 and "Traceback" in loud.stderr and "NoCredentialsError" in loud.stderr

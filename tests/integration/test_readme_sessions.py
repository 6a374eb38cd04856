"""Every session the README shows (a ```text block whose first line is a ``$ `` command) runs
as written, in a folder that looks like a clone, and prints what the README says it prints.

How a block is read, as a person would read it:
- ``$ COMMAND`` runs in bash; the lines after it, up to the next command, are what it prints
  (stdout and stderr together, as a terminal shows them);
- a line ``...`` (at any indent) stands for any number of lines; a line ending in ``...`` for any line that
  begins with what is before it;
- a ``# ...`` line after a blank line is the README talking to the reader, not output;
- ``echo $?`` prints the exit code of the command before it;
- ``cutover local up`` runs in the background until the block ends; its ``export`` lines are
  exported for the commands after it. A block that talks to a stack (``cutover ...`` or
  ``aws ...``) without starting one gets a fresh ``local up``, as the README says;
- a read-only command against a stack (``status``, ``list``, ``history``) is run again, for up
  to a minute, until it prints what the README shows: a person waits for the cutover to get
  there, and so does this test.

What differs from run to run is masked on both sides before lines are compared: timestamps,
the ids Route 53 makes up for a zone, the port, a wall-clock duration."""

from __future__ import annotations

import os
import re
import shlex
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support import ROOT

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e

README = ROOT / "README.md"
READ_ONLY = ("status", "list", "history")
RETRY_SECONDS = 60.0

MASKS = (
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)?"), "<time>"),
    (re.compile(r"\b(?=[A-Z0-9]*[A-Z])(?=[A-Z0-9]*\d)[A-Z0-9]{14,32}\b"), "<zone-id>"),  # Route 53's zone ids
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<port>"),
    (re.compile(r'"startDate": [\d.]+'), '"startDate": <time>'),
    (re.compile(r"\([\d.]+s wall\)"), "(<n>s wall)"),
    (re.compile(r"Makefile:\d+"), "Makefile:<n>"),
)
# A campaign's cutovers run side by side: which of those ending in the same seconds is said
# first, those seconds and how many calls were throttled vary from run to run (the README says
# so); its outcome, each cutover's and the call counts do not.
CAMPAIGN_MASKS = (
    (re.compile(r"^\[\+\d\d:\d\d:\d\d\]"), "[+<t>]"),
    (re.compile(r"mean [\d.]+/s"), "mean <n>/s"),
    (re.compile(r"\d+ throttled"), "<n> throttled"),
)


@dataclass
class Command:
    line: str
    expected: list[str] = field(default_factory=list)


@dataclass
class Session:
    at: int  # the README's line number of the block's first line
    commands: list[Command]

    @property
    def id(self) -> str:
        return f"line{self.at}:{self.commands[0].line[:40]}"


def sessions(text: str) -> list[Session]:
    found, lines = [], text.splitlines()
    index = 0
    while index < len(lines):
        if lines[index] == "```text" and index + 1 < len(lines) and lines[index + 1].startswith("$ "):
            start, index = index + 2, index + 1
            commands: list[Command] = []
            previous_blank = False
            while lines[index] != "```":
                line = lines[index]
                if line.startswith("$ "):
                    commands.append(Command(line[2:]))
                elif not (previous_blank and line.startswith("# ")):
                    commands[-1].expected.append(line)
                previous_blank = line == ""
                index += 1
            for command in commands:
                while command.expected and command.expected[-1] == "":
                    command.expected.pop()
            found.append(Session(start, commands))
        index += 1
    return found


def masked(line: str) -> str:
    for pattern, replacement in MASKS:
        line = pattern.sub(replacement, line)
    return line.rstrip()


def matches(expected: list[str], actual: list[str], campaign: bool = False) -> str | None:
    """None when ``actual`` reads as ``expected`` does (``...`` lines skip, a line ending in
    ``...`` is a prefix); otherwise the first expected line that could not be found."""
    want = [masked(line) for line in expected]
    have = [masked(line) for line in actual]
    if campaign:
        want, have = _side_by_side(want), _side_by_side(have)
    return _match(want, have)


def _side_by_side(lines: list[str]) -> list[str]:
    """A campaign's timeline with its times masked and each run of lines that differ only in
    which cutover they name sorted (the order in which cutovers ending together are said)."""
    out: list[str] = []
    for line in lines:
        for pattern, replacement in CAMPAIGN_MASKS:
            line = pattern.sub(replacement, line)
        out.append(line)
    index = 0
    while index < len(out):
        shape = re.sub(r"app\d+", "app", out[index])
        end = index
        while end < len(out) and re.sub(r"app\d+", "app", out[end]) == shape:
            end += 1
        out[index:end] = sorted(out[index:end])
        index = max(end, index + 1)
    return out


def _one(want: str, have: str) -> bool:
    if want.endswith("...") and want.strip() != "...":
        return have.startswith(want[:-3].rstrip())
    return want == have


def _match(want: list[str], have: list[str]) -> str | None:
    if not want:
        return None if not have else f"(nothing more expected, but it printed {have[0]!r})"
    if want[0].strip() == "...":  # at any indent, as the README's samples have it
        rest = want[1:]
        if not rest:
            return None
        missing = None
        for skip in range(len(have) + 1):
            if skip < len(have) and not _one(rest[0], have[skip]):
                continue
            missing = _match(rest, have[skip:])
            if missing is None:
                return None
        return missing or rest[0]
    if not have or not _one(want[0], have[0]):
        return want[0]
    return _match(want[1:], have[1:])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _clone(tmp_path: Path) -> Path:
    """A folder that looks like the clone (every top-level entry linked, the environments too),
    so that what the session writes (``.cutover-local/``) lands outside the checkout."""
    folder = tmp_path / "clone"
    folder.mkdir()
    for entry in ROOT.iterdir():
        if entry.name not in (".git", ".cutover-local"):
            (folder / entry.name).symlink_to(entry)
    return folder


class Shell:
    """One terminal of the session: its folder, its exported variables, its background ``local up``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        # a person's shell: none of the test run's own settings (its AWS_* and POWERTOOLS_*, and
        # the outer make's, which make a nested make say "Entering directory")
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("AWS_", "POWERTOOLS_")) and k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
        self.env["PATH"] = os.pathsep.join([str(folder / ".venv" / "bin"), str(folder / ".venv-awscli" / "bin"),
                                            self.env.get("PATH", "")])
        self.env.pop("NO_COLOR", None)
        self.server: subprocess.Popen[str] | None = None
        self.last_code = 0

    def local_up(self, command: str) -> list[str]:
        command = re.sub(r"--port \d+", f"--port {_free_port()}", command)
        self.server = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.folder, env=self.env, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        printed, deadline = [], time.monotonic() + 90
        assert self.server.stdout is not None
        for line in self.server.stdout:
            printed.append(line.rstrip("\n"))
            if line.startswith("export "):
                self.env.update(dict(pair.split("=", 1) for pair in shlex.split(line)[1:]))
            if line.strip() == "ready" or time.monotonic() > deadline:
                break
        assert printed and printed[-1] == "ready", f"local up did not start: {printed}"
        return printed

    def run(self, command: str) -> list[str]:
        if command == "echo $?":
            return [str(self.last_code)]
        done = subprocess.run(["bash", "-c", command], cwd=self.folder, env=self.env, text=True, timeout=300,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
        self.last_code = done.returncode
        return done.stdout.splitlines()

    def close(self) -> None:
        if self.server is not None and self.server.poll() is None:
            os.killpg(self.server.pid, signal.SIGTERM)
            self.server.wait(timeout=30)


def _talks_to_a_stack(command: str) -> bool:
    return command.split()[0] in ("cutover", "aws")


def _read_only(command: str) -> bool:
    words = command.split()
    return words[0] == "cutover" and len(words) > 1 and words[1] in READ_ONLY


ALL = sessions(README.read_text())


def test_the_readme_has_the_sessions_this_test_runs():
    """The parser finds the sessions (a change to the README's fences cannot quietly skip them)."""
    first_words = [s.commands[0].line for s in ALL]
    assert ".venv/bin/cutover scenarios" in first_words
    assert any(line.startswith(".venv/bin/cutover local up") for line in first_words)
    assert any(line.startswith("aws stepfunctions start-execution") for line in first_words)
    assert any("--campaign fleet-10" in line for line in first_words)
    local = next(s for s in ALL if s.commands[0].line.startswith(".venv/bin/cutover local up"))
    assert [c.line.split()[:2] for c in local.commands][1:3] == [["cutover", "plan"], ["cutover", "start"]]
    assert not any(line.startswith("# in another terminal") for c in local.commands for line in c.expected)


def test_the_comparison_reads_dots_as_a_person_would():
    assert matches(["a", "...", "d"], ["a", "b", "c", "d"]) is None
    assert matches(["a", "...", "d"], ["a", "b", "c"]) == "d"
    assert matches(["a", "    ...", "d"], ["a", "  b", "c", "d"]) is None
    assert matches(["a", "b"], ["a", "c"]) == "b"
    assert matches(["a", "b"], ["a", "b", "c"]) is not None
    assert matches(['x {"plan": ...'], ['x {"plan": {"id": 1}}']) is None
    assert matches(["zone (H02MDH3UV4UAK5OSPRM3A1) at 2026-12-01T14:00:00.000Z"],
                   ["zone (ND0SAB3ZHJH6PCMOGS3VBU) at 2026-12-03T07:00:01.123Z"]) is None
    assert matches(["stage C000000000002"], ["stage C000000000003"]) is not None  # change ids are not masked
    said = ["[+01:38:00] app002: SUCCEEDED", "[+01:38:03] app001: SUCCEEDED", "[+02:46:29] app007: ROLLED_BACK"]
    assert matches(said, ["[+01:38:01] app001: SUCCEEDED", "[+01:38:02] app002: SUCCEEDED",
                          "[+02:46:27] app007: ROLLED_BACK"], campaign=True) is None
    assert matches(said, ["[+01:38:01] app001: SUCCEEDED", "[+01:38:02] app007: SUCCEEDED",
                          "[+02:46:27] app002: ROLLED_BACK"], campaign=True) is not None


@pytest.mark.parametrize("session", ALL, ids=[s.id for s in ALL])
def test_a_readme_session_runs_as_written(session, tmp_path):
    shell = Shell(_clone(tmp_path))
    try:
        if any(_talks_to_a_stack(c.line) for c in session.commands) and "local up" not in session.commands[0].line:
            shell.local_up(".venv/bin/cutover local up --port 4566")
        for command in session.commands:
            campaign = "--campaign" in command.line
            if " local up" in command.line:
                printed = shell.local_up(command.line)
            else:
                deadline = time.monotonic() + (RETRY_SECONDS if _read_only(command.line) else 0)
                while True:
                    printed = shell.run(command.line)
                    if matches(command.expected, printed, campaign) is None or time.monotonic() >= deadline:
                        break
                    time.sleep(0.5)
            missing = matches(command.expected, printed, campaign)
            assert missing is None, (f"README line {session.at}: `$ {command.line}` did not print {missing!r}; "
                                     f"it printed:\n" + "\n".join(printed))
    finally:
        shell.close()

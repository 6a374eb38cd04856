"""Habits of command-line tools the CLI keeps: shell completion, --version."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.integration.test_cli_failures import _plain_env

# Whole runs as a user makes them: ``make test-e2e`` (CI runs it after ``make test``).
pytestmark = pytest.mark.e2e


def _complete(line: str, tmp_path) -> list[str]:
    """What the shell's completion (register-python-argcomplete cutover) offers for ``line``."""
    out = tmp_path / "completion"
    env = _plain_env(tmp_path, COMP_LINE=line, COMP_POINT=str(len(line)), _ARGCOMPLETE="1",
                     _ARGCOMPLETE_STDOUT_FILENAME=str(out))
    subprocess.run([sys.executable, "-m", "cutover_cli.main"], env=env, cwd=tmp_path, timeout=60, check=False,
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return sorted(out.read_text().split("\x0b"))


def test_the_shell_completes_commands_and_options(tmp_path):
    assert _complete("cutover sta", tmp_path) == ["start", "status"]
    assert _complete("cutover status --ou", tmp_path) == ["--output", "--outputs"]
    assert "--scenario" in _complete("cutover rehearse --", tmp_path)


def test_version_names_the_installed_version(tmp_path):
    from importlib.metadata import version as installed

    answer = subprocess.run([sys.executable, "-m", "cutover_cli.main", "--version"], env=_plain_env(tmp_path),
                            capture_output=True, text=True, timeout=60)
    assert (answer.returncode, answer.stdout.strip()) == (0, f"cutover {installed('cutover')}")

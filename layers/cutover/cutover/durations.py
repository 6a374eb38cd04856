"""Durations in a plan: whole seconds as an int, or a string such as ``90s``, ``10m``, ``1h``."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600}
_PATTERN = re.compile(r"^\s*(\d+)\s*([smh]?)\s*$")


def parse_duration(value: object) -> int:
    """Return ``value`` in whole seconds, or raise ``ValueError`` saying what is accepted."""
    if isinstance(value, bool):
        raise ValueError(f"expected seconds or a string like '90s', '10m', '1h', got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must not be negative, got {value}")
        return value
    if isinstance(value, str):
        match = _PATTERN.match(value)
        if match:
            return int(match.group(1)) * _UNITS[match.group(2) or "s"]
    raise ValueError(f"expected seconds or a string like '90s', '10m', '1h', got {value!r}")


def format_duration(seconds: int) -> str:
    """Short human form: ``600`` -> ``10m``, ``5400`` -> ``1h30m``, ``45`` -> ``45s``."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((hours, "h"), (minutes, "m"), (secs, "s")) if n]
    return "".join(parts) or "0s"

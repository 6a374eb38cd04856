"""A plan's detection sections: read as a mapping with known fields, and switched off only with a
reason (every layer of detection is on by default, and a plan that turns one off says why; the
reason is recorded in the ledger with the cutover)."""

from __future__ import annotations

from typing import Any

MIN_SKIP_REASON = 10


def skip_reason(raw: Any, where: str, example: str) -> tuple[str | None, tuple[str, str] | None]:
    """A plan section's ``skip``: the operator's reason for switching a check off (at least
    ``MIN_SKIP_REASON`` characters), or the problem with it."""
    if raw is None:
        return None, None
    if not isinstance(raw, str) or len(raw.strip()) < MIN_SKIP_REASON:
        return None, (f"{where}.skip", f"switching it off needs a reason of at least {MIN_SKIP_REASON} characters, "
                                       f"e.g. {example!r}, got {raw!r}")
    return raw.strip(), None


def section(raw: Any, where: str, allowed: set[str]) -> tuple[dict[str, Any] | None, list[tuple[str, str]]]:
    """A plan section: the mapping (None when absent or not a mapping) and the problems found so
    far (not a mapping; each unknown field, naming the allowed ones)."""
    if raw is None:
        return None, []
    if not isinstance(raw, dict):
        return None, [(where, f"must be a mapping, got {type(raw).__name__}")]
    known = ", ".join(sorted(allowed))
    return raw, [(f"{where}.{k}", f"unknown field; allowed: {known}") for k in raw if k not in allowed]

"""The control plane's one source of "now".

Every timestamp the domain records or compares comes from ``now()``. The local engine
replaces the source with its virtual clock (``set_source``), so an hour-long rehearsal runs in
seconds with consistent times in the ledger, the alarms and the bake windows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731


def now() -> datetime:
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Use ``source`` for ``now()``; None restores the system clock."""
    global _source
    _source = source or (lambda: datetime.now(UTC))


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))

"""The control plane's one source of "now" (and of a wait inside a function).

Every timestamp the domain records or compares comes from ``now()``. The local engine
replaces the source with its virtual clock (``set_source``), so an hour-long rehearsal runs in
seconds with consistent times in the ledger, the alarms and the bake windows.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

_source: Callable[[], datetime] = lambda: datetime.now(UTC)  # noqa: E731
_sleeper: Callable[[float], None] = time.sleep


def now() -> datetime:
    return _source()


def set_source(source: Callable[[], datetime] | None) -> None:
    """Use ``source`` for ``now()``; None restores the system clock."""
    global _source
    _source = source or (lambda: datetime.now(UTC))


def sleep(seconds: float) -> None:
    """Wait inside a function (the probe between its rounds). The local engine replaces it
    (``set_sleeper``): the wait is virtual, and other functions run meanwhile, as in Lambda."""
    _sleeper(seconds)


def set_sleeper(sleeper: Callable[[float], None] | None) -> None:
    """Use ``sleeper`` for ``sleep()``; None restores ``time.sleep``."""
    global _sleeper
    _sleeper = sleeper or time.sleep


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))

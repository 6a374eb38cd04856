"""The engine's virtual clock: Wait states, retry intervals and Route 53 propagation run on it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


class VirtualClock:
    """Time that moves only when something waits. ``on_advance`` listeners see every step."""

    def __init__(self, start: datetime = START) -> None:
        self.start = start
        self._now = start
        self._lock = threading.RLock()
        self.listeners: list[Callable[[datetime, datetime], None]] = []

    def __call__(self) -> datetime:
        return self.now()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    @property
    def elapsed(self) -> float:
        return (self.now() - self.start).total_seconds()

    def advance(self, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            before = self._now
            self._now = before + timedelta(seconds=seconds)
            after = self._now
        for listener in list(self.listeners):
            listener(before, after)

"""The engine's virtual clock: Wait states, retry intervals and Route 53 propagation run on it."""

from __future__ import annotations

import datetime as _datetime
import heapq
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

START = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


class VirtualClock:
    """Time that moves only when something waits.

    Timers (``call_at``) fire at their own moment even inside a long wait: the clock stops at
    each one on its way. ``listeners`` see every step.
    """

    def __init__(self, start: datetime = START) -> None:
        self.start = start
        self._now = start
        self._lock = threading.RLock()
        self.listeners: list[Callable[[datetime, datetime], None]] = []
        self._timers: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()

    def call_at(self, elapsed: float, action: Callable[[], None]) -> None:
        """Run ``action`` when the clock reaches ``elapsed`` seconds since the start."""
        with self._lock:
            heapq.heappush(self._timers, (self.start + timedelta(seconds=elapsed), next(self._order), action))

    def next_timer(self) -> float | None:
        """Seconds since the start at which the earliest timer is due (None: no timer)."""
        with self._lock:
            return (self._timers[0][0] - self.start).total_seconds() if self._timers else None

    def __call__(self) -> datetime:
        return self.now()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    @property
    def elapsed(self) -> float:
        return (self.now() - self.start).total_seconds()

    def advance(self, seconds: float, interrupted: Callable[[], bool] = lambda: False) -> None:
        """Move ``seconds`` on, firing timers on the way; stop early once ``interrupted()`` holds
        after a timer (a Wait state whose execution was stopped meanwhile)."""
        target = self.now() + timedelta(seconds=max(seconds, 0))
        while True:
            with self._lock:
                due = self._timers and self._timers[0][0] <= target
                if due:
                    at, _, action = heapq.heappop(self._timers)
                    at = max(at, self._now)
                else:
                    at, action = target, None
                before, self._now = self._now, at
            if before != at:
                for listener in list(self.listeners):
                    listener(before, at)
            if action is None:
                return
            action()
            if interrupted():
                return


class VirtualTimeoutEvent(threading.Event):
    """A ``threading.Event`` whose ``wait(timeout)`` counts the timeout on the virtual clock."""

    POLL = 0.005

    def __init__(self, clock: VirtualClock) -> None:
        super().__init__()
        self._clock = clock

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None:
            return super().wait()
        deadline = self._clock.elapsed + timeout
        while not super().wait(self.POLL):
            if self._clock.elapsed >= deadline:
                return self.is_set()
        return True


class VirtualThreading:
    """Stands in for the ``threading`` module where moto times a state (TimeoutSeconds)."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def Event(self) -> VirtualTimeoutEvent:  # noqa: N802 - the name of what it replaces
        return VirtualTimeoutEvent(self._clock)

    def __getattr__(self, name: str) -> object:
        return getattr(threading, name)


class VirtualDatetimeModule:
    """Stands in for the ``datetime`` module where moto computes a Wait Timestamp's delay:
    ``datetime.datetime.now()`` is the virtual clock's now (naive UTC, as moto compares it)."""

    def __init__(self, clock: VirtualClock) -> None:
        class _Datetime(_datetime.datetime):
            @classmethod
            def now(cls, tz: _datetime.tzinfo | None = None) -> _datetime.datetime:  # type: ignore[override]
                moment = clock.now()
                return moment.astimezone(tz) if tz else moment.astimezone(UTC).replace(tzinfo=None)

        self.datetime = _Datetime

    def __getattr__(self, name: str) -> object:
        return getattr(_datetime, name)

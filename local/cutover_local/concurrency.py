"""Many executions at once on one virtual clock, as in AWS: their waits overlap.

The engine's default moves time from whichever execution waits: one execution's Wait of ten
minutes is ten minutes for everyone, and two executions waiting ten minutes each take twenty.
That is exact for one cutover (and the byte-for-byte determinism of a rehearsal rests on it),
but a campaign runs ten cutovers at once, and their waits must overlap or every figure about
the account's shared Route 53 budget would be ten times kinder than AWS.

``SharedTime`` makes every wait of the interpreter a timer on the clock and lets time move only
when no interpreter thread can run: each thread moto starts for an execution, a Map iteration, a
state or a task is counted as running from its start to its end, except while it waits, and
whatever ends a wait (a timer, an event set, a thread it joins ending) counts it as running
again before the wait returns, so time never moves between a wake-up and the work it allows.
The driver (``Engine.wait`` in this mode) moves the clock to the next timer whenever nothing
runs and no function is being invoked.

Two executions woken at the same virtual moment run side by side, in the order the threads get
there: a campaign's outcome is the same run after run, the order of concurrent calls need not be.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from .clock import VirtualClock

# Wall seconds between checks of a wait's ``interrupted()`` (an execution stopped during a Wait).
# Every other wake-up is direct: dozens of waiting threads polling faster would starve the others.
POLL = 0.02
# A thread counted as running that has made no progress for this long (wall seconds) is blocked
# somewhere this module does not know: time moves on regardless, and it is counted
# (``stalls``), so a test sees it, rather than the engine hanging.
STALL_SECONDS = 2.0


class Park:
    """One waiting thread: woken by its timer, by ``fire()``, or when ``interrupted()`` holds."""

    def __init__(self, shared: SharedTime, thread: threading.Thread) -> None:
        self._shared, self.thread = shared, thread
        self._event = threading.Event()
        self._done = False

    def fire(self) -> None:
        with self._shared._cv:
            if self._done:
                return
            self._done = True
            self._shared._running.add(self.thread)
        self._event.set()


class SharedTime:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self._cv = threading.Condition()
        self._running: set[threading.Thread] = set()
        self._joiners: dict[threading.Thread, set[threading.Thread]] = {}
        self._waiters: dict[int, set[threading.Thread]] = {}  # id(event) -> threads waiting on it
        self.activity = 0  # bumped by whatever makes progress (history events, invocations)
        self.stalls = 0

    # what runs -----------------------------------------------------------------------------
    def tracks(self, thread: threading.Thread) -> bool:
        """Whether ``thread`` is one of the interpreter's (the harness's own thread moves time itself)."""
        return getattr(thread, "_shared_time", None) is self

    def started(self, thread: threading.Thread) -> None:
        thread._shared_time = self  # type: ignore[attr-defined]
        with self._cv:
            self._running.add(thread)

    def exited(self, thread: threading.Thread) -> None:
        with self._cv:
            for joiner in self._joiners.pop(thread, set()):
                self._running.add(joiner)
            self._running.discard(thread)
            self._cv.notify_all()

    def quiescent(self) -> bool:
        with self._cv:
            self._running = {t for t in self._running if not _ended(t)}
            return not self._running

    @contextmanager
    def joining(self, thread: threading.Thread) -> Iterator[None]:
        me = threading.current_thread()
        with self._cv:
            if thread.is_alive():
                self._joiners.setdefault(thread, set()).add(me)
                self._running.discard(me)
                self._cv.notify_all()
        try:
            yield
        finally:
            with self._cv:
                self._running.add(me)

    # waits -----------------------------------------------------------------------------------
    def park(self, seconds: float | None, interrupted: Callable[[], bool] | None = None,
             register: Callable[[Park], None] | None = None) -> None:
        """Wait ``seconds`` of virtual time (None: until ``fire()``), or until ``interrupted()``."""
        interrupted = interrupted or _never
        me = threading.current_thread()
        handle = Park(self, me)
        if register is not None:
            register(handle)
        if seconds is not None:
            self.clock.call_at(self.clock.elapsed + max(0.0, seconds), handle.fire)
        with self._cv:
            if not handle._done:
                self._running.discard(me)
                self._cv.notify_all()
        if interrupted is _never:
            handle._event.wait()
            return
        while not handle._event.wait(POLL):
            if interrupted():
                handle.fire()
                break

    def event_waiting(self, event: threading.Event, me: threading.Thread) -> None:
        with self._cv:
            if not event.is_set():
                self._waiters.setdefault(id(event), set()).add(me)
                self._running.discard(me)
                self._cv.notify_all()

    def event_set(self, event: threading.Event) -> None:
        with self._cv:
            for waiter in self._waiters.pop(id(event), set()):
                self._running.add(waiter)

    def event_done(self, event: threading.Event, me: threading.Thread) -> None:
        with self._cv:
            waiting = self._waiters.get(id(event))
            if waiting is not None:
                waiting.discard(me)
                if not waiting:
                    self._waiters.pop(id(event), None)
            self._running.add(me)

    # the driver --------------------------------------------------------------------------
    def settle(self, timeout: float, busy: Callable[[], bool]) -> None:
        """Between two steps of the driver: while a thread runs, until one stops running (it
        waits or ends), at most ``timeout`` wall seconds; while only a function invoked beside
        the interpreter runs (``busy``), ``timeout``; else not at all. The driver looks again as
        soon as something may have changed rather than after a fixed sleep: a campaign moves its
        clock tens of thousands of times, and those sleeps were most of its wall time."""
        with self._cv:
            if self._running:
                self._cv.wait(timeout)
                return
        if busy():
            time.sleep(timeout)

    def drive(self, busy: Callable[[], bool], advance: Callable[[float], None], idle_step: float,
              last: list[Any]) -> None:
        """One step of the driver: move the clock to the next timer when nothing runs.

        ``last`` holds (activity, wall time) of the last progress seen, for the stall rule."""
        if busy():
            last[:] = [self.activity, time.monotonic()]
            return
        if not self.quiescent():
            if last and last[0] == self.activity and time.monotonic() - last[1] > STALL_SECONDS:
                self.stalls += 1
            elif not last or last[0] != self.activity:
                last[:] = [self.activity, time.monotonic()]
                return
            else:
                return
        due = self.clock.next_timer()
        advance(idle_step if due is None else max(0.0, due - self.clock.elapsed))
        last[:] = [self.activity, time.monotonic()]


def _never() -> bool:
    return False


def _ended(thread: threading.Thread) -> bool:
    """Started and no longer alive. A thread whose ``start()`` has been called is not alive
    until its first step: dropping it then (and the thread that starts it, waiting inside
    ``start()``) let time jump past a campaign's next step, a minute at a time."""
    return thread._started.is_set() and not thread.is_alive()  # type: ignore[attr-defined]


class _Tracked:
    """What replaces ``threading`` in moto's interpreter modules while ``SharedTime`` is on."""

    def __init__(self, shared: SharedTime, virtual_timeouts: bool) -> None:
        self.Thread = _thread_class(shared)  # noqa: N803 - the names of what they replace
        self.Event = _event_class(shared, virtual_timeouts)

    def __getattr__(self, name: str) -> Any:
        return getattr(threading, name)


def _thread_class(shared: SharedTime) -> type[threading.Thread]:
    class TrackedThread(threading.Thread):
        def start(self) -> None:
            shared.started(self)  # counted before it runs: time cannot slip past its first step
            try:
                super().start()
            except BaseException:
                shared.exited(self)
                raise

        def run(self) -> None:
            try:
                super().run()
            finally:
                shared.activity += 1
                shared.exited(self)

        def join(self, timeout: float | None = None) -> None:
            if threading.current_thread() is self:
                super().join(timeout)
                return
            with shared.joining(self):
                super().join(timeout)

    return TrackedThread


def _event_class(shared: SharedTime, virtual_timeouts: bool) -> type[threading.Event]:
    class TrackedEvent(threading.Event):
        """Set, it wakes its waiters (counted as running first); a timeout is virtual seconds."""

        def set(self) -> None:
            shared.event_set(self)
            super().set()
            for wake in list(getattr(self, "_wakes", ())):
                wake.set()

        def wait(self, timeout: float | None = None) -> bool:
            if timeout is not None and not virtual_timeouts:
                return super().wait(timeout)
            me, wake = threading.current_thread(), threading.Event()
            if not hasattr(self, "_wakes"):
                self._wakes: set[threading.Event] = set()
            self._wakes.add(wake)
            if timeout is not None:
                event = self

                def timed_out() -> None:
                    shared.event_set(event)
                    wake.set()

                shared.clock.call_at(shared.clock.elapsed + timeout, timed_out)
            shared.event_waiting(self, me)
            try:
                if not self.is_set():
                    wake.wait()
                return self.is_set()
            finally:
                self._wakes.discard(wake)
                shared.event_done(self, me)

    return TrackedEvent


def tracked_threading(shared: SharedTime, virtual_timeouts: bool = True) -> Any:
    return _Tracked(shared, virtual_timeouts)

"""The shared clock of many executions moves only when no interpreter thread can run."""

from __future__ import annotations

import threading

from cutover_local.clock import VirtualClock
from cutover_local.concurrency import SharedTime


def test_a_thread_being_started_counts_as_running_until_it_ends():
    """``start()`` has been called but the thread has not taken its first step (it is not alive
    yet): time must not move then, or it jumps past the step the thread is about to take."""
    shared = SharedTime(VirtualClock())
    go = threading.Event()
    thread = threading.Thread(target=go.wait, daemon=True)
    shared.started(thread)  # as TrackedThread.start() does, just before the thread runs
    assert not shared.quiescent()
    thread.start()
    assert not shared.quiescent()
    go.set()
    thread.join(5)
    assert shared.quiescent(), "a thread that ended (even one never told to the clock) no longer counts"

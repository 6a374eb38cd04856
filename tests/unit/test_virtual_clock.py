"""The virtual clock: timers inside long waits, and timeouts counted in virtual seconds."""

import threading
import time

from cutover_local.clock import VirtualClock, VirtualTimeoutEvent


def test_timers_fire_at_their_own_moment_inside_a_long_advance():
    clock = VirtualClock()
    seen = []
    clock.call_at(30, lambda: seen.append(clock.elapsed))
    clock.call_at(10, lambda: seen.append(clock.elapsed))
    clock.advance(3600)
    assert seen == [10, 30]
    assert clock.elapsed == 3600


def test_a_timer_may_schedule_the_next_one():
    clock = VirtualClock()
    ticks = []

    def tick():
        ticks.append(clock.elapsed)
        clock.call_at(clock.elapsed + 60, tick)

    clock.call_at(60, tick)
    clock.advance(300)
    assert ticks == [60, 120, 180, 240, 300]


def test_a_timeout_expires_when_virtual_time_passes_not_wall_time():
    clock = VirtualClock()
    event = VirtualTimeoutEvent(clock)
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(event.wait(timeout=600)))
    waiter.start()
    time.sleep(0.05)
    assert outcome == []  # no virtual time has passed: still waiting
    clock.advance(601)
    waiter.join(timeout=5)
    assert outcome == [False]


def test_a_timeout_wait_returns_true_when_set_in_time():
    clock = VirtualClock()
    event = VirtualTimeoutEvent(clock)
    outcome = []
    waiter = threading.Thread(target=lambda: outcome.append(event.wait(timeout=600)))
    waiter.start()
    clock.advance(100)
    event.set()
    waiter.join(timeout=5)
    assert outcome == [True]

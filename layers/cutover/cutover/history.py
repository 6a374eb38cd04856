"""How many events a cutover's execution history can hold at most.

Step Functions fails an execution whose history reaches 25,000 events, and no Catch runs then:
no step of the cutover's own rollback path would. Every loop of the state machine is therefore
bounded, and this module adds those bounds up along the longest path the plan allows, so that a
plan the validator accepts stays below ``HISTORY_BUDGET``, with a wide margin under the limit.

The path, state by state (statemachines/cutover.asl.json): a Task state costs 5 events
(entered, scheduled, started, succeeded, exited), a Wait or a Choice 2, each Task retry 3
(failed, scheduled, started). The worst case counts every loop at its bound (each Route 53
change polled ``MAX_CHANGE_POLLS`` times, each insufficient-data wait and each recheck before a
promotion ``MAX_DATA_WAITS`` times), one retry of every Task state visit, and then a rollback
that is retried for its whole budget before its own polls. ``tests`` check the per-state costs
against the histories the engine writes.
"""

from __future__ import annotations

from .plan import Plan
from .steps import HEALTH_CHECK_WAITS, MAX_CHANGE_POLLS, MAX_DATA_WAITS

HISTORY_LIMIT = 25_000
HISTORY_BUDGET = 10_000
TASK, WAIT, CHOICE, RETRY = 5, 2, 2, 3
# The Rollback state's Retry: at most a minute apart for about a day (the ASL's MaxAttempts).
ROLLBACK_ATTEMPTS = 1440


def _task(retries: int) -> int:
    return TASK + RETRY * retries


def change(polls: int, retries: int = 0) -> int:
    """A Task that submits a Route 53 change, then its polls: WaitForChange, CheckChange, ChangeInSync."""
    return _task(retries) + polls * (WAIT + _task(retries) + CHOICE)


def path_events(plan: Plan, polls: int, data_waits: int = 0, retries: int = 0) -> int:
    """The events of an execution that runs ``plan`` to success: every change polled ``polls``
    times, every evaluation (and recheck) waiting ``data_waits`` times, every Task visit retried
    ``retries`` times. Exact for the engine's histories; the same state types as on AWS."""
    events = 1  # ExecutionStarted
    events += change(polls, retries) + CHOICE  # Preflight (the conversion) + AfterChange
    events += change(polls, retries) + CHOICE + WAIT  # LowerTtl + AfterChange + WaitOldTtl
    evaluate = data_waits * (_task(retries) + CHOICE + WAIT) + _task(retries) + CHOICE
    for stage in plan.stages:
        events += CHOICE  # Gate
        if stage.promote is not None:
            events += WAIT if stage.promote.kind != "manual" else _task(retries)  # the gate's wait
            events += evaluate  # RecheckAlarms, RecheckVerdict (and WaitBeforeRecheck)
        events += change(polls, retries) + CHOICE  # Shift + AfterChange
        events += WAIT + evaluate  # Bake, EvaluateAlarms, Verdict (and WaitForData)
    events += change(polls, retries) + CHOICE  # RestoreTtl + AfterChange
    # WatchOrFinish, and the Watch: a task-token wait that ends by its timeout (one event more than a Task)
    events += CHOICE + (_task(retries) + 1 if plan.watch else 0)

    events += _task(retries) + 2 + 1  # Finalize (the commit), Succeed (entered, exited), ExecutionSucceeded
    return events


def rollback_events(polls: int, attempts: int = 1, retries: int = 0) -> int:
    """Rollback (with ``attempts`` attempts), its polls (WaitForRollback, CheckRollback,
    RollbackInSync), then the Fail state and ExecutionFailed."""
    return TASK + RETRY * (attempts - 1) + polls * (WAIT + _task(retries) + CHOICE) + 1 + 1


def worst_case(plan: Plan) -> int:
    """The most events an execution of ``plan`` can reach (see the module's docstring): the
    success path at every bound up to its Finalize, which fails after its retries, then the
    longest rollback."""
    # the first Shift also waits for the health checkers' first reports (its own Retry)
    success = path_events(plan, MAX_CHANGE_POLLS, MAX_DATA_WAITS, retries=1) + RETRY * HEALTH_CHECK_WAITS
    until_finalize_fails = success - 2 - 1 + RETRY  # no Succeed, no ExecutionSucceeded; its last failure
    return until_finalize_fails + rollback_events(MAX_CHANGE_POLLS, ROLLBACK_ATTEMPTS, retries=1)

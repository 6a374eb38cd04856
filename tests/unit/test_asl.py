"""Static checks of statemachines/cutover.asl.json against the template and the error classes."""

from __future__ import annotations

import re

import pytest

from cutover import errors, history, steps
from cutover.steps import STATE_FIELDS
from tests.support import ASL_PATH, asl, template

LAMBDA_SERVICE_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
TRANSIENT = {cls.__name__ for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.TransientError) and cls is not errors.TransientError}
ROLLBACK_PATH = {"Rollback", "WaitForRollback", "CheckRollback", "RollbackInSync", "RolledBack", "RollbackFailed", "RollbackUnconfirmed"}

STATES = asl()["States"]
TASKS = {name: s for name, s in STATES.items() if s["Type"] == "Task"}


def successors(state: dict) -> set[str]:
    out = set()
    if "Next" in state:
        out.add(state["Next"])
    out.update(c["Next"] for c in state.get("Choices", []))
    if "Default" in state:
        out.add(state["Default"])
    out.update(c["Next"] for c in state.get("Catch", []))
    return out


def reachable(start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(successors(STATES[name]))
    return seen


def test_every_transition_names_an_existing_state():
    for name, state in STATES.items():
        missing = successors(state) - set(STATES)
        assert not missing, f"{name} goes to unknown {missing}"


def test_every_state_is_reachable_from_the_start():
    assert set(STATES) - reachable(asl()["StartAt"]) == set()


def test_every_non_terminal_state_has_a_way_forward():
    for name, state in STATES.items():
        if state["Type"] not in ("Succeed", "Fail"):
            assert successors(state), name


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_lambda_task_retries_the_lambda_service_errors_and_the_transient_errors(name):
    retried = {e for r in TASKS[name].get("Retry", []) for e in r["ErrorEquals"]}
    if "States.ALL" in retried:  # the rollback path retries everything
        assert name in ROLLBACK_PATH
        return
    assert LAMBDA_SERVICE_ERRORS <= retried
    assert retried >= TRANSIENT, f"{name} does not retry {TRANSIENT - retried}"


def test_the_rollback_keeps_trying_about_a_day_at_most_a_minute_apart_within_the_history_limit():
    (retrier,) = TASKS["Rollback"]["Retry"]
    assert retrier["ErrorEquals"] == ["States.ALL"] and retrier["MaxDelaySeconds"] <= 60
    assert retrier["MaxAttempts"] * retrier["MaxDelaySeconds"] >= 24 * 3600
    assert retrier["MaxAttempts"] == history.ROLLBACK_ATTEMPTS  # what the worst-case history counts
    assert TASKS["Rollback"]["Resource"] == "arn:aws:states:::lambda:invoke"


def test_confirming_the_rollback_retries_as_any_poll():
    """Route 53 accepted every name already: its polls are bounded like every other poll."""
    def without_comments(retry):
        return [{k: v for k, v in r.items() if k != "Comment"} for r in retry]

    assert without_comments(TASKS["CheckRollback"]["Retry"]) == without_comments(TASKS["CheckChange"]["Retry"])
    assert [c["Next"] for c in TASKS["CheckRollback"]["Catch"]] == ["RollbackUnconfirmed"]


@pytest.mark.parametrize("name", sorted(n for n in TASKS if n not in ROLLBACK_PATH and n != "Preflight"))
def test_every_task_failure_reaches_the_rollback_path(name):
    catches = TASKS[name].get("Catch", [])
    assert any("States.ALL" in c["ErrorEquals"] and c["Next"] == "Rollback" for c in catches)


def test_every_path_from_a_change_can_reach_rollback_and_rollback_ends_in_a_fail_state():
    after_preflight = reachable("WaitForChange") - ROLLBACK_PATH
    for name in after_preflight:
        if STATES[name]["Type"] != "Succeed":
            assert "Rollback" in reachable(name), f"{name} cannot reach Rollback"
    ends = {n for n in reachable("Rollback") if STATES[n]["Type"] in ("Succeed", "Fail")}
    assert ends and all(STATES[n]["Type"] == "Fail" for n in ends)


def test_preflight_failures_end_without_touching_records():
    catch = TASKS["Preflight"]["Catch"]
    assert [c["Next"] for c in catch] == ["PreflightFailed"]
    assert STATES["PreflightFailed"]["Type"] == "Fail"


def test_fail_states_say_why():
    for name, state in STATES.items():
        if state["Type"] == "Fail":
            assert ("Error" in state or "ErrorPath" in state) and ("Cause" in state or "CausePath" in state), name


def test_error_names_matched_are_real_error_classes():
    names = {e for s in STATES.values() for block in ("Retry", "Catch") for r in s.get(block, []) for e in r["ErrorEquals"]}
    ours = {n for n in names if not n.startswith(("States.", "Lambda."))}
    assert ours, "the ASL should match the project's own errors by class name"
    for name in ours:
        assert isinstance(getattr(errors, name, None), type), f"{name} is not a class in cutover.errors"


def test_choice_states_read_fields_the_steps_return():
    rules = [c for s in STATES.values() for c in s.get("Choices", [])]
    rules += [inner for c in rules for inner in c.get("And", [])]
    paths = {c["Variable"] for c in rules if "Variable" in c}
    assert paths
    for path in paths:
        field = re.fullmatch(r"\$\.cutover\.(\w+)", path)
        assert field and field.group(1) in STATE_FIELDS, path


def test_every_placeholder_is_defined_by_the_template_and_every_substitution_is_used():
    placeholders = set(re.findall(r"\$\{(\w+)\}", ASL_PATH.read_text()))
    machine = template()["Resources"]["CutoverStateMachine"]["Properties"]
    defined = set(machine["DefinitionSubstitutions"])
    assert placeholders == defined
    for name, value in machine["DefinitionSubstitutions"].items():
        function = value["Fn::GetAtt"][0]
        assert template()["Resources"][function]["Type"] == "AWS::Serverless::Function", name


def test_no_arn_or_account_is_hard_coded():
    text = ASL_PATH.read_text()
    assert not re.search(r"arn:aws:(lambda|sns|dynamodb|route53)", text)
    assert not re.search(r"\d{12}", text)


def test_waits_come_from_the_state():
    assert STATES["Bake"]["SecondsPath"] == "$.cutover.judge_after_seconds"
    assert STATES["WaitForChange"]["SecondsPath"] == STATES["WaitForRollback"]["SecondsPath"] == "$.cutover.poll_seconds"
    assert STATES["WaitForData"]["SecondsPath"] == STATES["WaitBeforeRecheck"]["SecondsPath"] == "$.cutover.data_wait_seconds"
    assert STATES["WaitOldTtl"]["SecondsPath"] == "$.cutover.wait_seconds"
    assert STATES["WaitForPromotionTime"]["TimestampPath"] == "$.cutover.promote_at"


def test_every_promotion_passes_an_alarm_recheck_first():
    for gate in ("HoldForPromotion", "WaitForPromotionTime"):
        assert STATES[gate]["Next"] == "RecheckAlarms"
    assert STATES["RecheckAlarms"]["Parameters"]["Payload"]["recheck"] is True
    assert {c["Next"] for c in STATES["Gate"]["Choices"]} == {"HoldForPromotion", "WaitForPromotionTime"}
    assert STATES["HoldForPromotion"]["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"


def test_only_the_shift_waits_for_the_health_checkers_and_the_worst_case_history_counts_it():
    waits = [r for r in TASKS["Shift"]["Retry"] if r["ErrorEquals"] == ["HealthCheckPending"]]
    assert len(waits) == 1 and waits[0]["MaxAttempts"] == steps.HEALTH_CHECK_WAITS
    assert waits[0]["MaxDelaySeconds"] <= 60
    others = {name for name, task in TASKS.items() for r in task.get("Retry", []) if "HealthCheckPending" in r["ErrorEquals"]}
    assert others == {"Shift"}

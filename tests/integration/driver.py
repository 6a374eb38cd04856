"""Drive the handlers as the state machine does, step by step, on the ``world`` fixture."""

from __future__ import annotations

from typing import Any

from tests.support import plan


def start(world, raw: dict[str, Any] | None = None, name: str = "exec-1") -> dict[str, Any]:
    return world.invoke("Preflight", {"plan": raw or plan(hosted_zone_id=world.zone_id), "execution": name})


def settle(world, state: dict[str, Any]) -> dict[str, Any]:
    for _ in range(10):
        state = world.invoke("CheckChange", {"cutover": state})
        if state["change_status"] == "INSYNC":
            return state
        world.clock.advance(10)
    raise AssertionError("change never INSYNC")


def step(world, function: str, state: dict[str, Any]) -> dict[str, Any]:
    return settle(world, world.invoke(function, {"cutover": state}))


def run_stage(world, state: dict[str, Any]) -> dict[str, Any]:
    state = step(world, "Shift", state)
    world.clock.advance(state["judge_after_seconds"])  # the Bake wait
    return world.invoke("EvaluateAlarms", {"cutover": state})


def to_stage(world, stages: int, **kwargs: Any) -> dict[str, Any]:
    """Run the cutover as the state machine does, through ``stages`` passed stages."""
    state = step(world, "LowerTtl", settle(world, start(world, **kwargs)))
    world.clock.advance(state["wait_seconds"])
    for _ in range(stages):
        state = run_stage(world, state)
    return state


def committed_on_aws(world, ttl: int = 3600) -> bool:
    """The name is one simple CNAME to the AWS target (what a finished cutover leaves)."""
    from tests.support import ALB, NAME

    return world.records() == [{"Name": f"{NAME}.", "Type": "CNAME", "TTL": ttl, "ResourceRecords": [{"Value": ALB}]}]

"""``arn:aws:states:::states:startExecution.sync:2`` on the local engine: a state machine that
starts another and waits for it (a campaign's cutovers).

moto's interpreter has the integration but hands the task's parameters to boto3 as the ASL names
them (``StateMachineArn``, where boto3 wants ``stateMachineArn``) and reads the answer back the
same way, so every such task fails with ``States.Runtime``. Here the names are translated both
ways, as AWS does: the task's result carries ``ExecutionArn``, ``Status``, ``Output`` (parsed, for
``.sync:2``) and the dates as epoch milliseconds. ``AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID``,
which AWS uses to link the child to its parent in the console, is accepted and dropped (moto's
StartExecution does not take it).

While it waits, the parent polls the child (in process while it runs: ``_running``);
``waiting_for_child`` tells the engine which child a thread waits for, so a campaign's wait can
end the moment that child does.
"""

from __future__ import annotations

import datetime as _dt
import threading
from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import state_task_service_sfn as sfn_task
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from .harsh import Patches

PARENT_ID = "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"
_local = threading.local()


def waiting_for_child() -> str | None:
    """The execution ARN of the child this thread's task waits for, if any."""
    return getattr(_local, "child", None)


def _running(execution_arn: str) -> bool:
    """Whether the child still runs, read from the embedded Step Functions in process. The
    parent's task polls its child every few milliseconds of wall time, each poll a
    DescribeExecution through the SDK (a seventh of a 50-name campaign's CPU); in AWS that wait
    is the service's own and calls no API of the account. Anything unexpected: ask the API."""
    try:
        _, _, _, region, account, *_ = execution_arn.split(":")
        return stepfunctions_parser_backends[account][region].describe_execution(execution_arn).status == "RUNNING"
    except Exception:  # noqa: BLE001 - the resolver's own DescribeExecution then says what is wrong
        return False


def _asl_cased(value: Any) -> Any:
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _plain(item) for key, item in value.items()}
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
        return int(moment.timestamp() * 1000)
    return value


def install(patches: Patches) -> None:
    task = sfn_task.StateTaskServiceSfn
    original_parameters = task._normalise_parameters
    original_response = task._normalise_response
    original_sync2 = task._build_sync2_resolver
    original_sync = task._build_sync_resolver

    def normalise_parameters(self: Any, parameters: dict[str, Any], boto_service_name: str | None = None,
                             service_action_name: str | None = None) -> None:
        original_parameters(self, parameters, boto_service_name, service_action_name)
        if service_action_name is None and self._get_boto_service_action() == "start_execution":
            parameters.pop(PARENT_ID, None)
            for key in list(parameters):
                parameters[key[:1].lower() + key[1:]] = parameters.pop(key)

    def normalise_response(self: Any, response: Any, boto_service_name: str | None = None,
                           service_action_name: str | None = None) -> None:
        original_response(self, response, boto_service_name, service_action_name)
        if isinstance(response, dict):
            cased = _asl_cased(response)
            response.clear()
            response.update(cased)

    def remembering(original: Any) -> Any:
        def build(self: Any, env: Any, *args: Any, **kwargs: Any) -> Any:
            submitted = env.stack[-1] if env.stack else {}
            child = _local.child = submitted.get("ExecutionArn") if isinstance(submitted, dict) else None
            resolver = original(self, env, *args, **kwargs)
            if resolver is None or child is None:
                return resolver

            def resolve() -> Any:
                # moto's resolver answers None while the child runs; only its end needs the call
                if _running(child):
                    return None
                return resolver()

            return resolve
        return build

    patches.set(task, "_normalise_parameters", normalise_parameters)
    patches.set(task, "_normalise_response", normalise_response)
    patches.set(task, "_build_sync2_resolver", remembering(original_sync2))
    patches.set(task, "_build_sync_resolver", remembering(original_sync))

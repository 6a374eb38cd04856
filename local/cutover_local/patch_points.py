"""The private moto names the local engine replaces, checked before any is touched."""

from __future__ import annotations

import importlib
import inspect

import moto

MOTO_VERSION = "5.2.5"

# module, attribute path, parameters the replacement relies on
POINTS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("moto.route53.models", "Route53Backend.change_resource_record_sets", ("self", "zoneid", "change_list")),
    ("moto.route53.models", "FakeZone.rrsets", ()),
    ("moto.route53.models", "RecordSet.__init__", ("self", "kwargs")),
    ("moto.route53.responses", "Route53.change_resource_record_sets", ("self",)),
    ("moto.route53.responses", "Route53.get_change", ("self",)),
    ("moto.cloudwatch.models", "Alarm.update_state", ("self", "reason", "reason_data", "state_value")),
    ("moto.cloudwatch.responses", "CloudWatchResponse", ()),
    ("moto.cloudwatch.models", "Statistics.get_statistics_for_type", ("self", "stat")),
    ("moto.awslambda.models", "LambdaFunction._invoke_lambda", ("self", "event")),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils", "boto_client_for",
     ("region", "service", "state_credentials")),
    ("moto.stepfunctions.parser.asl.component.state.wait.wait_function.wait_function",
     "WaitFunction._wait_interval", ("self", "env", "wait_seconds")),
    ("moto.stepfunctions.parser.asl.component.common.retry.retrier_decl", "time.sleep", ()),
    ("botocore.endpoint", "time.sleep", ()),
    ("moto.stepfunctions.parser.asl.component.state.wait.wait_function.timestamp", "datetime.datetime.now", ()),
    ("moto.stepfunctions.parser.asl.component.state.exec.execute_state", "threading.Event", ()),
    ("moto.stepfunctions.parser.asl.component.state.exec.execute_state",
     "ExecutionState._evaluate_with_timeout", ("self", "env")),
    # harsh.py and the engine's harsher behaviours
    ("moto.core.responses", "BaseResponse.call_action", ("self",)),
    ("moto.core.responses", "BaseResponse.serialized", ("self", "action_result")),
    ("moto.core.responses", "BaseResponse._enrich_response", ("headers", "body")),  # a staticmethod
    ("moto.stepfunctions.responses", "StepFunctionResponse.stop_execution", ("self",)),
    ("moto.stepfunctions.parser.backend.execution", "BaseExecutionWorkerCommunication.terminated", ("self",)),
    ("moto.stepfunctions.parser.backend.execution", "ExecutionWorker._get_evaluation_environment", ("self",)),
    ("moto.stepfunctions.parser.backend.execution", "Execution._get_start_execution_worker", ("self",)),
    ("moto.stepfunctions.parser.backend.execution_worker", "ExecutionWorker.start", ("self",)),
    ("moto.stepfunctions.parser.asl.eval.event.event_manager", "EventManager.add_event", ("self", "context", "event_type")),
    ("moto.stepfunctions.parser.asl.eval.event.event_manager", "EventManager._get_current_timestamp", ()),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend.send_task_success", ("self", "task_token", "outcome")),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend.send_task_failure", ("self", "task_token")),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend._get_executions", ("self",)),
    ("moto.stepfunctions.parser.asl.component.common.retry.jitter_strategy_decl", "random.uniform", ()),
    ("moto.stepfunctions.parser.asl.eval.callback.callback", "CallbackEndpoint.wait", ("self", "timeout")),
    ("moto.stepfunctions.parser.asl.eval.callback.callback", "CallbackEndpoint.interrupt_all", ("self",)),
    ("moto.cloudwatch.models", "parse_expression", ("expression", "results")),
    ("moto.dynamodb.models.table", "Table.put_item", ("self", "item_attrs")),
    ("moto.dynamodb.models.table", "Table.delete_item", ("self", "hash_key", "range_key")),
    ("moto.dynamodb.models.table", "Table.query", ("self", "hash_key")),
    ("moto.dynamodb.models.table", "Table.all_items", ("self",)),
    ("botocore.retries.standard", "ExponentialBackoff.delay_amount", ("self", "context")),
    ("moto.stepfunctions.parser.asl.parse.asl_parser", "AmazonStateLanguageParser.parse", ("definition",)),
    ("moto.stepfunctions.parser.models", "StepFunctionsParserBackend._validate_definition", ("definition",)),
    # nested.py (startExecution.sync and .sync:2)
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
     "StateTaskServiceSfn._normalise_parameters", ("self", "parameters")),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
     "StateTaskServiceSfn._normalise_response", ("self", "response")),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
     "StateTaskServiceSfn._build_sync_resolver", ("self", "env")),
    ("moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn",
     "StateTaskServiceSfn._build_sync2_resolver", ("self", "env")),
    # fast_paths.py
    ("moto.dynamodb.responses", "DynamoResult.execute_result", ("self", "context")),
    ("moto.core.responses", "method_names_from_class", ("clazz",)),
    ("moto.dynamodb.models", "copy.deepcopy", ()),
    ("moto.dynamodb.models", "DynamoDBBackend.transact_write_items", ("self", "transact_items")),
)


class PatchPointMoved(RuntimeError):
    """moto changed under the local engine: a private name it replaces is gone or different."""


def _resolve(module: str, path: str) -> object:
    obj: object = importlib.import_module(module)
    for part in path.split("."):
        if part == "rrsets":  # an instance attribute: check the constructor sets it
            source = inspect.getsource(obj)  # type: ignore[arg-type]
            if "self.rrsets" not in source:
                raise AttributeError(part)
            return source
        obj = getattr(obj, part)
    return obj


def verify() -> None:
    """Raise ``PatchPointMoved`` naming every patch point that is not as the engine expects."""
    problems = []
    if moto.__version__ != MOTO_VERSION:
        problems.append(f"moto is {moto.__version__}, the engine was written against {MOTO_VERSION}")
    for module, path, params in POINTS:
        try:
            target = _resolve(module, path)
        except (ImportError, AttributeError) as exc:
            problems.append(f"{module}.{path} is gone ({exc})")
            continue
        if params and callable(target):
            found = tuple(inspect.signature(target).parameters)
            if found[: len(params)] != params:
                problems.append(f"{module}.{path} takes {found}, expected {params}")
    if problems:
        raise PatchPointMoved("; ".join(problems))


_VERIFIED = False


def verify_once() -> None:
    """``verify`` the first time an engine starts in this process (the installed moto does not
    change while it runs); a failure is raised again each time."""
    global _VERIFIED
    if not _VERIFIED:
        verify()
        _VERIFIED = True

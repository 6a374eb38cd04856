"""Where AWS is harsher than moto, made so on the local engine.

Each piece here replaces a kindness of moto by what AWS documents (``../shared/DESIGN.md``,
"Where AWS is harsher than the engine"), and is installed by ``Engine`` with every behaviour on:

- ``ServiceFaults``: any AWS operation can be made to fail (throttling, an outage answering 5XX)
  from one moment for a while, as the service itself would answer; the SDK then retries it
  with its own backoff, on the virtual clock.
- ``StrictStepFunctions``: StopExecution ends the execution at once (ABORTED, status event
  sent) even while a task runs or waits for a task token, and the task's late result is
  discarded; a task token is dead once answered or once its execution ended; the history
  limit of 25,000 events and the 256 KiB payload limit end the execution FAILED where no Catch
  runs; retry jitter and history timestamps come from the engine (seeded, virtual).
- ``StaleIndex``: a query of a global secondary index sees each write only some time after it
  happened (eventually consistent); base-table reads are unaffected.
- ``TokenBucket``: Route 53's one request budget per account, shared by every caller.
"""

from __future__ import annotations

import copy
import datetime as _dt
import inspect
import json
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult, BaseResponse
from moto.dynamodb.models import table as ddb_table
from moto.stepfunctions import responses as sfn_responses
from moto.stepfunctions.parser import models as sfn_models
from moto.stepfunctions.parser.api import ExecutionFailedEventDetails, ExecutionStatus
from moto.stepfunctions.parser.asl.component.common.retry import jitter_strategy_decl
from moto.stepfunctions.parser.asl.eval.event import event_manager
from moto.stepfunctions.parser.asl.parse import asl_parser
from moto.stepfunctions.parser.backend import execution as sfn_execution

from .clock import VirtualClock

HISTORY_LIMIT = 25_000  # events in one execution's history (AWS quota)
PAYLOAD_LIMIT = 262_144  # bytes of a state's input or output, 256 KiB (AWS quota)


class Patches:
    """Attribute replacements undone in reverse order."""

    generation = 0  # counts every replacement and undo, in any Patches (what caches key on)

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any, bool]] = []

    def set(self, owner: Any, name: str, value: Any) -> None:
        own = getattr(owner, "__dict__", {})
        had = name in own
        # the attribute as the owner holds it (a staticmethod stays a staticmethod)
        self._saved.append((owner, name, own[name] if had else getattr(owner, name, None), had))
        setattr(owner, name, value)
        Patches.generation += 1

    def undo(self) -> None:
        while self._saved:
            owner, name, original, had = self._saved.pop()
            if had or not isinstance(owner, type):
                setattr(owner, name, original)
            else:
                delattr(owner, name)
            Patches.generation += 1


# --- any AWS operation can fail ------------------------------------------------------------

class InjectedServiceError(ServiceException):
    """An error answered by the service itself (moto serializes it in the service's protocol)."""

    def __init__(self, code: str, message: str, status: int) -> None:
        super().__init__(code, message)
        self.code = code
        self.status = status


@dataclass(frozen=True)
class Outage:
    """From ``start`` for ``duration`` virtual seconds, ``service`` answers ``code`` to a share
    ``rate`` of calls (1.0: every call) of ``operations`` (empty: all of them)."""

    service: str  # botocore's name: route53, dynamodb, sns, cloudwatch, stepfunctions
    start: float
    duration: float
    code: str = "ServiceUnavailable"
    status: int = 503
    rate: float = 1.0
    operations: tuple[str, ...] = ()

    def covers(self, service: str, operation: str, at: float) -> bool:
        return (service == self.service and self.start <= at < self.start + self.duration
                and (not self.operations or operation in self.operations))


# What each service answers when it throttles, and when it is down (HTTP status, code).
THROTTLE_CODES = {"route53": "Throttling", "dynamodb": "ThrottlingException", "sns": "Throttling",
                  "cloudwatch": "Throttling", "stepfunctions": "ThrottlingException"}
OUTAGE_CODES = {"route53": "ServiceUnavailable", "dynamodb": "InternalServerError", "sns": "InternalError",
                "cloudwatch": "ServiceUnavailable", "stepfunctions": "ServiceUnavailable"}


def throttling(service: str, start: float, duration: float, rate: float = 1.0) -> Outage:
    return Outage(service, start, duration, THROTTLE_CODES[service], 400, rate)


def outage(service: str, start: float, duration: float, operations: tuple[str, ...] = ()) -> Outage:
    return Outage(service, start, duration, OUTAGE_CODES[service], 500 if service != "route53" else 503, 1.0, operations)


@dataclass
class ServiceFaults:
    clock: VirtualClock
    rng: random.Random
    outages: list[Outage] = field(default_factory=list)
    answered: dict[str, int] = field(default_factory=dict)  # "service:code" -> count
    paused: bool = False  # the harness sets up the world (what existed before the rehearsal)
    table_lock: threading.RLock = field(default_factory=threading.RLock)

    def check(self, service: str, operation: str) -> None:
        if self.paused:
            return
        at = self.clock.elapsed
        for fault in self.outages:
            if fault.covers(service, operation, at) and (fault.rate >= 1 or self.rng.random() < fault.rate):
                key = f"{service}:{fault.code}"
                self.answered[key] = self.answered.get(key, 0) + 1
                raise InjectedServiceError(fault.code, f"injected: {service} {operation} answered {fault.code}", fault.status)

    def install(self, patches: Patches) -> None:
        faults = self
        original = BaseResponse.call_action

        def call_action(response: BaseResponse) -> Any:
            service = response.boto3_service_name
            try:
                faults.check(service, response._get_action())
            except InjectedServiceError as exc:
                status, headers, body = response.serialized(ActionResult(exc))
                headers["status"] = exc.status
                headers, body = response._enrich_response(headers, body)
                return exc.status, headers, body
            if service == "dynamodb":
                # each DynamoDB request is atomic, as in AWS; moto's tables are plain dicts that a
                # query on one thread (a test, the endpoint) iterates while a put on another grows
                with faults.table_lock:
                    return original(response)
            return original(response)

        patches.set(BaseResponse, "call_action", call_action)


# --- Step Functions ---------------------------------------------------------------------------

@dataclass
class StrictStepFunctions:
    clock: VirtualClock
    rng: random.Random
    on_ended: Callable[[Any], None]  # hears each execution that ended, once, at the moment it ends
    on_answered: Callable[[str], None] = lambda token: None  # a waiting task's token was answered
    history_limit: int = HISTORY_LIMIT
    payload_limit: int = PAYLOAD_LIMIT
    dead_tokens: set[str] = field(default_factory=set)
    _envs: dict[int, Any] = field(default_factory=dict)  # id(event manager) -> (execution, env)
    _lock: Any = field(default_factory=threading.RLock)

    # the moment an execution ends ---------------------------------------------------------
    def end(self, execution: Any, status: str, error: str | None = None, cause: str | None = None,
            announce: bool = True) -> None:
        """Make ``execution`` end now with ``status`` (what AWS shows at once), and tell (``announce``)."""
        with self._lock:
            if getattr(execution, "_ended_by_engine", False) or execution.exec_status != ExecutionStatus.RUNNING:
                return
            execution._ended_by_engine = True
            execution.exec_status = ExecutionStatus(status)
            execution.stop_date = self.clock.now()
            if status == "FAILED":
                execution.error, execution.cause = error, cause
            env = execution.exec_worker.env if execution.exec_worker else None
            if env is not None:
                if status == "ABORTED":
                    env.set_stop(stop_date=self.clock.now(), cause=cause, error=error)
                else:
                    env.set_error(ExecutionFailedEventDetails(error=error, cause=cause))
                for token, endpoint in list(env.callback_pool_manager._pool.items()):
                    self.on_answered(token)
                    endpoint.interrupt_all()  # a task waiting for a token stops waiting
        if announce:
            self.on_ended(execution)

    def payload_too_large(self, payload: str) -> bool:
        return len(payload.encode()) > self.payload_limit

    def fail_current(self, execution_id: str | None, error: str, cause: str) -> None:
        """Fail the running execution named or identified by ``execution_id`` (every running one
        when it is not known)."""
        running = self._running()
        named = [e for e in running if execution_id in (e.execution_arn, e.name)]
        for execution in named or running:
            self.end(execution, "FAILED", error, cause)

    def _running(self) -> list[Any]:
        return [execution for execution, _ in list(self._envs.values()) if execution.exec_status == ExecutionStatus.RUNNING]

    def install(self, patches: Patches) -> None:
        strict = self

        def stop_execution(response: Any) -> ActionResult:
            arn = response._get_param("executionArn")
            backend = response.stepfunction_backend
            execution = backend.describe_execution(arn)
            strict.end(execution, "ABORTED", response._get_param("error"), response._get_param("cause"))
            return ActionResult({"stopDate": execution.stop_date})

        original_terminated = sfn_execution.BaseExecutionWorkerCommunication.terminated

        def terminated(comm: Any) -> None:
            execution = comm.execution
            if getattr(execution, "_ended_by_engine", False):
                return  # ended (and told) the moment the stop or the limit landed
            original_terminated(comm)
            execution.stop_date = strict.clock.now()
            execution._ended_by_engine = True
            strict.on_ended(execution)

        original_environment = sfn_execution.ExecutionWorker._get_evaluation_environment

        def evaluation_environment(worker: Any) -> Any:
            env = original_environment(worker)
            execution = _execution_of(worker)
            if execution is not None:
                strict._envs[id(env.event_manager)] = (execution, env)
            return env

        original_add_event = event_manager.EventManager.add_event

        def add_event(manager: Any, *args: Any, **kwargs: Any) -> int:
            event_id = original_add_event(manager, *args, **kwargs)
            if event_id >= strict.history_limit:
                found = strict._envs.get(id(manager))
                if found:
                    strict.end(found[0], "FAILED", "States.Runtime",
                               f"The execution history reached the limit of {strict.history_limit} events")
            return event_id

        def send_task_success(backend: Any, task_token: str, outcome: str) -> Any:
            return strict._answer(backend, task_token, lambda: sfn_models.CallbackOutcomeSuccess(callback_id=task_token, output=outcome))

        def send_task_failure(backend: Any, task_token: str, error: Any = None, cause: Any = None) -> Any:
            return strict._answer(backend, task_token, lambda: sfn_models.CallbackOutcomeFailure(
                callback_id=task_token, error=error, cause=cause))

        patches.set(sfn_responses.StepFunctionResponse, "stop_execution", stop_execution)
        patches.set(sfn_execution.BaseExecutionWorkerCommunication, "terminated", terminated)
        patches.set(sfn_execution.ExecutionWorker, "_get_evaluation_environment", evaluation_environment)
        patches.set(event_manager.EventManager, "add_event", add_event)
        patches.set(event_manager.EventManager, "_get_current_timestamp", staticmethod(lambda: strict.clock.now()))
        patches.set(sfn_models.StepFunctionsParserBackend, "send_task_success", send_task_success)
        patches.set(sfn_models.StepFunctionsParserBackend, "send_task_failure", send_task_failure)
        patches.set(jitter_strategy_decl, "random", self.rng)

    def _answer(self, backend: Any, token: str, outcome: Callable[[], Any]) -> Any:
        """A token is alive once: answered, or its execution ended, it is dead (TaskTimedOut)."""
        with self._lock:
            if token in self.dead_tokens:
                raise InjectedServiceError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'", 400)
            for execution in backend._get_executions(ExecutionStatus.RUNNING):
                env = execution.exec_worker.env if execution.exec_worker else None
                if env is None or token not in env.callback_pool_manager._pool:
                    continue
                self.dead_tokens.add(token)
                self.on_answered(token)
                env.callback_pool_manager.notify(callback_id=token, outcome=outcome())
                return {}
            known = any(
                execution.exec_worker and execution.exec_worker.env
                and token in execution.exec_worker.env.callback_pool_manager._pool
                for execution in backend._get_executions()
            )
            if known:
                self.dead_tokens.add(token)
                raise InjectedServiceError("TaskTimedOut", "Task Timed Out: 'Provided task does not exist anymore'", 400)
            raise InjectedServiceError("InvalidToken", "Invalid Token: 'Invalid token'", 400)


_PARSED: dict[str, tuple[Any, Any]] = {}


_partition = threading.local()


@dataclass
class PartitionReads:
    """How the base-table queries were answered: from their partition, or from the whole table
    (a query moto must answer its own way: an index, a table without a sort key)."""

    partition: int = 0
    whole_table: int = 0


# moto's own Table.query, as the module defines it: the wrappers installed on it (the stale index,
# this one) take ``*args, **kwargs``, and a signature taken from one of them binds nothing.
_MOTO_QUERY = inspect.signature(ddb_table.Table.query)


def partition_queries(patches: Patches) -> PartitionReads:
    """A query of the base table reads its own partition, as DynamoDB does: moto reads and sorts
    the whole table for every query, which grows with every ledger entry of every cutover (a
    campaign's table holds thousands). Index queries are left as they are."""
    table_cls = ddb_table.Table
    original_query, original_all = table_cls.query, table_cls.all_items
    reads = PartitionReads()

    def query(table: Any, *args: Any, **kwargs: Any) -> Any:
        bound = _MOTO_QUERY.bind(table, *args, **kwargs)
        hash_key = bound.arguments.get("hash_key")
        if bound.arguments.get("index_name") or not table.range_key_attr or hash_key is None:
            reads.whole_table += 1
            return original_query(table, *args, **kwargs)
        reads.partition += 1
        _partition.scope = (table, hash_key)
        try:
            return original_query(table, *args, **kwargs)
        finally:
            _partition.scope = None

    def all_items(table: Any) -> Any:
        scope = getattr(_partition, "scope", None)
        if scope is not None and scope[0] is table:
            return sorted(table.items.get(scope[1], {}).values(), key=lambda item: item.range_key)
        return original_all(table)

    patches.set(table_cls, "query", query)
    patches.set(table_cls, "all_items", all_items)
    return reads


def cache_parses(patches: Patches) -> None:
    """Parse each state machine definition once per process (moto parses it at creation and again
    for every execution, 50 ms each); every execution gets its own copy of the evaluation tree."""
    original = asl_parser.AmazonStateLanguageParser.parse

    def parse(definition: str) -> tuple[Any, Any]:
        if definition not in _PARSED:
            _PARSED[definition] = original(definition)
        program, tree = _PARSED[definition]
        return copy.deepcopy(program), tree

    patches.set(asl_parser.AmazonStateLanguageParser, "parse", staticmethod(parse))
    validate = sfn_models.StepFunctionsParserBackend._validate_definition

    def validate_once(definition: str) -> None:
        """CreateStateMachine parses only to validate: a definition parsed once is valid, and
        its copy of the tree (the larger part of a deploy) is not needed."""
        if definition not in _PARSED:
            validate(definition)

    patches.set(sfn_models.StepFunctionsParserBackend, "_validate_definition", staticmethod(validate_once))


def _execution_of(worker: Any) -> Any:
    return getattr(worker, "_engine_execution", None)


def tag_workers(patches: Patches) -> None:
    """Let each execution worker know its execution and its thread (moto keeps neither)."""
    original = sfn_execution.Execution._get_start_execution_worker
    original_start = sfn_execution.ExecutionWorker.start

    def start_worker(execution: Any) -> Any:
        worker = original(execution)
        worker._engine_execution = execution
        return worker

    def start(worker: Any) -> None:
        before = set(threading.enumerate())
        original_start(worker)
        started = [t for t in threading.enumerate() if t not in before]
        worker._engine_thread = started[0] if started else None

    patches.set(sfn_execution.Execution, "_get_start_execution_worker", start_worker)
    patches.set(sfn_execution.ExecutionWorker, "start", start)


# --- DynamoDB: eventually consistent indexes ---------------------------------------------------

@dataclass
class StaleIndex:
    """Each write reaches the table's global secondary indexes ``lag()`` seconds after it happened.

    Until then a query of an index sees the item as it was before the write (absent, or the
    old version). Base-table reads, consistent or not, see the write at once.
    """

    clock: VirtualClock
    lag: Callable[[], float]
    # (table, hash, range) -> (visible in indexes from, the item before the write or None)
    pending: dict[tuple[str, Any, Any], tuple[float, Any]] = field(default_factory=dict)
    stale_reads: int = 0

    def _note(self, table: Any, hash_value: Any, range_value: Any, before: Any) -> None:
        if not table.global_indexes:
            return
        key = (table.name, hash_value, range_value)
        visible_from = self.clock.elapsed + max(0.0, self.lag())
        previous = self.pending.get(key)
        if previous and previous[0] > self.clock.elapsed:
            before = previous[1]  # the index still shows the version before the earlier write
        self.pending[key] = (visible_from, before)

    def install(self, patches: Patches) -> None:
        stale = self
        table_cls = ddb_table.Table
        original_put, original_delete, original_query = table_cls.put_item, table_cls.delete_item, table_cls.query

        def put_item(table: Any, item_attrs: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
            indexed = {a for i in table.global_indexes for a in i.schema_key_attrs}
            hash_value = _plain_key(item_attrs.get(table.hash_key_attr))
            range_value = _plain_key(item_attrs.get(table.range_key_attr)) if table.range_key_attr else None
            current = _current(table, hash_value, range_value) if indexed else None
            if not indexed or (not indexed & set(item_attrs) and not (current and indexed & set(current.attrs))):
                return original_put(table, item_attrs, *args, **kwargs)  # no index sees this item
            before = _copy_item(current)
            result = original_put(table, item_attrs, *args, **kwargs)
            stale._note(table, hash_value, range_value, before)
            return result

        def delete_item(table: Any, hash_key: Any, range_key: Any = None) -> Any:
            item = original_delete(table, hash_key, range_key)
            if item is not None:
                stale._note(table, hash_key.value, range_key.value if range_key is not None else None, item)
            return item

        def query(table: Any, *args: Any, **kwargs: Any) -> Any:
            results, scanned, last = original_query(table, *args, **kwargs)
            bound = _MOTO_QUERY.bind(table, *args, **kwargs)
            index_name, hash_key = bound.arguments.get("index_name"), bound.arguments["hash_key"]
            if not index_name:
                return results, scanned, last
            index = next(i for i in table.global_indexes + table.indexes if i.name == index_name)
            attr = index.schema[0]["AttributeName"]
            now = stale.clock.elapsed
            unseen = {k: before for k, (at, before) in stale.pending.items() if k[0] == table.name and at > now}
            if not unseen:
                return results, scanned, last
            stale.stale_reads += 1
            kept = [i for i in results if (table.name, i.hash_key.value, _range(i)) not in unseen]
            for before in unseen.values():
                if before is not None and attr in before.attrs and before.attrs[attr].value == hash_key.value:
                    kept.append(before)
            return kept, len(kept), last

        patches.set(table_cls, "put_item", put_item)
        patches.set(table_cls, "delete_item", delete_item)
        patches.set(table_cls, "query", query)


def _plain_key(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dict):
        return next(iter(value.values()))
    return getattr(value, "value", value)


def _current(table: Any, hash_value: Any, range_value: Any) -> Any:
    by_hash = table.items.get(_key_type(table, hash_value))
    if by_hash is None:
        return None
    if table.range_key_attr:
        return by_hash.get(_key_type(table, range_value))
    return by_hash


def _key_type(table: Any, value: Any) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType({"S": value}) if isinstance(value, str) else DynamoType({"N": str(value)})


def _copy_item(item: Any) -> Any:
    return None if item is None else copy.deepcopy(item)


def _range(item: Any) -> Any:
    return item.range_key.value if item.range_key is not None else None


# --- Route 53's request budget ---------------------------------------------------------------

@dataclass
class TokenBucket:
    """``rate`` requests per second with bursts of ``burst``, on the virtual clock."""

    clock: VirtualClock
    rate: float = 5.0
    burst: float = 5.0
    _tokens: float = -1.0
    _at: _dt.datetime | None = None

    def take(self) -> bool:
        now = self.clock.now()
        if self._at is None:
            self._tokens, self._at = self.burst, now
        self._tokens = min(self.burst, self._tokens + (now - self._at).total_seconds() * self.rate)
        self._at = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False


def json_size(value: Any) -> int:
    return len(json.dumps(value, default=str).encode())

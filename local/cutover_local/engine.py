"""Deploy template.yaml onto an embedded AWS (moto) and run the real state machine on it.

- every function in the template becomes a moto Lambda whose invocations are dispatched
  in-process to the real handler (``functions/<dir>/app.py``), with the function's resolved
  environment applied and the layer's ``cutover`` package importable;
- the state machine is created from ``statemachines/cutover.asl.json`` with its
  ``DefinitionSubstitutions`` resolved, and runs on moto's ASL interpreter;
- Wait states, Retry intervals, task timeouts, SDK retry backoff and the waits of
  ``.waitForTaskToken`` callbacks run on a ``VirtualClock`` (an hour takes milliseconds);
- Route 53 is strict (``StrictRoute53``) and CloudWatch serves alarm history (``AlarmHistory``).

And it is as harsh as AWS where a cutover depends on it (``Harshness``, every behaviour on,
every draw from the engine's seed; ``harsh.py`` has the service side):
- a function runs against its template ``Timeout``: time spent inside it (SDK backoff included)
  counts, and past it the invocation is killed at its next AWS call or wait and Step Functions
  sees ``Lambda.Unknown``; a function can also crash at any call, or lose its response after its
  side effects (``Lambda.SdkClientException``);
- EventBridge targets run asynchronously: on error Lambda retries twice (about 1 and 3 minutes
  later), then sends the event to the function's on-failure destination or dead-letter queue,
  or drops it (counted in ``async_dropped``);
- execution status events are best effort (delayed, sometimes dropped); alarm events can be
  late or come twice;
- one Route 53 request budget for the whole account; GSI reads are eventually consistent;
- hooks (``before_call``) let a test or the chaos campaign run another function in the middle
  of one, at a chosen AWS call, as concurrent Lambdas do.

- scheduled functions fire at their rate on the virtual clock; an asynchronous invocation that
  waits inside (the probe between its rounds, ``cutover.clock.sleep``) runs beside the others
  (``detach``, ``pause``) instead of holding them up; ``MaximumRetryAttempts`` is respected.

Traffic, alarm evaluation and alarm events are added on top by ``rehearsal.py``; tests may set
alarm states directly instead.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import os
import random
import threading
import time
import traceback
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore import endpoint as botocore_endpoint
from botocore.awsrequest import AWSResponse
from botocore.retries import standard as botocore_retries
from moto import mock_aws
from moto.awslambda import models as lambda_models
from moto.cloudwatch import models as cloudwatch_models
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.program import program as sfn_program
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import (
    inline_iteration_component as sfn_iteration,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration import job as sfn_job
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branch_worker as sfn_branch_worker
from moto.stepfunctions.parser.asl.component.state.exec.state_parallel import branches_decl as sfn_branches
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback as sfn_callback_task,
)
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp as wait_timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function
from moto.stepfunctions.parser.asl.eval.callback import callback as sfn_callback
from moto.stepfunctions.parser.backend import execution_worker as sfn_execution_worker
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from cutover import clock as domain_clock
from cutover import probes, readiness
from cutover.adapters import clients
from cutover.handler import deps

from . import isolation, metric_math, nested, patch_points
from .alarm_eval import statistic_of
from .alarm_history import AlarmHistory
from .clock import VirtualClock, VirtualDatetimeModule, VirtualThreading
from .concurrency import Park, SharedTime, tracked_threading
from .eventbridge import (
    EventBus,
    execution_status_change,
    rules_from_template,
    scheduled_event,
    schedules_from_template,
)
from .fast_paths import action_names_once, one_backup_per_transaction, plain_dynamodb_results
from .harsh import (
    Outage,
    Patches,
    ServiceFaults,
    StaleIndex,
    StrictStepFunctions,
    TokenBucket,
    cache_parses,
    partition_queries,
    tag_workers,
)
from .health_checks import HealthCheckers
from .origins import Origins
from .strict_route53 import StrictRoute53
from .template import PROJECT_ROOT, load, resolve

ACCOUNT = "123456789012"
REGION = isolation.REGION
POLL_SECONDS = 0.02  # the interpreter runs on a thread; a tighter poll starves it
# While an execution only waits for a task token, nothing else moves time: the engine moves
# it by this much per poll, so traffic, alarms and timers go on as they would in AWS (every timer
# still runs at its own virtual moment; a rehearsal's operator acts at the first poll after its
# moment, up to this late).
IDLE_STEP_SECONDS = 120.0
# After an execution ends, what AWS still does (a late status event, Lambda's asynchronous
# retries at about 1 and 3 minutes) is over within this much virtual time.
SETTLE_SECONDS = 600.0
# With many executions at once, the driver checks this often (wall seconds) whether time may move,
# and looks at the execution it waits for every DRIVE_STEPS checks.
DRIVE_SLEEP, DRIVE_STEPS = 0.0005, 20


@dataclass
class Harshness:
    """The AWS behaviours the engine imposes (``../shared/DESIGN.md``: where AWS is harsher).

    Every one is on by default; what is random is drawn from the engine's seed.
    """

    lambda_timeouts: bool = True  # the template's Timeout kills an invocation
    async_retry_after: tuple[float, float] = (60.0, 120.0)  # Lambda's two retries of an async event
    status_event_delay: tuple[float, float] = (0.0, 20.0)  # "Execution Status Change": best effort
    status_event_drop: float = 0.02
    alarm_event_delay: tuple[float, float] = (0.0, 15.0)  # alarm events: guaranteed, may be late
    alarm_event_duplicate: float = 0.05  # ... or come twice
    index_lag: tuple[float, float] = (0.0, 2.0)  # a GSI sees a write this long after it
    route53_rate: float = 5.0  # requests per second for the whole account

    @classmethod
    def kind(cls) -> Harshness:
        """The engine as kind as moto (for comparison only: nothing passes because of it)."""
        return cls(lambda_timeouts=False, status_event_delay=(0, 0), status_event_drop=0.0,
                   alarm_event_delay=(0, 0), alarm_event_duplicate=0.0, index_lag=(0, 0), route53_rate=0.0)


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    error: str | None
    virtual_at: float
    result: dict[str, Any] | None = None
    message: str | None = None
    number: int = 0  # the nth invocation of this function


@dataclass
class _Function:
    logical_id: str
    name: str
    module: ModuleType
    environment: dict[str, str]
    timeout: float = 3.0
    on_failure: tuple[str, str] | None = None  # (kind, ARN): "destination" or "dlq"
    retries: int = 2  # EventInvokeConfig.MaximumRetryAttempts: Lambda's retries of an asynchronous event


@dataclass
class Stack:
    name: str
    outputs: dict[str, str]
    functions: dict[str, _Function]
    state_machine_arn: str
    table_name: str
    topic_arn: str


@dataclass(frozen=True)
class CallSite:
    """A function about to make an AWS call: the point where faults and interleavings land."""

    function: str  # logical id
    service: str
    operation: str
    call: int  # 1 for the invocation's first AWS call
    invocation: int  # 1 for the function's first invocation


class Killed(BaseException):  # noqa: N818 - what happens to the process, not an error it handles
    """The Lambda runtime ends the invocation (timeout or crash): no handler code runs on.

    A BaseException so that no ``except Exception`` in the function can swallow it."""

    def __init__(self, why: str, timed_out: bool) -> None:
        super().__init__(why)
        self.timed_out = timed_out


@dataclass
class _Closed(BaseException):  # noqa: N818 - the engine ending under a paused invocation, not an error
    """Raised in an invocation paused inside (``Engine.pause``) when its engine closes."""


class TurnLock:
    """The engine's one-invocation-at-a-time lock: re-entrant, and its holder can lend it to an
    invocation run beside the others (``Engine.detach``) while it waits for that one, so that no
    third thread can take the turn in between (which thread got it would decide the order of
    events, and a seed must give one order). A borrower gives it back when it pauses inside, or
    by releasing its last hold when it ends."""

    def __init__(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._owner: int | None = None
        self._count = 0
        self._loans: list[tuple[int | None, int]] = []  # the lenders' holds, innermost last

    def acquire(self, blocking: bool = True) -> bool:
        me = threading.get_ident()
        with self._cond:
            if self._owner == me:
                self._count += 1
                return True
            if not blocking and self._owner is not None:
                return False
            while self._owner is not None:
                self._cond.wait()
            self._owner, self._count = me, 1
            return True

    def release(self) -> None:
        with self._cond:
            assert self._owner == threading.get_ident(), "released by a thread that does not hold it"
            self._count -= 1
            if self._count == 0:
                self._owner, self._count = self._loans.pop() if self._loans else (None, 0)
                self._cond.notify_all()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()

    def lend(self, to: int, count: int = 0) -> None:
        """The holder lends its turn to thread ``to`` (which holds it ``count`` times)."""
        with self._cond:
            assert self._owner == threading.get_ident(), "only the holder lends"
            self._loans.append((self._owner, self._count))
            self._owner, self._count = to, count

    def give_back(self) -> int:
        """The borrower, pausing, hands the turn back to its lender; returns its own holds."""
        with self._cond:
            held, (self._owner, self._count) = self._count, self._loans.pop()
            self._cond.notify_all()
            return held

    # what ``start_now`` uses, as on ``threading.RLock``
    def _is_owned(self) -> bool:
        return self._owner == threading.get_ident()

    def _release_save(self) -> int:
        with self._cond:
            held, self._owner, self._count = self._count, None, 0
            self._cond.notify_all()
            return held

    def _acquire_restore(self, held: int) -> None:
        self.acquire()
        with self._cond:
            self._count = held


@dataclass(eq=False)
class _Fiber:
    """An invocation running beside the others (``Engine.detach``): it runs only while the thread
    that handed it control waits, and hands control back when it pauses or ends."""

    resume: threading.Event = field(default_factory=threading.Event)
    yielded: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    held: int = 0  # its holds of the engine's turn when it paused


@dataclass
class _Frame:
    function: _Function
    deadline: float
    invocation: int
    calls: int = 0


class _VirtualTime:
    """Stands in for the ``time`` module where something sleeps: sleeping advances the clock,
    and a sleep inside a function that would pass its timeout kills the invocation there."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def sleep(self, seconds: float) -> None:
        self._engine.spend(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@dataclass
class Engine:
    """Use as a context manager; ``deploy()`` then ``run(plan)``."""

    clock: VirtualClock = field(default_factory=VirtualClock)
    route53: StrictRoute53 = field(default_factory=StrictRoute53)
    health_checks: HealthCheckers = field(default_factory=HealthCheckers)
    seed: int = 0
    harsh: Harshness = field(default_factory=Harshness)
    # a harness fault run before a function's handler (its calls are not the function's)
    faults: dict[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)
    # called after every Lambda invocation, in order
    on_invocation: list[Callable[[Invocation], None]] = field(default_factory=list)
    # called before every AWS call a function makes (may raise Killed, hang, or run another function)
    before_call: list[Callable[[CallSite], None]] = field(default_factory=list)
    # after an invocation's side effects: True loses its response (the caller sees an SDK error)
    lose_response: list[Callable[[Invocation], bool]] = field(default_factory=list)
    outages: list[Outage] = field(default_factory=list)
    # the AWS API calls each function made, as IAM actions ("route53:ChangeResourceRecordSets")
    api_calls: dict[str, set[str]] = field(default_factory=dict)
    async_dropped: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    async_sent: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (function, ARN, record)
    status_events_dropped: int = 0
    scheduled: list[tuple[str, float]] = field(default_factory=list)  # (schedule, virtual seconds) fired
    # One Lambda invocation at a time: each applies its function's environment to the process.
    _invoking: TurnLock = field(default_factory=TurnLock)
    _local: threading.local = field(default_factory=threading.local)
    stack: Stack | None = None
    events: EventBus | None = None
    sfn: StrictStepFunctions | None = None
    stale_index: StaleIndex | None = None
    service_faults: ServiceFaults | None = None
    _announced: set[str] = field(default_factory=set)
    ended_at: dict[str, float] = field(default_factory=dict)  # execution ARN -> virtual seconds
    _counts: dict[str, int] = field(default_factory=dict)
    # tokens of tasks waiting now (a token leaves the set the moment it is answered, on the
    # answering thread, so time never moves on between an answer and the task waking up)
    _waiting: set[str] = field(default_factory=set)
    _held_thread: int | None = None  # an execution started by start_now(), until it first waits
    _held_idle: threading.Event = field(default_factory=threading.Event)
    _handed_back: threading.Event = field(default_factory=threading.Event)
    _exits: list[Callable[[], None]] = field(default_factory=list)
    _environment_before: dict[str, str | None] = field(default_factory=dict)
    _fibers: set[Any] = field(default_factory=set)  # invocations paused inside (``pause``)
    _closing: bool = False
    # the probe function's requests: the origins' model (False) or real HTTPS to them (True)
    real_probes: bool = False
    # called with (namespace, datums) for every PutMetricData the embedded CloudWatch takes
    on_metric_data: list[Callable[[str, list[dict[str, Any]]], None]] = field(default_factory=list)
    # many executions at once whose waits overlap (a campaign: ``concurrency.py``); off, one
    # execution's wait is everyone's (exact, and byte-for-byte reproducible, for one cutover)
    concurrent: bool = False
    shared: SharedTime | None = None
    _child_parks: dict[str, list[Park]] = field(default_factory=dict)  # child ARN -> parents waiting
    _token_parks: dict[str, Park] = field(default_factory=dict)

    def rng(self, purpose: str) -> random.Random:
        """A random stream of its own for each purpose, from the engine's seed."""
        return random.Random(f"{self.seed}/{purpose}")  # noqa: S311 - a reproducible simulation

    # lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Engine:
        patch_points.verify_once()
        saved_env = isolation.isolate()  # nothing of the user's AWS configuration reaches the engine
        self._exits.append(lambda: isolation.restore(saved_env))
        mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        mock.start()
        self._exits.append(mock.stop)
        domain_clock.set_source(self.clock)
        self._exits.append(lambda: domain_clock.set_source(None))
        domain_clock.set_sleeper(self.pause)
        self._exits.append(lambda: domain_clock.set_sleeper(None))
        clients.reset()
        self._exits.append(clients.reset)
        if self.harsh.route53_rate > 0:
            self.route53.budget = TokenBucket(self.clock, self.harsh.route53_rate, self.harsh.route53_rate)
        self.route53.author = self.current
        self.route53.install()
        self._exits.append(self.route53.uninstall)
        history = AlarmHistory().install()
        self._exits.append(history.uninstall)
        fresh_default_session()  # its clients carry the hooks below
        boto3.DEFAULT_SESSION.events.register("before-call", self._on_api_call)
        boto3.DEFAULT_SESSION.events.register("before-parameter-build.cloudwatch.PutMetricData", _keep_params)
        boto3.DEFAULT_SESSION.events.register("before-call.cloudwatch.PutMetricData", self._put_metric_data_in_process)
        patches = Patches()
        self._exits.append(patches.undo)
        virtual_time = _VirtualTime(self)
        patches.set(botocore_endpoint, "time", virtual_time)  # SDK retry backoff
        backoff = self.rng("sdk-backoff")
        patches.set(botocore_retries.ExponentialBackoff, "delay_amount", _seeded_delay(backoff))
        patches.set(lambda_models.LambdaFunction, "_invoke_lambda", self._dispatcher())
        patches.set(lambda_eval_utils, "boto_client_for", _reused_clients(lambda_eval_utils.boto_client_for))
        patches.set(wait_function.WaitFunction, "_wait_interval",
                    lambda _self, env, wait_seconds: self._wait_state(wait_seconds, lambda: not env.is_running()))
        patches.set(retrier_decl, "time", virtual_time)
        nested.install(patches)
        # GetMetricData's expressions as CloudWatch evaluates them (moto's parser knows no IF or FILL)
        patches.set(cloudwatch_models, "parse_expression",
                    lambda expression, results, fallback=cloudwatch_models.parse_expression:
                    metric_math.over_results(expression, results, fallback))
        if self.concurrent:
            self._share_time(patches)
        else:
            patches.set(execute_state, "threading", VirtualThreading(self.clock))  # TimeoutSeconds
        patches.set(wait_timestamp, "datetime", VirtualDatetimeModule(self.clock))  # Wait Timestamp(Path)
        patches.set(sfn_callback.CallbackEndpoint, "wait", self._token_wait())
        tag_workers(patches)
        cache_parses(patches)
        self.sfn = StrictStepFunctions(self.clock, self.rng("sfn-jitter"), self._execution_ended,
                                       self._answered if self.concurrent else self._waiting.discard)
        self.sfn.install(patches)
        lag = self.rng("index-lag")
        self.stale_index = StaleIndex(self.clock, lambda: lag.uniform(*self.harsh.index_lag))
        self.stale_index.install(patches)
        self.partition_reads = partition_queries(patches)
        plain_dynamodb_results(patches)
        action_names_once(patches)
        one_backup_per_transaction(patches)
        self.service_faults = ServiceFaults(self.clock, self.rng("service-faults"), self.outages)
        self.service_faults.install(patches)
        # the origins users would meet: real HTTPS on loopback, reached by the product's own code
        self.origins = Origins()
        self._exits.append(self.origins.close)
        # Route 53's health checkers, on the engine's clock, judging the loopback origins
        self.health_checks.probe = self.origins.as_health_checker
        self.health_checks.install(self.route53.count, lambda: self.clock.elapsed, self.clock.call_at)
        self._exits.append(self.health_checks.uninstall)
        patches.set(readiness, "system_resolver", self.origins.resolve)
        patches.set(readiness, "CA_BUNDLE", self.origins.cafile)
        taken = cloudwatch_models.CloudWatchBackend.put_metric_data
        engine = self

        def put_metric_data(backend: Any, namespace: str, metric_data: list[dict[str, Any]]) -> None:
            taken(backend, namespace, metric_data)
            for listener in list(engine.on_metric_data):
                listener(namespace, metric_data)

        patches.set(cloudwatch_models.CloudWatchBackend, "put_metric_data", put_metric_data)
        patches.set(cloudwatch_models.Statistics, "get_statistics_for_type", _statistic_with_percentiles(
            cloudwatch_models.Statistics.get_statistics_for_type))
        if not self.real_probes:  # the probe's requests answered by the origins' model, in order
            self.origins.probe_rng.seed(f"{self.seed}/probes")
            patches.set(probes, "SEND", self.origins.as_probe)
            patches.set(probes, "PARALLEL", False)
        return self

    def _share_time(self, patches: Patches) -> None:
        """Every thread of moto's interpreter counted, every wait a timer (``concurrency.py``)."""
        shared = self.shared = SharedTime(self.clock)
        tracked = tracked_threading(shared)
        for module in (sfn_program, sfn_iteration, sfn_job, sfn_branches, sfn_branch_worker, sfn_callback_task):
            patches.set(module, "threading", tracked)
        patches.set(execute_state, "threading", tracked)  # TimeoutSeconds, on the virtual clock
        patches.set(execute_state, "Thread", tracked.Thread)
        patches.set(sfn_execution_worker, "Thread", tracked.Thread)
        patches.set(sfn_callback_task, "time", _ChildWait(self))

    def _answered(self, token: str) -> None:
        self._waiting.discard(token)
        park = self._token_parks.pop(token, None)
        if park is not None:
            park.fire()

    def _wait_state(self, seconds: float, interrupted: Callable[[], bool] | None = None) -> None:
        """A Wait state (or a retry interval): the whole engine's wait, or this thread's alone."""
        if self.shared is not None and self._frame() is None and self.shared.tracks(threading.current_thread()):
            self.shared.park(seconds, interrupted)
        elif interrupted is None:
            self._advance(seconds)
        else:
            self._advance(seconds, interrupted)

    def __exit__(self, *exc: object) -> None:
        self._stop_all()
        while self._exits:
            self._exits.pop()()
        deps.cache_clear()

    def _stop_all(self, timeout: float = 5.0) -> None:
        """End every execution still running, and wait for its thread: an execution must not
        outlive its engine (its thread would invoke functions in the next engine of the process)."""
        self._closing = True
        if self.sfn is not None:
            running = self.sfn._running()
            for execution in running:
                self.sfn.end(execution, "ABORTED", "EngineClosed", "the local engine was closed", announce=False)
            deadline = time.monotonic() + timeout
            for execution in running:
                thread = getattr(execution.exec_worker, "_engine_thread", None)
                if thread is not None:
                    thread.join(max(0.0, deadline - time.monotonic()))
        # an invocation paused inside ends with its engine; if an execution still holds the
        # turn (it did not end in time), the paused one is left to its daemon thread rather than
        # waited for
        if self._fibers and self._invoking.acquire(blocking=False):
            try:
                for fiber in list(self._fibers):
                    self._hand_to(fiber, fiber.held)
            finally:
                self._invoking.release()

    # deploy ------------------------------------------------------------------------------
    def deploy(self, parameters: dict[str, str], stack_name: str = "cutover-local",
               template: dict[str, Any] | None = None) -> Stack:
        """Deploy ``template.yaml`` (or ``template``, a changed copy of it, in a test)."""
        template = copy.deepcopy(template) if template is not None else load()
        resources = template["Resources"]
        refs: dict[str, Any] = {"AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::Partition": "aws",
                                "AWS::StackName": stack_name}
        for name, spec in template.get("Parameters", {}).items():
            refs[name] = parameters.get(name, spec.get("Default", ""))
        missing = [n for n, s in template.get("Parameters", {}).items() if refs[n] == "" and "Default" not in s]
        if missing:
            raise ValueError(f"deploy needs the template parameters {', '.join(missing)}")
        attrs: dict[tuple[str, str], Any] = {}

        table = f"{stack_name}-table"
        create_table(table, resources["CutoverTable"]["Properties"])
        refs["CutoverTable"] = table
        attrs[("CutoverTable", "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"
        topic = boto3.client("sns").create_topic(Name=f"{stack_name}-topic")["TopicArn"]
        refs["CutoverTopic"] = topic
        for logical, spec in resources.items():
            if spec["Type"] == "AWS::SQS::Queue":  # where failed asynchronous events go
                url = boto3.client("sqs").create_queue(QueueName=f"{stack_name}-{logical}")["QueueUrl"]
                refs[logical] = url
                attrs[(logical, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{stack_name}-{logical}"
                attrs[(logical, "QueueName")] = f"{stack_name}-{logical}"
        for logical, spec in resources.items():  # what the engine does not run, named as CloudFormation would
            if spec["Type"] == "AWS::IAM::ManagedPolicy":
                refs[logical] = f"arn:aws:iam::{ACCOUNT}:policy/{stack_name}-{logical}"
            elif spec["Type"] == "AWS::CloudWatch::Dashboard":
                refs[logical] = f"{stack_name}-cutover"
        refs["AWS::StackId"] = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{stack_name}/local"
        # The layer is the installed ``cutover`` package itself: handlers import it directly.
        refs["CutoverLayer"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{stack_name}-cutover:1"

        role = boto3.client("iam").create_role(RoleName=f"{stack_name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        globals_ = template.get("Globals", {}).get("Function", {})
        code = _empty_zip()
        lambda_api = boto3.client("lambda")
        functions_by_logical: dict[str, _Function] = {}
        for logical, spec in resources.items():
            if spec["Type"] == "AWS::Serverless::Function":
                name = f"{stack_name}-{logical}"
                refs[logical], attrs[(logical, "Arn")] = name, f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
        for logical, spec in resources.items():
            if spec["Type"] != "AWS::Serverless::Function":
                continue
            props = spec["Properties"]
            name = refs[logical]
            variables = {**globals_.get("Environment", {}).get("Variables", {}),
                         **props.get("Environment", {}).get("Variables", {})}
            environment = {k: str(resolve(v, refs, attrs)) for k, v in variables.items()}
            timeout = int(props.get("Timeout", globals_.get("Timeout", 3)))
            lambda_api.create_function(
                FunctionName=name, Runtime=props.get("Runtime", globals_.get("Runtime")), Role=role,
                Handler=props["Handler"], Code={"ZipFile": code}, Timeout=timeout,
                Environment={"Variables": environment},
            )
            functions_by_logical[logical] = _Function(
                logical, name, _load_handler(PROJECT_ROOT / props["CodeUri"], props["Handler"]), environment,
                timeout, _on_failure(props, lambda value: resolve(value, refs, attrs)),
                int((props.get("EventInvokeConfig") or {}).get("MaximumRetryAttempts", 2)))

        # the cutover's state machine first: a campaign's starts it
        machines = sorted((logical for logical, spec in resources.items() if spec["Type"] == "AWS::Serverless::StateMachine"),
                          key=lambda logical: logical != "CutoverStateMachine")
        for logical in machines:
            machine = resources[logical]["Properties"]
            substitutions = {k: resolve(v, refs, attrs) for k, v in machine.get("DefinitionSubstitutions", {}).items()}
            definition = (PROJECT_ROOT / machine["DefinitionUri"]).read_text()
            for key, value in substitutions.items():
                definition = definition.replace("${" + key + "}", str(value))
            machine_name = f"{stack_name}-{_machine_name(logical)}"
            refs[logical] = boto3.client("stepfunctions").create_state_machine(
                name=machine_name, definition=definition, roleArn=role, type=machine.get("Type", "STANDARD"),
            )["stateMachineArn"]
            attrs[(logical, "Name")] = machine_name
        arn = refs["CutoverStateMachine"]
        outputs = {k: str(resolve(v["Value"], refs, attrs)) for k, v in template.get("Outputs", {}).items()}
        self.stack = Stack(stack_name, outputs, {f.name: f for f in functions_by_logical.values()}, arn, table, topic)
        rules = rules_from_template(resources, {logical: f.name for logical, f in functions_by_logical.items()},
                                    lambda value: resolve(value, refs, attrs))
        self.events = EventBus(rules, self.invoke_async, self.clock, self._delivery(), self._record_drop)
        for schedule in schedules_from_template(resources, {logical: f.name for logical, f in functions_by_logical.items()}):
            self._every(schedule)
        deps.cache_clear()
        return self.stack

    def _every(self, schedule: Any) -> None:
        """EventBridge invokes a scheduled function every period (asynchronously, as for any rule)."""
        def fire() -> None:
            self.scheduled.append((schedule.name, self.clock.elapsed))
            self.clock.call_at(self.clock.elapsed + schedule.period_seconds, fire)
            with self.outside():
                self.invoke_async(schedule.target, scheduled_event(schedule, self.clock.now(), ACCOUNT, REGION),
                                  detached=True)

        self.clock.call_at(self.clock.elapsed + schedule.period_seconds, fire)

    # run ---------------------------------------------------------------------------------
    def start(self, plan: dict[str, Any], name: str) -> str:
        assert self.stack, "deploy() first"
        return boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.stack.state_machine_arn, name=name, input=json.dumps(plan)
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 60.0, on_poll: Callable[[], None] | None = None,
             virtual_limit: float | None = None) -> dict[str, Any]:
        """Poll until the execution ends (real seconds, not virtual); ``on_poll`` runs between polls
        on this thread (a rehearsal's operator acts there). While the execution only waits for a
        task token, virtual time moves on by itself (``IDLE_STEP_SECONDS`` a poll), up to
        ``virtual_limit`` seconds since the clock's start. ``on_poll`` runs again only once
        something moved since it last ran: virtual time, an invocation, or an interpreter thread
        (what an operator looks at changes no other way, and looking is most of its cost)."""
        sfn = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout
        progress: list[Any] = []
        polled: tuple[float, int, int] | None = None
        while time.monotonic() < deadline:
            if self._status(execution_arn) != "RUNNING":
                return sfn.describe_execution(executionArn=execution_arn)
            moved = (self.clock.elapsed, len(self.invocations), self.shared.activity if self.shared else 0)
            if on_poll and moved != polled:
                polled = moved
                on_poll()
            if self.shared is not None:  # many executions at once: time moves when none can run
                if virtual_limit is not None and self.clock.elapsed >= virtual_limit:
                    return sfn.describe_execution(executionArn=execution_arn)
                for _ in range(DRIVE_STEPS):
                    self.shared.drive(self._busy, self._advance, IDLE_STEP_SECONDS, progress)
                    self.shared.settle(DRIVE_SLEEP, self._busy)
                continue
            if self._waiting and not self._busy() and (virtual_limit is None or self.clock.elapsed < virtual_limit):
                self._advance(IDLE_STEP_SECONDS)
            elif virtual_limit is not None and self.clock.elapsed >= virtual_limit:
                return sfn.describe_execution(executionArn=execution_arn)
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s of wall time")

    @staticmethod
    def _status(execution_arn: str) -> str:
        """What DescribeExecution would say of the execution's status, read from the embedded
        Step Functions in process: the harness polls it every few milliseconds, and a call's
        serialization each time was an eighth of a rehearsal's CPU."""
        return stepfunctions_parser_backends[ACCOUNT][REGION].describe_execution(execution_arn).status

    def run(self, plan: dict[str, Any], name: str = "rehearsal-1", settle: float = SETTLE_SECONDS) -> dict[str, Any]:
        """Run an execution to its end, then let the world go on for ``settle`` virtual seconds
        (late events, asynchronous retries), as it does in AWS after an execution ends."""
        described = self.wait(self.start(plan, name))
        self.settle(settle)
        return described

    def settle(self, seconds: float = SETTLE_SECONDS) -> None:
        """Let ``seconds`` of virtual time pass with nothing running (timers fire on the way)."""
        self._advance(seconds)

    def announce_ended(self) -> None:
        """Kept for the local endpoint: every execution's end is told the moment it happens."""

    def _execution_ended(self, execution: Any) -> None:
        """EventBridge hears of each execution's end once, best effort (the safety net's trigger)."""
        if execution.execution_arn in self._announced or self.events is None:
            return
        self._announced.add(execution.execution_arn)
        self.ended_at[execution.execution_arn] = self.clock.elapsed
        for park in self._child_parks.pop(execution.execution_arn, []):
            park.fire()  # a parent waiting for this child (startExecution.sync) goes on now
        described = {
            "executionArn": execution.execution_arn,
            "stateMachineArn": execution.state_machine_arn,
            "name": execution.name,
            "status": execution.exec_status.value,
            "startDate": execution.start_date,
            "stopDate": execution.stop_date,
            "input": execution.input_data if isinstance(execution.input_data, str) else json.dumps(execution.input_data),
            "output": getattr(execution, "output", None) and json.dumps(execution.output),
            "error": getattr(execution, "error", None),
            "cause": getattr(execution, "cause", None),
        }
        self.events.put(execution_status_change(described, ACCOUNT, REGION, self.clock.now()))

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = boto3.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def state_transitions(self, execution_arn: str) -> int:
        """How many states the execution entered (its history's ``…StateEntered`` events), read
        from the embedded Step Functions in process rather than page by page through the API."""
        events = stepfunctions_parser_backends[ACCOUNT][REGION].get_execution_history(execution_arn)["events"]
        return sum(1 for e in events if str(e["type"]).endswith("StateEntered"))

    # EventBridge and asynchronous invocation -------------------------------------------------
    def _delivery(self) -> Callable[[dict[str, Any]], list[float]]:
        """When each event reaches its targets: delays in seconds, one per copy (none: dropped)."""
        rng = self.rng("eventbridge")
        harsh = self.harsh

        def delays(event: dict[str, Any]) -> list[float]:
            if event.get("detail-type") == "Step Functions Execution Status Change":
                if rng.random() < harsh.status_event_drop:
                    return []
                return [rng.uniform(*harsh.status_event_delay)]
            if event.get("detail-type") == "CloudWatch Alarm State Change":
                first = rng.uniform(*harsh.alarm_event_delay)
                if rng.random() < harsh.alarm_event_duplicate:
                    return [first, first + rng.uniform(0, 60)]
                return [first]
            return [0.0]

        return delays

    def _record_drop(self, event: dict[str, Any]) -> None:
        self.status_events_dropped += 1

    def invoke_async(self, function_name: str, event: dict[str, Any], attempt: int = 1, detached: bool = False) -> None:
        """Invoke as Lambda does for EventBridge: on error, two retries (or the function's
        ``MaximumRetryAttempts``), then the on-failure destination or dead-letter queue, or the
        event is dropped. ``detached``: the invocation runs beside the others (``detach``)."""
        if detached:
            self.detach(lambda: self.invoke_async(function_name, event, attempt))
            return
        payload, errored = self._run(function_name, event)
        if not errored:
            return
        assert self.stack is not None
        target = self.stack.functions[function_name]
        if attempt <= min(target.retries, len(self.harsh.async_retry_after)):
            delay = self.harsh.async_retry_after[attempt - 1] * self._retry_rng.uniform(0.9, 1.1)
            self.clock.call_at(self.clock.elapsed + delay,
                               lambda: self.invoke_async(function_name, event, attempt + 1, detached=True))
            return
        if target.on_failure is None:
            self.async_dropped.append((target.logical_id, event))
            return
        kind, arn = target.on_failure
        record: dict[str, Any] = event if kind == "dlq" else {
            "version": "1.0", "timestamp": self.clock.now().isoformat(),
            "requestContext": {"functionArn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{function_name}",
                               "condition": "RetriesExhausted", "approximateInvokeCount": attempt},
            "requestPayload": event, "responsePayload": json.loads(payload),
        }
        self.async_sent.append((target.logical_id, arn, record))
        service = arn.split(":")[2]
        if service == "sqs":
            url = boto3.client("sqs").get_queue_url(QueueName=arn.split(":")[-1])["QueueUrl"]
            boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record, default=str))
        elif service == "sns":
            boto3.client("sns").publish(TopicArn=arn, Message=json.dumps(record, default=str))

    @property
    def _retry_rng(self) -> random.Random:
        if not hasattr(self._local, "retry_rng"):
            self._local.retry_rng = self.rng("async-retry")
        return self._local.retry_rng

    # lambda dispatch ---------------------------------------------------------------------
    def _frames(self) -> list[_Frame | None]:
        """This thread's invocations, innermost last; None marks the harness acting in between."""
        if not hasattr(self._local, "frames"):
            self._local.frames = []
        return self._local.frames

    def _frame(self) -> _Frame | None:
        frames = self._frames()
        return frames[-1] if frames else None

    @contextmanager
    def outside(self) -> Iterator[None]:
        """The harness acts (a hook, a fault): its AWS calls are nobody's, its time kills nobody."""
        frames = self._frames()
        frames.append(None)
        try:
            yield
        finally:
            frames.pop()

    def current(self) -> str | None:
        """The logical id of the function running on this thread, if any."""
        frame = self._frame()
        return frame.function.logical_id if frame else None

    def _busy(self) -> bool:
        acquired = self._invoking.acquire(blocking=False)
        if acquired:
            self._invoking.release()
        return not acquired

    def _advance(self, seconds: float, interrupted: Callable[[], bool] = lambda: False) -> None:
        """Move virtual time on, never while a function runs on another thread (its time would
        jump): one invocation or one advance at a time, as the engine runs one invocation at a time."""
        if threading.get_ident() == self._held_thread:
            self._held_idle.set()  # an execution started by start_now() is idle: hand time back
            self._handed_back.wait()
        with self._invoking:
            self.clock.advance(seconds, interrupted)

    def start_now(self, plan: dict[str, Any], name: str, timeout: float = 30.0) -> str:
        """Start an execution from inside the engine's time (a harness action in a timer) and let
        it run until it first waits or ends, at this virtual moment, as a concurrent execution in
        AWS would: its first task (Preflight) runs now, not once the current Wait is over."""
        owned = self._invoking._is_owned()  # type: ignore[attr-defined]
        saved = self._invoking._release_save() if owned else None  # type: ignore[attr-defined]
        before = {t.ident for t in threading.enumerate()}
        self._held_idle.clear()
        self._handed_back.clear()
        try:
            arn = self.start(plan, name)
            new = [t.ident for t in threading.enumerate() if t.ident not in before]
            self._held_thread = new[0] if new else None
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not self._held_idle.is_set():
                if self._status(arn) != "RUNNING":
                    break
                time.sleep(0.002)
        finally:
            if owned:
                self._invoking._acquire_restore(saved)  # type: ignore[attr-defined]
            self._held_thread = None
            self._handed_back.set()
        return arn

    def detach(self, action: Callable[[], None]) -> None:
        """Run ``action`` (an asynchronous invocation) as Lambda runs a concurrent one. It runs on
        a thread of its own, but only while this thread waits for it: until it pauses inside
        (``pause``, a function waiting between its rounds) or ends. A pause hands time back, and a
        timer at its end resumes it at that virtual moment, so a function that waits inside never
        holds up the others, and one clock still moves one invocation at a time."""
        fiber = _Fiber()

        def body() -> None:
            self._local.fiber = fiber
            fiber.resume.wait()
            try:
                if not self._closing:
                    action()
            except _Closed:
                pass
            finally:
                self._fibers.discard(fiber)
                fiber.yielded.set()

        fiber.thread = threading.Thread(target=body, name="lambda-async", daemon=True)
        self._fibers.add(fiber)
        fiber.thread.start()
        self._hand_to(fiber)

    def _hand_to(self, fiber: _Fiber, held: int = 0) -> None:
        """Lend ``fiber`` this thread's turn until it pauses or ends."""
        assert fiber.thread is not None and fiber.thread.ident is not None
        with self._invoking:
            self._invoking.lend(fiber.thread.ident, held)
            fiber.yielded.clear()
            fiber.resume.set()
            fiber.yielded.wait()

    def pause(self, seconds: float) -> None:
        """A wait inside a function (``cutover.clock.sleep``). In an invocation run beside the
        others (``detach``) the others run and time moves on meanwhile, and a timer resumes it at
        its moment; anywhere else, and past the function's timeout, it is time spent (``spend``)."""
        fiber, frame = getattr(self._local, "fiber", None), self._frame()
        if fiber is None or frame is None or (self.harsh.lambda_timeouts and self.clock.elapsed + seconds >= frame.deadline):
            self.spend(seconds)
            return
        held = fiber.held = self._invoking.give_back()
        self.clock.call_at(self.clock.elapsed + seconds, lambda: self._hand_to(fiber, held))
        fiber.resume.clear()
        fiber.yielded.set()
        fiber.resume.wait()
        if self._closing:
            raise _Closed

    def spend(self, seconds: float) -> None:
        """Time passes on this thread (an SDK backoff, a retry interval, a hang): inside a
        function, past its timeout, the invocation is killed at its deadline."""
        frame = self._frame()
        if frame and self.harsh.lambda_timeouts and self.clock.elapsed + seconds >= frame.deadline:
            self._advance(max(0.0, frame.deadline - self.clock.elapsed))
            raise Killed(f"Task timed out after {frame.function.timeout:.2f} seconds", True)
        self._wait_state(seconds)

    def hang(self) -> None:
        """The running function stops answering (a socket that never returns): it is killed at
        its timeout. For a ``before_call`` hook: the call it was about to make never returns."""
        frame = next((f for f in reversed(self._frames()) if f is not None), None)
        assert frame, "hang() is for a running function"
        self._advance(max(0.0, frame.deadline - self.clock.elapsed))
        raise Killed(f"Task timed out after {frame.function.timeout:.2f} seconds", True)

    def _on_api_call(self, model: Any, **_: Any) -> None:
        frame = self._frame()
        if frame is None:
            return
        service = model.service_model.service_name
        prefix = {"stepfunctions": "states"}.get(service, service)
        self.api_calls.setdefault(frame.function.logical_id, set()).add(f"{prefix}:{model.name}")
        if self.harsh.lambda_timeouts and self.clock.elapsed >= frame.deadline:
            raise Killed(f"Task timed out after {frame.function.timeout:.2f} seconds", True)
        frame.calls += 1
        if self.shared is not None:
            self.shared.activity += 1
        site = CallSite(frame.function.logical_id, service, model.name, frame.calls, frame.invocation)
        for hook in list(self.before_call):
            with self.outside():
                hook(site)

    def _put_metric_data_in_process(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        """PutMetricData (the probe's, every round) handed to the embedded CloudWatch in process:
        validated and serialized by botocore like any call, counted and hooked like any call
        (``_on_api_call``), but without moto parsing the request again (most of its cost). While
        an injected CloudWatch outage covers the moment, it takes the ordinary way and meets it."""
        kept = context.get("cutover_engine_params")
        if kept is None or any(o.covers("cloudwatch", model.name, self.clock.elapsed) for o in self.outages):
            return None
        self._on_api_call(model)
        data = [{**datum, "Timestamp": _naive_utc(datum["Timestamp"])} if "Timestamp" in datum else dict(datum)
                for datum in kept["MetricData"]]
        cloudwatch_models.cloudwatch_backends[ACCOUNT][REGION].put_metric_data(kept["Namespace"], data)
        return AWSResponse("https://monitoring.us-east-1.amazonaws.com/", 200, {}, None), {
            "ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "local"}}

    def _record(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        for listener in self.on_invocation:
            listener(invocation)

    def _apply_environment(self, variables: dict[str, str]) -> None:
        """A function's environment, set in the process for the engine's life (put back as it
        was when the engine closes). In Lambda each function has a process of its own; here they
        share one, and the interpreter's threads read ``os.environ`` while a function runs:
        botocore copies it key by key when it builds a client, so taking a key out after each
        invocation made a campaign's StartExecution task fail now and then with
        ``States.Runtime: 'TABLE_NAME'``. Every function of the template has the same variables
        (its ``Globals``); one with other values gets them at its invocation: values change, keys
        never disappear while the engine runs."""
        first = not self._environment_before
        for key in variables:
            self._environment_before.setdefault(key, os.environ.get(key))
        os.environ.update(variables)
        if first:
            self._exits.append(lambda: isolation.restore(self._environment_before))

    def _run(self, function_name: str, event: Any) -> tuple[str, bool]:
        """Run one invocation of the real handler; (payload, errored) as Lambda answers."""
        assert self.stack and self.sfn
        target = self.stack.functions[function_name]
        event = event if isinstance(event, dict) else json.loads(event or "{}")
        with self._invoking:
            self._apply_environment(target.environment)
            deps.cache_clear()
            number = self._counts[target.logical_id] = self._counts.get(target.logical_id, 0) + 1
            frames = self._frames()
            at = self.clock.elapsed
            try:
                fault = self.faults.get(target.logical_id)
                if fault:
                    with self.outside():
                        fault(event)  # the test harness's doing: its calls are not the function's
                frames.append(_Frame(target, at + target.timeout, number))
                try:
                    result = target.module.lambda_handler(event, _Context(function_name))
                finally:
                    frames.pop()
                if self.harsh.lambda_timeouts and self.clock.elapsed > at + target.timeout:
                    raise Killed(f"Task timed out after {target.timeout:.2f} seconds", True)
            except Killed as killed:
                error = "Lambda.Unknown"
                why = f"{killed} (Sandbox.Timedout)" if killed.timed_out else f"{killed} (Runtime.ExitError)"
                self._record(Invocation(target.logical_id, event, error, at, message=why, number=number))
                return json.dumps({"errorMessage": why, "errorType": error}), True
            except Exception as exc:  # noqa: BLE001 - becomes Lambda's error payload, as in AWS
                self._record(Invocation(target.logical_id, event, type(exc).__name__, at, message=str(exc), number=number))
                payload = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                           "stackTrace": traceback.format_tb(exc.__traceback__)}
                return json.dumps(payload), True
        payload = json.dumps(result, default=str)
        invocation = Invocation(target.logical_id, event, None, at, result=result, number=number)
        if self.sfn.payload_too_large(payload):
            state = event.get("cutover") if isinstance(event, dict) else None
            self.sfn.fail_current((state or {}).get("execution_arn") or (state or {}).get("id"), "States.DataLimitExceeded",
                                  f"The state/task '{target.logical_id}' returned a result larger than 256 KiB")
        if any(lose(invocation) for lose in list(self.lose_response)):
            invocation.error, invocation.message = "Lambda.SdkClientException", "the response was lost after the function ran"
            self._record(invocation)
            return json.dumps({"errorMessage": invocation.message, "errorType": invocation.error}), True
        self._record(invocation)
        return payload, False

    def _dispatcher(self) -> Callable[..., tuple[str, bool, str]]:
        engine = self

        def invoke(function: Any, event: Any = None) -> tuple[str, bool, str]:
            payload, errored = engine._run(function.function_name, event)
            return payload, errored, ""

        return invoke

    def _token_wait(self) -> Callable[..., Any]:
        """``.waitForTaskToken`` on the virtual clock: its timeout counts virtual seconds, and the
        engine knows an execution is only waiting (so it may move time on)."""
        engine = self

        def wait(endpoint: Any, timeout: float | None = None) -> Any:
            deadline = None if timeout is None else engine.clock.elapsed + timeout
            if engine.shared is not None:  # this thread alone waits; the answer (or its timer) wakes it
                engine._waiting.add(endpoint.callback_id)
                try:
                    engine.shared.park(timeout, lambda: endpoint._notify_event.is_set(),
                                       register=lambda park: engine._token_parks.__setitem__(endpoint.callback_id, park))
                finally:
                    engine._waiting.discard(endpoint.callback_id)
                    engine._token_parks.pop(endpoint.callback_id, None)
                if deadline is None or engine.clock.elapsed < deadline:
                    endpoint._notify_event.wait(2.0)  # answered: the outcome lands right after the wake-up
                return endpoint._outcome
            engine._waiting.add(endpoint.callback_id)
            try:
                while not endpoint._notify_event.wait(0.005):
                    if deadline is not None and engine.clock.elapsed >= deadline:
                        break
            finally:
                engine._waiting.discard(endpoint.callback_id)
            return endpoint._outcome

        return wait


def _machine_name(logical: str) -> str:
    """``CutoverStateMachine`` -> ``cutover``, ``CampaignStateMachine`` -> ``campaign``."""
    return logical.removesuffix("StateMachine").lower()


def _seeded_delay(rng: random.Random) -> Callable[[Any, Any], float]:
    """botocore's own standard-mode backoff, with its jitter drawn from a seeded stream."""
    original = botocore_retries.ExponentialBackoff.delay_amount

    def delay_amount(backoff: Any, context: Any) -> float:
        backoff._random = rng.random
        return original(backoff, context)

    return delay_amount


def _statistic_with_percentiles(taken: Callable[[Any, str], Any]) -> Callable[[Any, str], Any]:
    """moto computes no percentile (it answers None for ``p99``): this one does, by nearest rank
    over the period's values, as CloudWatch does for values put one by one."""
    def get_statistics_for_type(stats: Any, stat: str) -> Any:
        if stat.startswith("p") and stat[1:].replace(".", "", 1).isdigit():
            return statistic_of(stats.metric_single_values_list, stat)
        return taken(stats, stat)
    return get_statistics_for_type


def _keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
    """The call's own parameters, for a handler of its ``before-call`` (which sees them serialized)."""
    context["cutover_engine_params"] = params


def _naive_utc(moment: Any) -> Any:
    """A timestamp as the embedded CloudWatch keeps it (naive UTC)."""
    if hasattr(moment, "tzinfo") and moment.tzinfo is not None:
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _on_failure(props: dict[str, Any], resolve_value: Callable[[Any], Any]) -> tuple[str, str] | None:
    """Where Lambda sends an asynchronous event after its retries: (kind, ARN), or None."""
    destination = ((props.get("EventInvokeConfig") or {}).get("DestinationConfig") or {}).get("OnFailure")
    if destination and destination.get("Destination"):
        return "destination", str(resolve_value(destination["Destination"]))
    dlq = props.get("DeadLetterQueue")
    if dlq and dlq.get("TargetArn"):
        return "dlq", str(resolve_value(dlq["TargetArn"]))
    return None


@dataclass
class _Context:
    """The Lambda context object, as much of it as Powertools reads."""

    _function: Any

    @property
    def function_name(self) -> str:
        return self._function

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self._function}"

    memory_limit_in_mb: int = 256
    aws_request_id: str = "local-request"


def create_table(name: str, props: dict[str, Any]) -> None:
    """The table as the template defines it (keys and indexes)."""
    kwargs = {k: props[k] for k in ("BillingMode", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes") if k in props}
    boto3.client("dynamodb").create_table(TableName=name, **kwargs)


def _load_handler(code_dir: Path, handler: str) -> ModuleType:
    module_name, _ = handler.rsplit(".", 1)
    path = code_dir / f"{module_name}.py"
    spec = importlib.util.spec_from_file_location(f"cutover_function_{code_dir.name}", path)
    if not spec or not spec.loader:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# the local engine runs the real handler in-process\n")
    return buffer.getvalue()


# Every engine's session reads the service models through this loader, which keeps what it read.
_SHARED_LOADER = botocore.loaders.create_loader()


def fresh_default_session() -> None:
    """A new default boto3 session that shares the service models and endpoint data already
    read from disk: reading them again for every engine (or test world) is most of its setup.

    Its clients are made once per service and settings, as an application that keeps its
    clients does: creating one copies every hook of the session and costs more than most calls
    (helpers and seeds asked for some fifteen per test). A client carries the hooks its session
    had when it was made, so any hook registered or removed later makes every client afresh."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _SHARED_LOADER)
    made: dict[tuple[Any, ...], Any] = {}
    lock = threading.RLock()  # a hook registered while a client is made would re-enter
    create = core.create_client

    def create_client(service_name: str, region_name: str | None = None, api_version: str | None = None,
                      use_ssl: bool = True, verify: Any = None, endpoint_url: str | None = None,
                      aws_access_key_id: str | None = None, aws_secret_access_key: str | None = None,
                      aws_session_token: str | None = None, config: Any = None, **more: Any) -> Any:
        key = (service_name, region_name, api_version, use_ssl, verify, endpoint_url, aws_access_key_id,
               aws_secret_access_key, aws_session_token, config, tuple(sorted(more.items())))
        with lock:
            if key not in made:
                made[key] = create(service_name, region_name, api_version, use_ssl, verify, endpoint_url,
                                   aws_access_key_id, aws_secret_access_key, aws_session_token, config, **more)
            return made[key]

    core.create_client = create_client
    emitter = core.get_component("event_emitter")

    def forgetting(taken: Callable[..., Any]) -> Callable[..., Any]:
        def changed(*args: Any, **kwargs: Any) -> Any:
            with lock:
                made.clear()
            return taken(*args, **kwargs)

        return changed

    for name in ("register", "register_first", "register_last", "unregister"):
        setattr(emitter, name, forgetting(getattr(emitter, name)))
    boto3.setup_default_session(botocore_session=core)


def _reused_clients(create: Callable[..., Any]) -> Callable[..., Any]:
    """moto's interpreter creates a new SDK client for every Lambda task it runs; one per
    region and service, for this engine's life, answers the same and costs a fraction."""
    made: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        with lock:
            key = (region, service)
            if key not in made:
                made[key] = create(region, service, state_credentials)
            return made[key]

    return client_for


class _ChildWait:
    """Stands in for ``time`` where a task polls the child it started (``startExecution.sync``):
    the parent's thread waits until the child ends (or a minute of virtual time, then polls)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def sleep(self, seconds: float) -> None:
        engine, child = self._engine, nested.waiting_for_child()
        assert engine.shared is not None
        if child is None:
            engine.shared.park(seconds)
            return
        if child in engine.ended_at:
            return
        engine.shared.park(60.0, lambda: child in engine.ended_at,
                           register=lambda park: engine._child_parks.setdefault(child, []).append(park))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

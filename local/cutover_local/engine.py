"""Deploy template.yaml onto an embedded AWS (moto) and run the real state machine on it.

- every function in the template becomes a moto Lambda whose invocations are dispatched
  in-process to the real handler (``functions/<dir>/app.py``), with the function's resolved
  environment applied and the layer's ``cutover`` package importable;
- the state machine is created from ``statemachines/cutover.asl.json`` with its
  ``DefinitionSubstitutions`` resolved, and runs on moto's ASL interpreter;
- Wait states, Retry intervals, task timeouts and SDK retry backoff run on a ``VirtualClock``
  (an hour takes milliseconds); the waits of ``.waitForTaskToken`` callbacks do not yet;
- Route 53 is strict (``StrictRoute53``) and CloudWatch serves alarm history (``AlarmHistory``).

Traffic, alarm evaluation and alarm events are added on top by ``rehearsal.py``; tests may set
alarm states directly instead. Schedules (EventBridge Scheduler, scheduled rules) are not
simulated yet.
"""

from __future__ import annotations

import importlib.util
import io
import json
import os
import threading
import time
import traceback
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
from botocore import endpoint as botocore_endpoint
from moto import mock_aws
from moto.awslambda import models as lambda_models
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.asl.component.state.exec import execute_state
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import timestamp as wait_timestamp
from moto.stepfunctions.parser.asl.component.state.wait.wait_function import wait_function

from cutover import clock as domain_clock
from cutover.adapters import clients
from cutover.adapters.clients import client
from cutover.handler import deps

from . import patch_points
from .alarm_history import AlarmHistory
from .clock import VirtualClock, VirtualDatetimeModule, VirtualThreading
from .eventbridge import EventBus, execution_status_change, rules_from_template
from .strict_route53 import StrictRoute53
from .template import PROJECT_ROOT, load, resolve

ACCOUNT = "123456789012"
REGION = "us-east-1"
POLL_SECONDS = 0.02  # the interpreter runs on a thread; a tighter poll starves it


@dataclass
class Invocation:
    function: str
    event: dict[str, Any]
    error: str | None
    virtual_at: float
    result: dict[str, Any] | None = None
    message: str | None = None


@dataclass
class _Function:
    logical_id: str
    name: str
    module: ModuleType
    environment: dict[str, str]


@dataclass
class Stack:
    name: str
    outputs: dict[str, str]
    functions: dict[str, _Function]
    state_machine_arn: str
    table_name: str
    topic_arn: str


class _VirtualTime:
    """Stands in for the ``time`` module inside moto's retrier: sleeping advances the clock."""

    def __init__(self, clock: VirtualClock) -> None:
        self._clock = clock

    def sleep(self, seconds: float) -> None:
        self._clock.advance(seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


@dataclass
class Engine:
    """Use as a context manager; ``deploy()`` then ``run(plan)``."""

    clock: VirtualClock = field(default_factory=VirtualClock)
    route53: StrictRoute53 = field(default_factory=StrictRoute53)
    faults: dict[str, Callable[[dict[str, Any]], None]] = field(default_factory=dict)
    invocations: list[Invocation] = field(default_factory=list)
    # called on the interpreter's thread after every Lambda invocation, in order
    on_invocation: list[Callable[[Invocation], None]] = field(default_factory=list)
    # the AWS API calls each function made, as IAM actions ("route53:ChangeResourceRecordSets")
    api_calls: dict[str, set[str]] = field(default_factory=dict)
    _running: threading.local = field(default_factory=threading.local)
    # One Lambda invocation at a time: each applies its function's environment to the process.
    _invoking: Any = field(default_factory=threading.RLock)
    stack: Stack | None = None
    events: EventBus | None = None
    _announced: set[str] = field(default_factory=set)
    _exits: list[Callable[[], None]] = field(default_factory=list)

    # lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Engine:
        patch_points.verify()
        env = {"AWS_DEFAULT_REGION": REGION, "AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local",
               "AWS_SESSION_TOKEN": "local"}
        saved_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        self._exits.append(lambda: _restore_env(saved_env))
        mock = mock_aws(config={"stepfunctions": {"execute_state_machine": True}})
        mock.start()
        self._exits.append(mock.stop)
        domain_clock.set_source(self.clock)
        self._exits.append(lambda: domain_clock.set_source(None))
        clients.reset()
        self._exits.append(clients.reset)
        self.route53.install()
        self._exits.append(self.route53.uninstall)
        history = AlarmHistory().install()
        self._exits.append(history.uninstall)
        boto3.setup_default_session()  # a fresh session: its clients carry the hook below
        boto3.DEFAULT_SESSION.events.register("before-call", self._on_api_call)
        self._patch(botocore_endpoint, "time", _VirtualTime(self.clock))  # SDK retry backoff
        self._patch(lambda_models.LambdaFunction, "_invoke_lambda", self._dispatcher())
        self._patch(wait_function.WaitFunction, "_wait_interval",
                    lambda _self, env, wait_seconds: self.clock.advance(wait_seconds, lambda: not env.is_running()))
        self._patch(retrier_decl, "time", _VirtualTime(self.clock))
        self._patch(execute_state, "threading", VirtualThreading(self.clock))  # TimeoutSeconds
        self._patch(wait_timestamp, "datetime", VirtualDatetimeModule(self.clock))  # Wait Timestamp(Path)
        return self

    def __exit__(self, *exc: object) -> None:
        while self._exits:
            self._exits.pop()()
        deps.cache_clear()

    def _patch(self, owner: Any, name: str, value: Any) -> None:
        original = getattr(owner, name)
        setattr(owner, name, value)
        self._exits.append(lambda: setattr(owner, name, original))

    # deploy ------------------------------------------------------------------------------
    def deploy(self, parameters: dict[str, str], stack_name: str = "cutover-local") -> Stack:
        template = load()
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
        # The layer is the installed ``cutover`` package itself: handlers import it directly.
        refs["CutoverLayer"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:{stack_name}-cutover:1"

        role = boto3.client("iam").create_role(RoleName=f"{stack_name}-role", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        globals_ = template.get("Globals", {}).get("Function", {})
        code = _empty_zip()
        functions_by_logical: dict[str, _Function] = {}
        for logical, spec in resources.items():
            if spec["Type"] != "AWS::Serverless::Function":
                continue
            props = spec["Properties"]
            name = f"{stack_name}-{logical}"
            arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
            refs[logical], attrs[(logical, "Arn")] = name, arn
            variables = {**globals_.get("Environment", {}).get("Variables", {}),
                         **props.get("Environment", {}).get("Variables", {})}
            environment = {k: str(resolve(v, refs, attrs)) for k, v in variables.items()}
            boto3.client("lambda").create_function(
                FunctionName=name, Runtime=props.get("Runtime", globals_.get("Runtime")), Role=role,
                Handler=props["Handler"], Code={"ZipFile": code}, Timeout=props.get("Timeout", globals_.get("Timeout", 3)),
                Environment={"Variables": environment},
            )
            functions_by_logical[logical] = _Function(logical, name, _load_handler(PROJECT_ROOT / props["CodeUri"], props["Handler"]), environment)

        machine = resources["CutoverStateMachine"]["Properties"]
        substitutions = {k: resolve(v, refs, attrs) for k, v in machine["DefinitionSubstitutions"].items()}
        definition = (PROJECT_ROOT / machine["DefinitionUri"]).read_text()
        for key, value in substitutions.items():
            definition = definition.replace("${" + key + "}", str(value))
        arn = boto3.client("stepfunctions").create_state_machine(
            name=f"{stack_name}-cutover", definition=definition, roleArn=role, type=machine.get("Type", "STANDARD"),
        )["stateMachineArn"]
        refs["CutoverStateMachine"] = arn
        outputs = {k: str(resolve(v["Value"], refs, attrs)) for k, v in template.get("Outputs", {}).items()}
        self.stack = Stack(stack_name, outputs, {f.name: f for f in functions_by_logical.values()}, arn, table, topic)
        rules = rules_from_template(resources, {logical: f.name for logical, f in functions_by_logical.items()},
                                    lambda value: resolve(value, refs, attrs))
        self.events = EventBus(rules, self._invoke_target)
        deps.cache_clear()
        return self.stack

    # run ---------------------------------------------------------------------------------
    def start(self, plan: dict[str, Any], name: str) -> str:
        assert self.stack, "deploy() first"
        return boto3.client("stepfunctions").start_execution(
            stateMachineArn=self.stack.state_machine_arn, name=name, input=json.dumps(plan)
        )["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 60.0, on_poll: Callable[[], None] | None = None) -> dict[str, Any]:
        """Poll until the execution ends (real seconds, not virtual); ``on_poll`` runs between polls
        on this thread (a rehearsal's operator acts there)."""
        sfn = boto3.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                self._ended(described)
                return described
            if on_poll:
                on_poll()
            time.sleep(POLL_SECONDS)
        raise TimeoutError(f"{execution_arn} still RUNNING after {timeout}s of wall time")

    def run(self, plan: dict[str, Any], name: str = "rehearsal-1") -> dict[str, Any]:
        return self.wait(self.start(plan, name))

    def announce_ended(self) -> None:
        """Tell EventBridge of every execution that has ended since the last call (local endpoint)."""
        if not self.stack:
            return
        sfn = boto3.client("stepfunctions")
        for execution in sfn.list_executions(stateMachineArn=self.stack.state_machine_arn)["executions"]:
            if execution["status"] != "RUNNING" and execution["executionArn"] not in self._announced:
                self._ended(sfn.describe_execution(executionArn=execution["executionArn"]))

    def _ended(self, described: dict[str, Any]) -> None:
        """EventBridge hears of each execution's end once (what the safety net listens to)."""
        if described["executionArn"] in self._announced or self.events is None:
            return
        self._announced.add(described["executionArn"])
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

    def _invoke_target(self, function_name: str, event: dict[str, Any]) -> None:
        """Deliver an event to a Lambda target, as EventBridge does (asynchronously in AWS)."""
        client("lambda").invoke(FunctionName=function_name, InvocationType="Event", Payload=json.dumps(event))

    # lambda dispatch ---------------------------------------------------------------------
    def _on_api_call(self, model: Any, **_: Any) -> None:
        function = getattr(self._running, "function", None)
        if function:
            service = model.service_model.service_name
            prefix = {"stepfunctions": "states"}.get(service, service)
            self.api_calls.setdefault(function, set()).add(f"{prefix}:{model.name}")

    def _record(self, invocation: Invocation) -> None:
        self.invocations.append(invocation)
        for listener in self.on_invocation:
            listener(invocation)

    def _dispatcher(self) -> Callable[..., tuple[str, bool, str]]:
        engine = self

        def invoke(function: Any, event: Any = None) -> tuple[str, bool, str]:
            assert engine.stack
            target = engine.stack.functions[function.function_name]
            event = event if isinstance(event, dict) else json.loads(event or "{}")
            with engine._invoking, _environment(target.environment):
                deps.cache_clear()
                outer = getattr(engine._running, "function", None)  # an invocation inside another
                try:
                    fault = engine.faults.get(target.logical_id)
                    if fault:
                        fault(event)  # the test harness's doing: its calls are not the function's
                    engine._running.function = target.logical_id
                    result = target.module.lambda_handler(event, _Context(function))
                except Exception as exc:  # noqa: BLE001 - becomes Lambda's error payload, as in AWS
                    engine._record(Invocation(target.logical_id, event, type(exc).__name__, engine.clock.elapsed, message=str(exc)))
                    payload = {"errorMessage": str(exc), "errorType": type(exc).__name__,
                               "stackTrace": traceback.format_tb(exc.__traceback__)}
                    return json.dumps(payload), True, ""
                finally:
                    engine._running.function = outer
            engine._record(Invocation(target.logical_id, event, None, engine.clock.elapsed, result=result))
            return json.dumps(result, default=str), False, ""

        return invoke


@dataclass
class _Context:
    """The Lambda context object, as much of it as Powertools reads."""

    _function: Any

    @property
    def function_name(self) -> str:
        return self._function.function_name

    @property
    def invoked_function_arn(self) -> str:
        return self._function.function_arn

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


@contextmanager
def _environment(variables: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        _restore_env(saved)


def _restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _empty_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "# the local engine runs the real handler in-process\n")
    return buffer.getvalue()

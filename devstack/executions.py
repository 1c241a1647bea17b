"""Step Functions for the local stack: the template's state machines run on moto's ASL interpreter, and
their Lambda tasks run the real handlers in this process.

How it works
------------
* moto executes state machines only when asked to: `mock_aws(config={"stepfunctions":
  {"execute_state_machine": True}})` (documented on moto's StepFunctionBackend; devstack.aws.start_moto
  passes it). Each execution then runs in moto's own daemon threads.
* `LocalExecutions` creates every AWS::Serverless::StateMachine (and AWS::StepFunctions::StateMachine)
  of a template in moto, from DefinitionUri / Definition / DefinitionString with DefinitionSubstitutions
  applied the way CloudFormation applies them. `${Name}` without a substitution is an error at start
  (except in a "Comment", which is documentation), so a typo fails `make dev`, not a run.
* moto's interpreter runs a `arn:aws:states:::lambda:invoke[.waitForTaskToken]` task by calling
  `boto3.client("lambda").invoke(...)` from its worker thread. Without Docker, moto's Lambda cannot run
  code, so `install()` adds a botocore `before-call.lambda.Invoke` handler to
  botocore's BUILTIN_HANDLERS (every session created afterwards has it; moto registers its own stubber
  the same way). botocore's client uses the response of a `before-call` handler instead of sending the
  request, so an Invoke of a registered function runs the handler right there, in the calling thread,
  and never reaches moto. Invokes of any other function fall through to moto unchanged.
* The handler runs like the Lambda runtime runs it: the JSON payload in, a LambdaContext, the result
  JSON-encoded out; an exception becomes FunctionError "Unhandled" with {"errorMessage", "errorType",
  "requestId", "stackTrace"}, so an ASL Retry/Catch sees the exception's class name as the error.
  InvocationType "Event" runs it in a daemon thread and answers 202; "DryRun" answers 204.

Threads and the moto lock: devstack.aws serializes every moto *request* under one lock (in BotocoreStubber
at `before-send`, or in devstack.moto_direct at `before-call` for the calls it answers, each around moto's
answer only). An intercepted Invoke is answered at `before-call` without taking it, so it never holds
that lock while the handler runs: a handler may call DynamoDB or Step Functions (each call takes
the lock briefly), HTTP requests keep being served while executions run, and SendTaskSuccess from an
HTTP thread can complete a wait while other executions are mid-handler.

moto's parses are cached (install() → _cache_moto_parses): the ASL once per definition, JSONPaths once.

moto fixes (install() → _patch_moto_step_functions, details there): StartExecution returns only once
the execution has started (else a StopExecution right after it is lost or fails with a 500, and so
may any SendTask*); StopExecution of an execution waiting for a task token ends it ABORTED at once
(moto would keep it RUNNING until the wait's timeout, then mark it FAILED).

Private-API dependencies (moto is pinned in requirements.lock; tests/emulator/test_step_functions.py
fails if an upgrade breaks any of this):
  - moto's interpreter invoking Lambda through boto3 in the current process (asl/utils/boto_client.py,
    state_task/lambda_eval_utils.py) rather than through a backend call;
  - botocore's `before-call` short-circuit (botocore.client.BaseClient._make_api_call) and the request
    dict it passes (`url_path`, `headers`, `body`), and botocore.handlers.BUILTIN_HANDLERS;
  - for the fixes: parser.backend.execution.Execution.start / exec_worker.env,
    StepFunctionsParserBackend.stop_execution, Environment.set_error / program_state / is_running,
    StateTaskServiceCallback._eval_wait_for_task_token, CallbackPoolManager._pool and
    CallbackEndpoint.interrupt_all;
  - for the parse caches: ExecutionWorker._get_evaluation_entrypoint and the module-level `parse` of
    asl/utils/json_path.py and asl/component/common/path/result_path.py.

Known moto limits: StopExecution's error and cause are not recorded (moto stores empty strings), and a
stopped wait leaves a TaskTimedOut event before ExecutionAborted in the history; StartSyncExecution
runs the whole execution inside the request (so under the moto lock); HeartbeatSeconds works but was
not exercised here; the history has the event types moto's interpreter emits (close to AWS's).
"""

import copy
import decimal
import functools
import json
import logging
import pickle
import re
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from io import BytesIO
from typing import Any
from urllib.parse import unquote

from botocore.awsrequest import AWSResponse
from botocore.response import StreamingBody

from devstack.aws import register_before_call, response_metadata, short_circuit_response
from devstack.ids import request_id as new_request_id
from devstack.lambdas import LocalFunction
from devstack.pickled_copies import pickled
from devstack.template import MOTO_ACCOUNT_ID, STATE_MACHINE_TYPES, Template, state_machine_arn

log = logging.getLogger("devstack.executions")

# A role for CreateStateMachine; moto does not evaluate IAM.
DUMMY_ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/local-state-machine"

_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")
_INVOKE_PATH = re.compile(r"^/2015-03-31/functions/(?P<name>[^/]+)/invocations$")

# Function name → the function that answers an Invoke of it (by name, partial ARN or ARN).
_functions: dict[str, LocalFunction] = {}
_functions_lock = threading.Lock()
_moto_patched = False  # _patch_moto_step_functions done
# How long StartExecution waits for moto to build the execution's environment (normally milliseconds).
_ENVIRONMENT_WAIT_S = 10.0
_PARSED_DEFINITIONS = 64  # parsed state machine definitions kept, pickled (_cache_moto_parses)


class DefinitionError(Exception):
    """A state machine definition the local stack cannot create (e.g. an undefined ${Placeholder})."""


# ---------------------------------------------------------------------- state machines


class LocalExecutions:
    """One template's state machines in moto, and its functions answering Lambda Invokes.

    start() registers the functions with the interceptor, then creates the state machines; stop() stops
    their executions that are still running and unregisters the functions. `arns` maps each state
    machine's logical id to its ARN.
    """

    def __init__(self, template: Template, functions: Mapping[str, LocalFunction], client: Any) -> None:
        self.template = template
        self.functions = dict(functions)
        self.client = client  # a boto3 stepfunctions client (moto)
        self.arns: dict[str, str] = {}

    def start(self) -> "LocalExecutions":
        install()
        definitions = {
            logical_id: state_machine_definition(self.template, logical_id)
            for logical_id in self.template.resources_of(*STATE_MACHINE_TYPES)
        }  # every definition is checked before anything is created
        register_functions(self.functions.values())
        try:
            for logical_id, definition in definitions.items():
                self.arns[logical_id] = self._create(logical_id, definition)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the still-running executions (they would otherwise wait in moto's daemon threads)."""
        for arn in self.arns.values():
            try:
                for page in self.client.get_paginator("list_executions").paginate(
                    stateMachineArn=arn, statusFilter="RUNNING"
                ):
                    for execution in page["executions"]:
                        self.client.stop_execution(
                            executionArn=execution["executionArn"], error="LocalStackStopped"
                        )
            except Exception:  # stopping must not fail; the threads are daemons anyway
                log.debug("could not stop the executions of %s", arn, exc_info=True)
        self.arns = {}
        unregister_functions(self.functions.values())

    def _create(self, logical_id: str, definition: str) -> str:
        properties = self.template.resources[logical_id].get("Properties") or {}
        name = self.template.state_machine_name(logical_id)
        request: dict[str, Any] = {
            "name": name,
            "definition": definition,
            "roleArn": DUMMY_ROLE_ARN,
            "type": str(self.template.resolve(properties.get("Type", "STANDARD"))),
        }
        tracing = properties.get("Tracing") or properties.get("TracingConfiguration")
        if isinstance(tracing, dict) and "Enabled" in tracing:
            request["tracingConfiguration"] = {"enabled": _bool(self.template.resolve(tracing["Enabled"]))}
        arn = str(self.client.create_state_machine(**request)["stateMachineArn"])
        expected = state_machine_arn(name)
        if arn != expected:  # what `!Ref` resolved to in the functions' environment
            raise DefinitionError(
                f"moto created {logical_id} as {arn}, the template resolves it to {expected}"
            )
        return arn


def state_machine_definition(template: Template, logical_id: str) -> str:
    """The definition CloudFormation would create: the file / map / string, with substitutions applied."""
    properties = template.resources[logical_id].get("Properties") or {}
    if "DefinitionUri" in properties:
        uri = properties["DefinitionUri"]
        if not isinstance(uri, str):
            raise DefinitionError(f"{logical_id}: only a local file DefinitionUri is supported locally")
        text = (template.root / uri).read_text(encoding="utf-8")
    elif "Definition" in properties:
        text = json.dumps(properties["Definition"])  # intrinsics inside it are not resolved (as in SAM)
    elif "DefinitionString" in properties:
        text = str(template.resolve(properties["DefinitionString"]))
    else:
        raise DefinitionError(f"{logical_id} has no DefinitionUri, Definition or DefinitionString")
    substitutions = {
        str(key): _substitution_text(template.resolve(value))
        for key, value in (properties.get("DefinitionSubstitutions") or {}).items()
    }
    return substitute(
        text, substitutions, source=f"{logical_id} ({properties.get('DefinitionUri', 'inline')})"
    )


def substitute(text: str, substitutions: Mapping[str, str], *, source: str = "definition") -> str:
    """Replace `${Key}` with its substitution; an undefined one is an error unless it is in a Comment."""
    substituted = _PLACEHOLDER.sub(lambda match: substitutions.get(match.group(1), match.group(0)), text)
    try:
        document = json.loads(substituted)
    except json.JSONDecodeError as error:
        raise DefinitionError(f"{source}: not JSON once substituted: {error}") from error
    undefined = sorted(set(_undefined_placeholders(document)))
    if undefined:
        raise DefinitionError(
            f"{source}: DefinitionSubstitutions does not define "
            + ", ".join("${" + name + "}" for name in undefined)
        )
    return substituted


def _undefined_placeholders(node: Any, key: str | None = None) -> Iterable[str]:
    if isinstance(node, dict):
        for child_key, child in node.items():
            yield from (match.group(1) for match in _PLACEHOLDER.finditer(child_key))
            yield from _undefined_placeholders(child, child_key)
    elif isinstance(node, list):
        for child in node:
            yield from _undefined_placeholders(child)
    elif isinstance(node, str) and key != "Comment":
        yield from (match.group(1) for match in _PLACEHOLDER.finditer(node))


def _substitution_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _bool(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() == "true"


# ---------------------------------------------------------------------- installation


def install() -> None:
    """Add the `before-call.lambda.Invoke` handler to every botocore session created from now on, and
    fix moto's races and gaps (_patch_moto_step_functions). Idempotent.

    Call it before moto starts (mock_aws resets boto3's default session, so the next one has it).
    """
    global _moto_patched
    with _functions_lock:
        if not _moto_patched:
            _patch_moto_step_functions()
            _cache_moto_parses()
            _moto_patched = True
    register_before_call("before-call.lambda.Invoke", _intercept_invoke)


def _patch_moto_step_functions() -> None:
    """Where moto's Step Functions differs from AWS in ways the run API would trip over.

    1. StartExecution returns before the execution's environment exists (moto builds it in the
       worker thread). Until it does, StopExecution of that execution, and SendTaskSuccess /
       SendTaskFailure / SendTaskHeartbeat of *any* execution (they scan every running one), fail with
       AttributeError (HTTP 500); and until its program is marked running, a StopExecution is
       silently ignored. So StartExecution waits for both (a parse of the ASL, milliseconds; the
       worker makes no AWS call before that, so waiting under the moto lock is safe).
    2. StopExecution of a waiting execution: moto marks the program stopped, but the task waiting for
       its token keeps waiting until its TimeoutSeconds (hours for a run's wait), the execution stays
       RUNNING until then, and the task's States.Timeout then overwrites "stopped": FAILED. AWS aborts
       at once. So after moto's StopExecution its pending waits are woken, a wait that begins after
       the stop does not wait, and no error overwrites a stopped program: the interpreter runs no
       further state and the execution ends ABORTED. (A wait's endpoint exists before its Lambda is
       invoked, so a stop either finds it in the pool or happens before the wait's is_running check.)
    3. A `arn:aws:states:::states:startExecution` task (a run continuing in a new execution) passes its
       Parameters to boto3 as written, `StateMachineArn`, `Name`, `Input`, where boto3 wants
       `stateMachineArn`…: moto's base class leaves the parameters' case alone. So they are lower-cased
       at the first letter, as AWS's service integration does.
    """
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback,
        state_task_service_sfn,
    )
    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramStopped
    from moto.stepfunctions.parser.backend.execution import Execution
    from moto.stepfunctions.parser.models import StepFunctionsParserBackend

    start_execution = Execution.start
    stop_execution = StepFunctionsParserBackend.stop_execution
    set_error = Environment.set_error
    callback_task = state_task_service_callback.StateTaskServiceCallback
    wait_for_task_token = callback_task._eval_wait_for_task_token

    def started(worker: Any) -> bool:
        environment = getattr(worker, "env", None)
        return environment is not None and environment.program_state() is not None

    def start_and_wait_for_environment(self: Any) -> None:
        start_execution(self)
        deadline = time.monotonic() + _ENVIRONMENT_WAIT_S
        while not started(self.exec_worker) and time.monotonic() < deadline:
            time.sleep(0.001)
        if not started(self.exec_worker):
            log.warning("moto's execution %s has not started yet", getattr(self, "exec_arn", "?"))

    def stop_execution_and_interrupt_waits(self: Any, execution_arn: str) -> Any:
        execution = stop_execution(self, execution_arn)
        environment = getattr(getattr(execution, "exec_worker", None), "env", None)
        pool = getattr(getattr(environment, "callback_pool_manager", None), "_pool", None)
        if not isinstance(pool, dict):
            raise RuntimeError("moto's execution internals changed: local StopExecution cannot wake waits")
        for endpoint in list(pool.values()):
            endpoint.interrupt_all()
        return execution

    def wait_unless_stopped(
        self: Any, env: Any, timeout_seconds: Any, callback_endpoint: Any, heartbeat_endpoint: Any
    ) -> Any:
        if not env.is_running():
            callback_endpoint.interrupt_all()
        return wait_for_task_token(self, env, timeout_seconds, callback_endpoint, heartbeat_endpoint)

    def set_error_unless_stopped(self: Any, error: Any) -> None:
        if isinstance(self.program_state(), ProgramStopped):
            return
        set_error(self, error)

    sfn_task = state_task_service_sfn.StateTaskServiceSfn
    normalise_parameters = sfn_task._normalise_parameters

    def boto_cased_parameters(
        self: Any, parameters: dict[str, Any], boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        normalise_parameters(self, parameters, boto_service_name, service_action_name)
        for key in [key for key in parameters if key[:1].isupper()]:
            parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    Execution.start = start_and_wait_for_environment  # type: ignore[method-assign]
    StepFunctionsParserBackend.stop_execution = stop_execution_and_interrupt_waits  # type: ignore[method-assign]
    Environment.set_error = set_error_unless_stopped  # type: ignore[method-assign]
    callback_task._eval_wait_for_task_token = wait_unless_stopped  # type: ignore[method-assign]
    sfn_task._normalise_parameters = boto_cased_parameters  # type: ignore[method-assign]


def _cache_moto_parses() -> None:
    """moto's interpreter parses the state machine's ASL (ANTLR, in Python: ~40 ms for the run state
    machine) at the start of every execution, and each JSONPath (jsonpath_ng builds its parser tables
    on every parse) every time a state reads one: together a fifth of the local stack's CPU per run.

    Parsed once per definition and path now. Each execution still gets a program of its own: the
    interpreter keeps per-component state (retry counters keyed by a component's lazily made
    heap_key). It is unpickled from the parsed program's pickle, made once per definition: ~1 ms for
    the run state machine where copy.deepcopy of the parsed program took ~5 ms (thread CPU, on a
    loaded machine), ~2.5% of the stack's CPU in a soak (py-spy). `pickled_copies.pickled` checks,
    once per definition, that the unpickled program is the parsed one (the same classes and values
    throughout, sharing no mutable object with it); if a moto upgrade made it unpicklable or pickled
    differently, it says so in the log and each execution gets a deep copy, as in moto
    (tests/emulator/test_step_functions.py fails then). A parsed JSONPath is shared: finding and
    updating through it does not change it.
    """
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
    from moto.stepfunctions.parser.asl.utils import json_path
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    for module in (json_path, result_path):
        if not callable(getattr(module, "parse", None)):
            raise RuntimeError(f"{module.__name__} no longer parses with jsonpath_ng's parse")
        module.parse = functools.lru_cache(maxsize=4096)(module.parse)  # type: ignore[attr-defined]

    copies: dict[str, tuple[Any, bytes | None]] = {}  # definition → its parsed program, and its pickle
    copies_lock = threading.Lock()

    def evaluation_entrypoint(self: Any) -> Any:
        definition = self._evaluation_details.state_machine_details.definition
        with copies_lock:
            known = copies.get(definition)
        if known is None:
            program = AmazonStateLanguageParser.parse(definition)[0]
            known = (program, pickled(program))
            with copies_lock:
                if len(copies) >= _PARSED_DEFINITIONS:
                    copies.clear()
                copies[definition] = known
        program, blob = known
        return pickle.loads(blob) if blob is not None else copy.deepcopy(program)

    if not hasattr(ExecutionWorker, "_get_evaluation_entrypoint"):
        raise RuntimeError("moto's ExecutionWorker no longer has _get_evaluation_entrypoint")
    ExecutionWorker._get_evaluation_entrypoint = evaluation_entrypoint  # type: ignore[method-assign]


# ---------------------------------------------------------------------- Lambda Invoke interception


def register_functions(functions: Iterable[LocalFunction]) -> None:
    with _functions_lock:
        for function in functions:
            existing = _functions.get(function.name)
            if existing is not None and existing is not function:
                raise ValueError(f"a local function named {function.name!r} is already registered")
            _functions[function.name] = function


def unregister_functions(functions: Iterable[LocalFunction]) -> None:
    with _functions_lock:
        for function in functions:
            if _functions.get(function.name) is function:
                del _functions[function.name]


def registered_function(function_name: str) -> LocalFunction | None:
    """The function an Invoke's FunctionName (name, name:qualifier, partial ARN or ARN) refers to."""
    name = function_name
    if ":function:" in name:
        name = name.split(":function:", 1)[1]
    name = name.split(":", 1)[0]  # drop a qualifier ($LATEST: locally there is only one version)
    with _functions_lock:
        return _functions.get(name)


def _intercept_invoke(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
    """botocore `before-call` handler: (http response, parsed response) for a local function, else None."""
    match = _INVOKE_PATH.match(str(params.get("url_path", "")).split("?", 1)[0])
    function = registered_function(unquote(match.group("name"))) if match else None
    if function is None:
        return None  # not ours: moto (or whoever) answers
    headers = {str(k).lower(): str(v) for k, v in (params.get("headers") or {}).items()}
    invocation_type = headers.get("x-amz-invocation-type", "RequestResponse")
    body = params.get("body") or b""
    if hasattr(body, "read"):
        body = body.read()
    try:
        event = json.loads(body) if body else {}
    except ValueError:
        return _client_error(
            params, 400, "InvalidRequestContentException", "Could not parse request body into json"
        )
    if invocation_type == "DryRun":
        return _invoke_response(params, 204, b"", None)
    if invocation_type == "Event":
        threading.Thread(
            target=_run_async, args=(function, event), name=f"lambda-event-{function.name}", daemon=True
        ).start()
        return _invoke_response(params, 202, b"", None)
    payload, function_error = run_handler(function, event)
    return _invoke_response(params, 200, payload, function_error)


def run_handler(function: LocalFunction, event: Any) -> tuple[bytes, str | None]:
    """Run the handler as the Lambda Python runtime does: (JSON payload, FunctionError or None)."""
    context = function.new_context()
    try:
        result = function.invoke(event, context)  # in an execution environment of its own
    except Exception as error:
        log.error("%s failed (request %s)", function.name, context.aws_request_id, exc_info=True)
        return _error_payload(error, context.aws_request_id), "Unhandled"
    try:
        return json.dumps(result, default=_decimal_serializer).encode("utf-8"), None
    except (TypeError, ValueError) as error:
        message = f"Unable to marshal response: {error}"
        log.error("%s: %s", function.name, message)
        payload = {"errorMessage": message, "errorType": "Runtime.MarshalError", "stackTrace": []}
        payload["requestId"] = context.aws_request_id
        return json.dumps(payload).encode("utf-8"), "Unhandled"


def _run_async(function: LocalFunction, event: Any) -> None:
    run_handler(function, event)  # errors are logged; Lambda's async retries are not emulated


def _error_payload(error: BaseException, request_id: str) -> bytes:
    return json.dumps(
        {
            "errorMessage": str(error),
            "errorType": type(error).__name__,
            "requestId": request_id,
            "stackTrace": traceback.format_list(traceback.extract_tb(error.__traceback__)),
        }
    ).encode("utf-8")


def _decimal_serializer(value: Any) -> Any:
    """The Lambda Python runtime's JSON encoder turns Decimal (DynamoDB numbers) into float."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _invoke_response(
    params: dict[str, Any], status: int, payload: bytes, function_error: str | None
) -> tuple[AWSResponse, dict[str, Any]]:
    request_id = new_request_id()
    http_headers = {"x-amzn-requestid": request_id, "content-length": str(len(payload))}
    parsed: dict[str, Any] = {
        "StatusCode": status,
        "Payload": StreamingBody(BytesIO(payload), len(payload)),
        "ResponseMetadata": response_metadata(request_id, status, http_headers),
    }
    if status == 200:
        parsed["ExecutedVersion"] = "$LATEST"
        http_headers["x-amz-executed-version"] = "$LATEST"
    if function_error:
        parsed["FunctionError"] = function_error
        http_headers["x-amz-function-error"] = function_error
    return short_circuit_response(params, status, http_headers), parsed


def _client_error(
    params: dict[str, Any], status: int, code: str, message: str
) -> tuple[AWSResponse, dict[str, Any]]:
    request_id = new_request_id()
    http_headers = {"x-amzn-requestid": request_id, "x-amzn-errortype": code}
    parsed = {
        "Error": {"Code": code, "Message": message},
        "Message": message,
        "ResponseMetadata": response_metadata(request_id, status, http_headers),
    }
    return short_circuit_response(params, status, http_headers), parsed

"""Lambda functions in-process: load a function's real handler from CodeUri/Handler and invoke it."""

import contextvars
import importlib.util
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from devstack.iam import Policy, Principal, acting_as
from devstack.ids import request_id
from devstack.template import function_arn

Handler = Callable[[Any, Any], Any]

# A function run by the AWS Lambda Web Adapter has Handler `run.sh`, a script starting a web server
# (runs_core.api.lwa_server) that calls its app.py's `stream_handler`. Locally the API Gateway emulator
# calls that `stream_handler` itself (and `lambda_handler` where nothing streams): the server is only
# the deployed shell around the same handler.
WEB_ADAPTER_WRAPPER = "/opt/bootstrap"
WEB_ADAPTER_HANDLER = "app.lambda_handler"


def uses_web_adapter(properties: dict[str, Any]) -> bool:
    variables = (properties.get("Environment") or {}).get("Variables") or {}
    return variables.get("AWS_LAMBDA_EXEC_WRAPPER") == WEB_ADAPTER_WRAPPER


@dataclass
class LambdaContext:
    """The attributes of the Lambda runtime's context object that handlers (and Powertools) read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline_ms: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "local"
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self.deadline_ms - int(time.time() * 1000))


@dataclass(frozen=True)
class Environment:
    """One execution environment: one copy of the handler module, its handler and its optional
    `stream_handler` (the same module's, so a streamed invocation has the environment to itself too)."""

    handler: Handler
    stream_handler: Handler | None = None


@dataclass
class LocalFunction:
    """One AWS::Serverless::Function. The timeout is reported to the handler, not enforced.

    Like Lambda, each invocation has an execution environment to itself: concurrent invocations get
    their own copies of the handler module (its module-level state, e.g. a Powertools resolver, is not
    meant to serve two requests at once), made on demand and reused when idle. Every invocation goes
    through `invoke`, which lends it one; an idle copy 0 (the module tests import) is lent first.
    """

    logical_id: str
    name: str
    handler: Handler  # copy 0's; call it through invoke()
    memory_mb: int
    timeout_s: int
    # Copy 0's `stream_handler`, for hosts that can stream a response (devstack.apigw): invoke(stream=True).
    stream_handler: Handler | None = None
    # Loads one more copy of the module (another execution environment); None: invocations share one.
    load_copy: Callable[[int], Environment] | None = None
    # Its execution role's statements (devstack.iam): while its handler runs, the AWS calls it makes are
    # checked against them. None: not checked.
    policy: Policy | None = None
    arn: str = field(init=False)
    _idle: dict[int, Environment] = field(init=False, default_factory=dict)  # copy number → environment
    _copies: int = field(init=False, default=0)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.arn = function_arn(self.name)
        self._idle[0] = Environment(self.handler, self.stream_handler)

    @classmethod
    def load(
        cls, logical_id: str, properties: dict[str, Any], root: Path, policy: Policy | None = None
    ) -> "LocalFunction":
        """Import the handler module. The environment must already be set: modules read it at import."""
        name = properties.get("FunctionName")
        code_uri, handler = str(properties["CodeUri"]), str(properties["Handler"])
        if uses_web_adapter(properties):
            handler = WEB_ADAPTER_HANDLER
        first = load_environment(root, code_uri, handler)
        return cls(
            logical_id=logical_id,
            name=name if isinstance(name, str) else logical_id,
            handler=first.handler,
            memory_mb=int(properties.get("MemorySize", 128)),
            timeout_s=int(properties.get("Timeout", 3)),
            stream_handler=first.stream_handler,
            load_copy=lambda copy: load_environment(root, code_uri, handler, copy),
            policy=policy,
        )

    @property
    def principal(self) -> Principal | None:
        """Who its handler's AWS calls are made as (devstack.iam); None when it has no policy to check."""
        return None if self.policy is None else Principal(self.logical_id, self.name, self.policy)

    def new_context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=self.arn,
            aws_request_id=request_id(),
            deadline_ms=int(time.time() * 1000) + self.timeout_s * 1000,
            log_group_name=f"/aws/lambda/{self.name}",
        )

    def invoke(self, event: Any, context: LambdaContext | None = None, *, stream: bool = False) -> Any:
        """Call the handler like the Lambda runtime would (exceptions propagate to the caller), in an
        execution environment of its own.

        `stream=True` calls the module's `stream_handler` instead (the Lambda handler if it has none).
        When that answers a proxy response whose `body` is an iterator of chunks (devstack.apigw), the
        environment stays lent until the body is exhausted or closed: the chunks are produced by the
        handler module's code while the host writes them, as in Lambda response streaming, where the
        execution environment is busy until the stream ends. So the caller must close the body (or
        read it to the end); a body dropped unclosed only costs the pool that copy.

        While the handler runs (and while a streamed body produces chunks) the function is the thread's
        principal: its AWS calls are checked against its policy (devstack.iam).
        """
        copy, environment = self._acquire()
        streaming = stream and environment.stream_handler is not None
        handler = environment.stream_handler if streaming else environment.handler
        assert handler is not None
        principal = self.principal
        try:
            with acting_as(principal):
                # In a copy of the caller's context (contextvars), as if in a process of its own: what a
                # nested invocation (a Lambda Invoke answered on its caller's thread, devstack.executions)
                # sets there, such as Powertools' thread-safe log keys, never reaches its caller.
                result = contextvars.copy_context().run(handler, event, context or self.new_context())
        except BaseException:
            self._release(copy, environment)
            raise
        chunks = streamed_body(result) if streaming else None
        if chunks is None:
            self._release(copy, environment)
            return result
        return {**result, "body": _HeldBody(chunks, lambda: self._release(copy, environment), principal)}

    def _acquire(self) -> tuple[int, Environment]:
        with self._lock:
            if self._idle:
                copy = min(self._idle)  # the lowest idle copy: sequential invocations keep using copy 0
                return copy, self._idle.pop(copy)
            if self.load_copy is None:
                return 0, Environment(self.handler, self.stream_handler)  # shared, not pooled
            self._copies += 1
            copy = self._copies
        return copy, self.load_copy(copy)

    def _release(self, copy: int, environment: Environment) -> None:
        with self._lock:
            self._idle[copy] = environment


class _HeldBody(Iterator[Any]):
    """A streamed body that gives its execution environment back once exhausted or closed (once)."""

    def __init__(
        self, chunks: Iterable[Any], release: Callable[[], None], principal: Principal | None = None
    ) -> None:
        self._source = chunks
        self._chunks = iter(chunks)
        self._release: Callable[[], None] | None = release
        self._principal = principal  # the handler's code makes the chunks: its calls are the function's

    def __next__(self) -> Any:
        try:
            with acting_as(self._principal):
                return next(self._chunks)
        except BaseException:  # the end, or the producer failed: either way it produces no more
            self.close()
            raise

    def close(self) -> None:
        release, self._release = self._release, None
        if release is None:
            return
        try:
            close = getattr(self._source, "close", None)
            if callable(close):
                with acting_as(self._principal):
                    close()  # stop the producer (e.g. an SSE poll loop) before its environment is lent again
        finally:
            release()


def streamed_body(result: Any) -> Iterable[Any] | None:
    """The chunks of a streamed proxy response (its body is an iterable, not a str), else None."""
    if not isinstance(result, dict):
        return None
    body = result.get("body")
    if body is None or isinstance(body, str | bytes | bytearray) or not isinstance(body, Iterable):
        return None
    return body


def load_environment(root: Path, code_uri: str, handler: str, copy: int = 0) -> Environment:
    """CodeUri `functions/runs_api/` + Handler `app.lambda_handler` → that file's lambda_handler, and
    the same module's `stream_handler` if it defines a callable one.

    The module is registered under a name derived from its path ("functions.runs_api.app"), so each
    function's `app.py` is its own module, and a test importing `functions.runs_api.app` gets the
    same module object. `copy` > 0 imports another instance of the module ("….app#2"): a second
    execution environment.
    """
    module_path, _, attribute = handler.rpartition(".")
    if not module_path or not attribute:
        raise ValueError(f"Handler {handler!r} is not of the form module.function")
    code_dir = (root / code_uri).resolve()
    file = code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
    if not file.is_file():
        file = code_dir.joinpath(*module_path.split("."), "__init__.py")
    if not file.is_file():
        raise FileNotFoundError(f"handler module for {handler!r} not found under {code_dir}")
    relative = file.relative_to(root.resolve()).with_suffix("")
    parts = relative.parts[:-1] if relative.name == "__init__" else relative.parts
    module = _import_file(".".join(parts) + (f"#{copy}" if copy else ""), file)
    function = getattr(module, attribute, None)
    if not callable(function):
        raise AttributeError(f"{file} has no callable {attribute!r}")
    stream_handler = getattr(module, "stream_handler", None)
    return Environment(function, stream_handler if callable(stream_handler) else None)


def _import_file(module_name: str, file: Path) -> ModuleType:
    existing = sys.modules.get(module_name)
    if existing is not None and Path(getattr(existing, "__file__", "") or "").resolve() == file:
        return existing
    spec = importlib.util.spec_from_file_location(module_name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    return module


# ------------------------------------------------------------------ Powertools request state per thread

_request_state = threading.local()
_isolated = False


def isolate_powertools_request_state() -> None:
    """Give each thread its own Powertools event-handler request (current_event, lambda_context).

    Powertools' resolvers keep the request being resolved in class attributes of BaseRouter, one per
    process: right for Lambda, where an execution environment handles one request at a time. Locally
    the environments of all functions are threads of one process, so two concurrent API requests would
    read each other's event (one request's body with another's path). The resolvers' `current_event` and
    `lambda_context` become per-thread properties, set by `resolve` from its own event (and restored after
    it, for a nested resolve on the same thread). Idempotent.
    """
    global _isolated
    if _isolated:
        return
    from aws_lambda_powertools.event_handler.api_gateway import ApiGatewayResolver

    def getter(name: str) -> Any:
        def get(self: Any) -> Any:
            return getattr(_request_state, name, None)

        def set_(self: Any, value: Any) -> None:
            setattr(_request_state, name, value)

        return property(get, set_)

    resolve = ApiGatewayResolver.resolve

    def resolve_on_this_thread(self: Any, event: Any, context: Any) -> Any:
        saved = (
            getattr(_request_state, "current_event", None),
            getattr(_request_state, "lambda_context", None),
        )
        raw = event.raw_event if hasattr(event, "raw_event") else event
        _request_state.current_event = self._to_proxy_event(raw)
        _request_state.lambda_context = context
        try:
            return resolve(self, event, context)
        finally:
            _request_state.current_event, _request_state.lambda_context = saved

    ApiGatewayResolver.current_event = getter("current_event")  # type: ignore[assignment]
    ApiGatewayResolver.lambda_context = getter("lambda_context")  # type: ignore[assignment]
    ApiGatewayResolver.resolve = resolve_on_this_thread  # type: ignore[method-assign]
    _isolated = True

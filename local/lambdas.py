"""Lambda functions in-process: load a function's real handler from CodeUri/Handler and invoke it."""

import importlib.util
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from local.template import function_arn

Handler = Callable[[Any, Any], Any]


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


@dataclass
class LocalFunction:
    """One AWS::Serverless::Function. The timeout is reported to the handler, not enforced.

    Like Lambda, each invocation has an execution environment to itself: concurrent invocations get
    their own copies of the handler module (its module-level state, e.g. a Powertools resolver, is not
    meant to serve two requests at once), made on demand and reused when idle.
    """

    logical_id: str
    name: str
    handler: Handler
    memory_mb: int
    timeout_s: int
    # The handler module's optional `stream_handler`, for hosts that can stream a response (local.apigw).
    stream_handler: Handler | None = None
    # Loads one more copy of the handler (another execution environment); None: invocations share one.
    load_copy: Callable[[int], Handler] | None = None
    arn: str = field(init=False)
    _idle: list[Handler] = field(init=False, default_factory=list)
    _copies: int = field(init=False, default=0)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.arn = function_arn(self.name)
        self._idle.append(self.handler)

    @classmethod
    def load(cls, logical_id: str, properties: dict[str, Any], root: Path) -> "LocalFunction":
        """Import the handler module. The environment must already be set: modules read it at import."""
        name = properties.get("FunctionName")
        code_uri, handler = str(properties["CodeUri"]), str(properties["Handler"])
        try:  # same module, attribute `stream_handler` (already imported: no second import)
            stream_handler = load_handler(root, code_uri, handler.rpartition(".")[0] + ".stream_handler")
        except (AttributeError, ValueError):
            stream_handler = None
        return cls(
            logical_id=logical_id,
            name=name if isinstance(name, str) else logical_id,
            handler=load_handler(root, code_uri, handler),
            memory_mb=int(properties.get("MemorySize", 128)),
            timeout_s=int(properties.get("Timeout", 3)),
            stream_handler=stream_handler,
            load_copy=lambda copy: load_handler(root, code_uri, handler, copy),
        )

    def new_context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory_mb,
            invoked_function_arn=self.arn,
            aws_request_id=str(uuid.uuid4()),
            deadline_ms=int(time.time() * 1000) + self.timeout_s * 1000,
            log_group_name=f"/aws/lambda/{self.name}",
        )

    def invoke(self, event: Any) -> Any:
        """Call the handler like the Lambda runtime would (exceptions propagate to the caller)."""
        handler = self._acquire()
        try:
            return handler(event, self.new_context())
        finally:
            with self._lock:
                self._idle.append(handler)

    def _acquire(self) -> Handler:
        with self._lock:
            if self._idle:
                return self._idle.pop()
            if self.load_copy is None:
                return self.handler
            self._copies += 1
            copy = self._copies
        return self.load_copy(copy)


def load_handler(root: Path, code_uri: str, handler: str, copy: int = 0) -> Handler:
    """CodeUri `functions/runs_api/` + Handler `app.lambda_handler` → that file's lambda_handler.

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
    return function


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

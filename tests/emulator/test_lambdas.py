"""devstack.lambdas: each invocation, a streamed one too, has an execution environment (module copy) alone."""

import inspect
import uuid
from pathlib import Path
from typing import Any

from devstack.lambdas import Environment, LocalFunction


def pooled_function() -> tuple[LocalFunction, list[int]]:
    """A function whose handlers say which copy answered; `loaded` lists the copies made."""
    loaded: list[int] = []

    def load(copy: int) -> Environment:
        def handler(event: Any, context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "body": f"copy {copy}"}

        def stream_handler(event: Any, context: Any) -> dict[str, Any]:
            return {"statusCode": 200, "body": iter([f"copy {copy}", "end"])}

        loaded.append(copy)
        return Environment(handler, stream_handler)

    first = load(0)
    function = LocalFunction(
        "F", "F", first.handler, 128, 3, stream_handler=first.stream_handler, load_copy=load
    )
    return function, loaded


def test_a_stream_holds_its_environment_until_it_is_read_to_the_end() -> None:
    function, loaded = pooled_function()
    streamed = function.invoke({}, stream=True)
    assert function.invoke({})["body"] == "copy 1"  # copy 0 is still producing the stream
    assert list(streamed["body"]) == ["copy 0", "end"]
    assert function.invoke({})["body"] == "copy 0"  # given back: sequential calls use copy 0 again
    assert loaded == [0, 1]


def test_closing_an_unread_stream_gives_its_environment_back() -> None:
    function, loaded = pooled_function()
    function.invoke({}, stream=True)["body"].close()
    assert function.invoke({}, stream=True)["body"].__next__() == "copy 0"
    assert loaded == [0]


def test_without_stream_the_lambda_handler_answers() -> None:
    function, _ = pooled_function()
    assert function.invoke({}, stream=False)["body"] == "copy 0"


def test_load_takes_stream_handler_from_the_imported_module(tmp_path: Path) -> None:
    package = f"fn_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "app.py").write_text(
        "def lambda_handler(event, context):\n    return 'buffered'\n\n\n"
        "def stream_handler(event, context):\n    return 'streamed'\n"
    )
    (tmp_path / package / "plain.py").write_text("def lambda_handler(event, context):\n    return 'plain'\n")
    streaming = LocalFunction.load("A", {"CodeUri": package, "Handler": "app.lambda_handler"}, tmp_path)
    assert streaming.stream_handler is not None
    assert inspect.getmodule(streaming.stream_handler) is inspect.getmodule(streaming.handler)
    assert streaming.invoke({}, stream=True) == "streamed"
    plain = LocalFunction.load("B", {"CodeUri": package, "Handler": "plain.lambda_handler"}, tmp_path)
    assert plain.stream_handler is None
    assert plain.invoke({}, stream=True) == "plain"


def test_a_function_behind_the_lambda_web_adapter_is_its_app_module(tmp_path: Path) -> None:
    """Handler run.sh + AWS_LAMBDA_EXEC_WRAPPER=/opt/bootstrap: deployed, run.sh serves app.py's
    stream_handler over HTTP; locally the emulator calls app.py's handlers directly."""
    package = f"fn_{uuid.uuid4().hex[:8]}"
    (tmp_path / package).mkdir()
    (tmp_path / package / "run.sh").write_text("#!/bin/bash\nexec python3 -m server app:stream_handler\n")
    (tmp_path / package / "app.py").write_text(
        "def lambda_handler(event, context):\n    return 'buffered'\n\n\n"
        "def stream_handler(event, context):\n    return 'streamed'\n"
    )
    properties = {
        "CodeUri": package,
        "Handler": "run.sh",
        "Environment": {"Variables": {"AWS_LAMBDA_EXEC_WRAPPER": "/opt/bootstrap"}},
    }
    function = LocalFunction.load("W", properties, tmp_path)
    assert function.invoke({}, stream=True) == "streamed"
    assert function.invoke({}) == "buffered"


def test_a_nested_invocation_leaves_its_callers_log_keys_alone() -> None:
    """A Lambda Invoke answered on the caller's thread (devstack.executions) runs a second observed
    handler inside the first: what it logs with must not replace what its caller logs with."""
    from runs_core.observability import bind, logger, observed

    def inner_handler(event: Any, context: Any) -> None:
        bind(run_id="run_inner")

    inner = LocalFunction("Inner", "Inner", observed(traced=False)(inner_handler), 128, 3)

    def outer_handler(event: Any, context: Any) -> dict[str, Any]:
        bind(run_id="run_outer")
        inner.invoke({})
        return logger.thread_safe_get_current_keys()

    outer = LocalFunction("Outer", "Outer", observed(traced=False)(outer_handler), 128, 3)
    keys = outer.invoke({})
    assert (keys["function_name"], keys["run_id"]) == ("Outer", "run_outer")

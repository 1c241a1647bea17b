"""Per-request work moto repeats that the local stack does not need: moto patched to do it once.

Measured with bench.soak (three-decision runs, 4 client threads; CPU per run, every thread, by
component with time.thread_time): moto's request handling was about half of a run's CPU, and part of
it is work whose answer never changes within a process:

1. `BaseResponse.call_action` lists the handler class's methods with `inspect.getmembers` on every
   request (to check the action is one of them): a walk over the few hundred attributes of, e.g.,
   DynamoHandler per call. The methods of a class do not change: cached per class.
2. The Step Functions interpreter makes a new boto3 client (`boto_client_for`) for every Lambda task
   it runs: a client is built from botocore's service model and event hooks each time (several ms).
   Clients are safe to share between threads (boto3's documentation), and moto's clients do not
   depend on the task's credentials (it signs with fixed fake keys): one per region and service is
   kept and reused.

Nothing here changes what a request does or answers. Each patch checks what it relies on and fails
loudly at start if a moto upgrade changed it; tests/emulator/test_overhead.py fails if one is gone.
"""

import dis
import functools
import threading
from typing import Any

_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Apply every patch (idempotent)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        _cache_method_names()
        _reuse_step_functions_clients()
        _installed = True


# ---------------------------------------------------------------------- 1. handler method names


def _cache_method_names() -> None:
    import moto.core.responses as responses

    if (
        getattr(responses, "method_names_from_class", None) is None
        or "method_names_from_class" not in responses.BaseResponse.call_action.__code__.co_names
    ):
        raise RuntimeError(
            "moto's BaseResponse.call_action no longer calls method_names_from_class: "
            "revisit devstack.overhead"
        )
    uncached = responses.method_names_from_class
    responses.method_names_from_class = functools.cache(uncached)


# ---------------------------------------------------------------------- 2. Step Functions' clients


def _reuse_step_functions_clients() -> None:
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_eval
    from moto.stepfunctions.parser.asl.utils import boto_client

    code = boto_client.boto_client_for.__code__
    reads = {i.argval for i in dis.get_instructions(code) if i.opname.startswith("LOAD_FAST")}
    if (
        getattr(lambda_eval, "boto_client_for", None) is not boto_client.boto_client_for
        or code.co_varnames[:3] != ("region", "service", "state_credentials")
        or "state_credentials" in reads  # the client would depend on the task's credentials
    ):
        raise RuntimeError(
            "moto's Lambda tasks no longer get their client from boto_client_for: revisit devstack.overhead"
        )
    new_client = boto_client.boto_client_for
    clients: dict[tuple[str, str, bool], Any] = {}
    lock = threading.Lock()

    def shared_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber

        key = (region, service, bool(botocore_stubber.enabled))  # moto's endpoint differs in server mode
        with lock:
            client = clients.get(key)
            if client is None:
                client = clients[key] = new_client(region, service, state_credentials)
        return client

    boto_client.boto_client_for = shared_client_for
    lambda_eval.boto_client_for = shared_client_for

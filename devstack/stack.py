"""DevStack: template.yaml run in one process — moto for AWS, real handlers, an API Gateway emulator,
and the template's state machines executed by moto's ASL interpreter (devstack.executions), their Lambda
tasks running the real handlers in-process.

    stack = DevStack()
    stack.start()          # moto, tables, environment, handlers, routes: all from template.yaml
    stack.seed()           # org "dev" (1,000,000 credits, the dev key) and the demo agent
    auth = {"Authorization": f"Bearer {stack.dev_key}"}
    status, headers, body = stack.request("GET", "/v1/org", auth, None, None)
    stack.stop()

One DevStack per process at a time: handlers and runs_core read the environment when first
imported and keep module state (settings, the authorizer's key cache), as they do in Lambda.
"""

import base64
import gc
import logging
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import boto3

from devstack.apigw import HttpResponse, RestApiEmulator
from devstack.aws import start_moto
from devstack.dynamodb import create_tables
from devstack.executions import LocalExecutions, install
from devstack.iam import function_policy
from devstack.iam import install as install_iam
from devstack.lambdas import LocalFunction, isolate_powertools_request_state
from devstack.s3 import LocalS3Gateway
from devstack.streams import StreamMappings, create_buses_and_queues
from devstack.template import (
    BUCKET_TYPE,
    EVENT_BUS_TYPE,
    FUNCTION_TYPE,
    QUEUE_TYPE,
    REGION,
    SECRET_TYPES,
    STATE_MACHINE_TYPES,
    TABLE_TYPES,
    Template,
    Unresolvable,
    logical_id_of,
)
from devstack.wakeups import StreamWakeups
from devstack.wakeups import install as install_wakeups
from devstack.websocket import WEBSOCKET_TYPES, WebSocketApi, close_all
from devstack.websocket import install as install_websocket

log = logging.getLogger("devstack.stack")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TEMPLATE = REPO_ROOT / "template.yaml"

DEV_ORG_NAME = "dev"
DEV_ORG_CREDITS = 1_000_000

# Local-only defaults; a value already in the process environment wins.
LOCAL_DEFAULTS = {
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
    "POWERTOOLS_METRICS_DISABLED": "true",  # EMF would only be printed
    "API_KEY_PREFIX": "sk_test",  # keys minted locally are test keys
}
# Template variables (from stack parameters) a developer sets in the shell, e.g.
# RUNS_API_HTTP_ALLOWLIST=127.0.0.1 make dev to use a model server on localhost.
DEVELOPER_SETTINGS = frozenset({"RUNS_API_HTTP_ALLOWLIST"})
DEFAULT_PORT = (
    3000  # where `python -m devstack` listens unless RUNS_API_PORT says otherwise (devstack.server)
)
# What start() builds besides tables; secrets are not built but replaced by local values.
_EMULATED_TYPES = (
    frozenset(
        {
            FUNCTION_TYPE,
            "AWS::Serverless::Api",
            "AWS::Serverless::LayerVersion",
            EVENT_BUS_TYPE,
            QUEUE_TYPE,
            BUCKET_TYPE,
        }
    )
    | STATE_MACHINE_TYPES
)


class DevStack:
    def __init__(
        self,
        template_path: Path = DEFAULT_TEMPLATE,
        *,
        dev_key: str | None = None,
        admin_key: str | None = None,
        cursor_secret: str | None = None,
    ) -> None:
        self.template_path = template_path
        self.dev_key = dev_key or os.environ.get("RUNS_API_DEV_KEY") or "sk_test_" + secrets.token_urlsafe(24)
        self.admin_key = (
            admin_key or os.environ.get("RUNS_API_ADMIN_KEY") or "sk_admin_" + secrets.token_urlsafe(24)
        )
        self.cursor_secret = (
            cursor_secret or os.environ.get("RUNS_API_CURSOR_SECRET") or secrets.token_urlsafe(32)
        )
        # Signs `http` actions, so they work out of the box; receivers verify with any Standard
        # Webhooks library (the banner prints it). Deployed, the template's WebhookSigningSecret does this.
        self.webhook_secret = os.environ.get("RUNS_API_WEBHOOK_SECRET") or "whsec_" + base64.b64encode(
            secrets.token_bytes(24)
        ).decode("ascii")
        self.dev_org_id: str | None = None
        self.tables: list[str] = []
        self.functions: dict[str, LocalFunction] = {}
        self.state_machines: dict[str, str] = {}  # logical id → ARN
        self._executions: LocalExecutions | None = None
        self._streams: StreamMappings | None = None
        self._mock: Any = None
        self._template: Template | None = None
        self._api: RestApiEmulator | None = None
        self.websocket: WebSocketApi | None = None  # the template's WebSocket API, served at /ws
        self.s3: LocalS3Gateway | None = None  # the template's buckets; presigned URLs at /_s3 (devstack.s3)
        self.public_url: str | None = None  # the HTTP server's, once it told us (served_at)

    # ------------------------------------------------------------------ lifecycle

    def served_at(self, url: str) -> None:
        """The HTTP server in front of this stack has bound `url` (devstack.server.LocalApiServer calls it):
        presigned file URLs point at its /_s3 route.

        Only before start() takes effect: the handlers read FILES_PUBLIC_ENDPOINT once and keep it.
        """
        if self._mock is not None and url != self.public_url:
            log.warning(
                "a server at %s joined a started stack: presigned file URLs still point at %s",
                url,
                os.environ.get("FILES_PUBLIC_ENDPOINT"),
            )
            return
        self.public_url = url

    def start(self) -> "DevStack":
        if self._mock is not None:
            raise RuntimeError("DevStack already started")
        install()  # before moto starts: boto3 sessions made from now on carry it
        install_websocket()  # PostToConnection → the live local socket
        install_iam()  # a function's AWS calls are checked against its template policy
        isolate_powertools_request_state()  # concurrent requests on threads must not share one event
        self._mock = start_moto()
        try:
            template = self._template = Template(self.template_path)
            self.tables = create_tables(template, boto3.client("dynamodb", region_name=REGION))
            sqs = boto3.client("sqs", region_name=REGION)
            create_buses_and_queues(template, boto3.client("events", region_name=REGION), sqs)
            self._set_environment(template)
            self._add_layers_to_path(template)
            self._push_new_events()
            self.functions = {
                logical_id: LocalFunction.load(
                    logical_id,
                    template.function_properties(logical_id),
                    template.root,
                    policy=function_policy(template, logical_id),
                )
                for logical_id in template.resources_of(FUNCTION_TYPE)
            }
            self._executions = LocalExecutions(
                template, self.functions, boto3.client("stepfunctions", region_name=REGION)
            ).start()
            self.state_machines = dict(self._executions.arns)
            self._streams = StreamMappings(  # DynamoDB stream event sources: pollers → real handlers
                template,
                self.functions,
                dynamodb=boto3.client("dynamodb", region_name=REGION),
                streams=boto3.client("dynamodbstreams", region_name=REGION),
                sqs=sqs,
            )
            self._streams.start()
            self._api = RestApiEmulator.from_template(template, self.functions)
            self.websocket = WebSocketApi.from_template(template, self.functions)
            self.s3 = LocalS3Gateway.from_template(
                template, self.functions, boto3.client("s3", region_name=REGION)
            )
        except BaseException:
            self.stop()
            raise
        return self

    def seed(self) -> str:
        """Org `dev` with 1,000,000 credits and the dev key, plus the demo agent; returns the org id."""
        from devstack.seed import seed_dev  # imports runs_core: on sys.path once start() added the layer

        self.dev_org_id = seed_dev(org_name=DEV_ORG_NAME, credits=DEV_ORG_CREDITS, api_key=self.dev_key)
        return self.dev_org_id

    def stop(self) -> None:
        if self._streams is not None:
            self._streams.stop()
            self._streams = None
        if self._executions is not None:
            self._executions.stop()  # running executions are stopped, not left waiting
            self._executions = None
        if self._mock is not None:
            self._mock.stop()
            self._mock = None
        self._api = None
        self.websocket = None
        self.s3 = None
        close_all()

    def __enter__(self) -> "DevStack":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ requests

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str | Sequence[str]] | None = None,
        body: bytes | None = None,
        query: Mapping[str, Sequence[str]] | None = None,
        *,
        source_ip: str = "127.0.0.1",
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request through the API Gateway emulator. Safe to call from many threads at once.

        `path` is the URL path as sent (percent-encoded); a `?query` on it is used when `query` is None.
        """
        if self._api is None:
            raise RuntimeError("DevStack is not started")
        if query is None and "?" in path:
            path, _, query_string = path.partition("?")
            query = parse_qs(query_string, keep_blank_values=True)
        response: HttpResponse = self._api.handle(method, path, headers, body, query, source_ip)
        return response.status, response.headers, response.body

    def stream(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str | Sequence[str]] | None = None,
        body: bytes | None = None,
        query: Mapping[str, Sequence[str]] | None = None,
        *,
        source_ip: str = "127.0.0.1",
    ) -> HttpResponse:
        """`request` for a host that can stream: a function's `stream_handler` may answer, and then the
        response's `chunks` is the body, to be written as it comes (devstack.apigw explains)."""
        if self._api is None:
            raise RuntimeError("DevStack is not started")
        return self._api.handle(method, path, headers, body, query, source_ip, stream=True)

    def s3_request(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, dict[str, str], bytes]:
        """A request to a presigned S3 URL (/_s3/<bucket>/<key>?X-Amz-…), served by moto (devstack.s3)."""
        if self.s3 is None:
            raise RuntimeError("DevStack is not started")
        return self.s3.handle(method, path, query, headers, body)

    def payload_too_large(self) -> tuple[int, dict[str, str], bytes]:
        """The 413 for a request whose body is over API Gateway's 10 MiB limit (not read at all)."""
        if self._api is None:
            raise RuntimeError("DevStack is not started")
        response = self._api.payload_too_large()
        return response.status, response.headers, response.body

    def state_machine_sources(self) -> dict[str, str]:
        """Logical id → where its definition comes from (the DefinitionUri, else "inline")."""
        if self._template is None:
            return {}
        return {
            logical_id: str(
                (self._template.resources[logical_id].get("Properties") or {}).get("DefinitionUri", "inline")
            )
            for logical_id in self.state_machines
        }

    def unemulated_resources(self) -> list[str]:
        """Template resources and event sources the local stack does not run, for an honest banner."""
        if self._template is None:
            return []
        handled = (
            TABLE_TYPES | SECRET_TYPES | _EMULATED_TYPES | (WEBSOCKET_TYPES if self.websocket else set())
        )
        missing = [
            f"{logical_id} ({resource.get('Type')})"
            for logical_id, resource in self._template.resources.items()
            if resource.get("Type") not in handled
        ]
        for logical_id in self._template.resources_of(FUNCTION_TYPE):
            for name, event in (self._template.function_properties(logical_id).get("Events") or {}).items():
                if event.get("Type") not in ("Api", "DynamoDB", "S3"):
                    missing.append(f"{logical_id}.{name} ({event.get('Type')} event)")
        return missing

    # ------------------------------------------------------------------ helpers

    def _set_environment(self, template: Template) -> None:
        """Every function's Environment.Variables, into this one process (functions share it locally)."""
        # Values that exist only in a deployed stack. Locally the process supplies these; any other
        # secret-backed variable stays unset (ADMIN_KEY_SECRET_ARN, CURSOR_SECRET_ARN: the plain
        # RUNS_API_ADMIN_KEY and CURSOR_SECRET below take their place).
        local_secrets: dict[str, str] = {}
        values: dict[str, str] = {}
        for logical_id in template.resources_of(FUNCTION_TYPE):
            environment = template.function_properties(logical_id).get("Environment") or {}
            variables = environment.get("Variables") or {}
            for name, raw in variables.items():
                try:
                    value = _env_string(template.resolve(raw))
                except Unresolvable as reason:
                    if name not in local_secrets:
                        log.debug("%s.%s not set locally (%s)", logical_id, name, reason)
                        continue
                    value = local_secrets[name]
                if value == "":
                    continue  # declared for `sam local --env-vars`, unset when deployed: unset here too
                if values.get(name, value) != value:
                    log.warning(
                        "%s: %s differs between functions; the local process keeps one value",
                        logical_id,
                        name,
                    )
                values[name] = value
        for name, value in values.items():
            if name.startswith("POWERTOOLS_") or name in DEVELOPER_SETTINGS:
                os.environ.setdefault(name, value)  # the developer's shell wins
            else:
                os.environ[name] = value
        for name, value in LOCAL_DEFAULTS.items():
            os.environ.setdefault(name, value)
        # Presigned file URLs point at this stack's own S3 route (devstack.s3), so curl can use them: at the
        # port its server actually bound. That wins over an inherited value (a test process whose own
        # in-process stack set it starts servers on other ports). Without a server (requests through
        # request / s3_request) only the path matters; a value already set is kept.
        if self.public_url is not None:
            os.environ["FILES_PUBLIC_ENDPOINT"] = f"{self.public_url}/_s3"
        else:
            os.environ.setdefault("FILES_PUBLIC_ENDPOINT", f"http://127.0.0.1:{DEFAULT_PORT}/_s3")
        os.environ["RUNS_API_ADMIN_KEY"] = self.admin_key
        os.environ["CURSOR_SECRET"] = self.cursor_secret
        os.environ.pop("CURSOR_SECRET_ARN", None)
        os.environ["RUNS_API_WEBHOOK_SECRET"] = self.webhook_secret
        os.environ.pop("ADMIN_KEY_SECRET_ARN", None)
        # runs_core reads its settings once per process; if anything read them before this point
        # (e.g. a test importing runs_core first), make the next read see this environment.
        settings_module = sys.modules.get("runs_core.settings")
        cached = getattr(settings_module, "get_settings", None)
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()

    def _push_new_events(self) -> None:
        """SSE readers and stream pollers are woken by writes (devstack.wakeups), not by a poll timer."""
        install_wakeups()
        from runs_core.logic.events import use_new_events  # importable once the layer is on the path

        use_new_events(StreamWakeups())

    def _add_layers_to_path(self, template: Template) -> None:
        """A Python layer's ContentUri is importable in Lambda (its build lands in /opt/python)."""
        layer_ids: list[str] = []
        for logical_id in template.resources_of(FUNCTION_TYPE):
            for layer in template.function_properties(logical_id).get("Layers") or []:
                layer_id = logical_id_of(layer)
                if (
                    layer_id
                    and layer_id not in layer_ids
                    and template.type_of(layer_id) == "AWS::Serverless::LayerVersion"
                ):
                    layer_ids.append(layer_id)
        for layer_id in layer_ids:
            content_uri = (template.resources[layer_id].get("Properties") or {}).get("ContentUri")
            directory = str((template.root / str(content_uri)).resolve())
            if directory not in sys.path:
                sys.path.insert(0, directory)


def freeze_start_up() -> int:
    """Leave what start-up made (modules, botocore's and moto's models, the handlers, the seed) out of
    the garbage collector's full collections; returns how many objects that is.

    The local stack is one interpreter, and a full (generation 2) collection stops all of it. After
    start-up ~300,000 long-lived objects are in the heap; each full collection walked them all: 140-205
    ms of CPU each (gc.callbacks, `make bench` section 8 beside three runs), the largest pauses a live
    client saw. Frozen, a full collection walks only what was made since: 27-57 ms. Collected first, so
    no cyclic garbage is frozen (frozen objects are still freed when their last reference goes; only a
    cycle among them would stay). Called once, by `python -m devstack`, after the stack is seeded."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def _env_string(value: Any) -> str:
    """Lambda environment values are strings (a YAML 30 or true becomes "30" / "true")."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

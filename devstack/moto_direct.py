"""AWS calls answered by moto's service handlers without the HTTP round trip botocore and moto make:
DynamoDB's data plane, EventBridge's PutEvents and Step Functions' execution calls.

A call to moto went: botocore serializes the request, resolves its endpoint, signs it (SigV4), emits
`before-send`, where moto's BotocoreStubber matches the URL against every service's URL patterns,
rebuilds the request as a werkzeug Request and dispatches it to the service's handler; botocore then
parses moto's bytes. A soak run (bench.soak) makes ~60 DynamoDB calls, ~6 PutEvents and ~2
StartExecution. Measured with bench.soak (process CPU per run, 150 runs, A/B back to back on a loaded
machine): 262 → 244 ms with this path for DynamoDB; building moto's request from a per-shape template
(`_normalized`) instead of werkzeug's EnvironBuilder: 85 → 8 µs of thread CPU per request. PutEvents
and Step Functions: see the commit that added them (py-spy: their full path was ~9% of the stack's
CPU, moto's own work in it under 1%).

install() adds a botocore `before-call.<service>` handler per service of `SERVICES`
(devstack.aws.register_before_call) that answers the operations listed there; handlers registered for
a single operation (a test's injected fault, botocore's Stubber) run before it and still answer first.
It takes botocore's already-serialized request (the same body, headers and URL), adds the
Authorization header moto reads (the caller's access key and region; moto checks no signature), and,
under the moto lock (devstack.aws), does what BotocoreStubber does for it: moto's `normalize_request`
(the same werkzeug Request), moto's request recorder, the handler's dispatch, HTTPException →
status/headers/body. botocore's own `convert_to_response_dict` and JSON parser turn moto's answer into
the parsed response, and botocore's `_make_api_call` raises the same ClientError from it. So moto's
backends, their validators and every devstack patch of a handler or backend (retention, query_index,
dynamodb_responses, overhead, executions) answer exactly as before; IAM (devstack.iam) is checked in
`_make_api_call` before `before-call`, so a denied call is denied as before.

What is skipped, and why that changes no answer: SigV4 signing (moto does not verify signatures);
`before-send` handlers (none for these services outside tests: the call is answered here instead;
control-plane operations such as ListTables, CreateTable, CreateEventBus or CreateStateMachine still
take the full path); botocore's retries (moto neither throttles nor fails transiently: a retried call
would be answered the same, and a 5xx is returned as is with RetryAttempts 0). It steps aside
(returns None: the full path) when moto is not mocking (`botocore_stubber.enabled`), when moto's
config passes the service through or does not allow it (the full path answers or raises as before),
or when the URL is not moto's endpoint of the service (a custom endpoint; StartSyncExecution's
`sync-states` host).

`install()` checks what it relies on (each service's handler dispatch is what moto routes its URL to,
and the first of moto's URL patterns to match it is the service's; BotocoreStubber.process_request
still calls normalize_request, the recorder and the URL's method) and raises at start if a moto
upgrade changed it. tests/emulator/test_moto_direct.py compares answers and errors with the full path
for each service and fails if a handler is gone.
"""

import importlib
import re
from collections import Counter
from typing import Any, NamedTuple

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.endpoint import convert_to_response_dict
from botocore.parsers import create_parser

from devstack.once import installs_once


class Service(NamedTuple):
    """A service answered directly: moto's URL module, the handler moto dispatches its URL to, the
    operations answered (the rest take the full path) and the botocore event its handler listens to."""

    urls: str  # moto's module of url_bases and url_paths
    handler: str  # "module:Class" whose dispatch url_paths routes to
    operations: frozenset[str]
    event: str  # less specific than before-call.<service id>.<Operation>: those answer first
    endpoint: str  # the URL botocore sends the service's calls to (us-east-1), for the checks


SERVICES = {  # by botocore's service name (service_model.service_name)
    "dynamodb": Service(
        "moto.dynamodb.urls",
        "moto.dynamodb.responses:DynamoHandler",
        frozenset(
            {
                "GetItem",
                "PutItem",
                "UpdateItem",
                "DeleteItem",
                "Query",
                "Scan",
                "BatchGetItem",
                "BatchWriteItem",
                "TransactGetItems",
                "TransactWriteItems",
            }
        ),
        "before-call.dynamodb",
        "https://dynamodb.us-east-1.amazonaws.com/",
    ),
    "events": Service(
        "moto.events.urls",
        "moto.events.responses:EventsHandler",
        frozenset({"PutEvents"}),
        "before-call.eventbridge",
        "https://events.us-east-1.amazonaws.com/",
    ),
    "stepfunctions": Service(
        "moto.stepfunctions.urls",
        "moto.stepfunctions.responses:StepFunctionResponse",
        frozenset(
            {
                "StartExecution",
                "StopExecution",
                "DescribeExecution",
                "GetExecutionHistory",
                "ListExecutions",
                "SendTaskSuccess",
                "SendTaskFailure",
                "SendTaskHeartbeat",
            }
        ),
        "before-call.sfn",
        "https://states.us-east-1.amazonaws.com/",
    ),
}
VERIFY = False  # also build each request with moto's normalize_request and compare (tests)
stats: Counter[str] = Counter()  # direct, direct.<service>, verified
_dispatchers: dict[tuple[str, str], Any] = {}
_templates: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, str], str]] = {}
_PER_REQUEST = ("wsgi.input", "werkzeug.request", "CONTENT_LENGTH")
# The environ's keys a request's raw_url is made of, besides the URL itself (a Host header would be one).
_URL_PARTS = frozenset({"HTTP_HOST", "SERVER_NAME", "SERVER_PORT", "SCRIPT_NAME", "wsgi.url_scheme"})


def _normalized(prepared: Any, normalize_request: Any) -> tuple[Any, str]:
    """moto's werkzeug Request for this request, as `normalize_request` builds it (werkzeug's
    EnvironBuilder: ~0.3 ms a request here), from the environ moto built for the first request of the
    same method, URL and header names, with this request's header values and body; and its `raw_url`
    (what BotocoreStubber passes the handler: werkzeug works it out of the environ's URL parts on every
    read, ~1% of the stack's CPU, and those parts are the template's)."""
    import io

    from moto.core.request import Request, environ_key_for_header

    headers = prepared.headers
    shape = (prepared.method, prepared.url, tuple(headers.keys()))
    template = _templates.get(shape)
    body = prepared.body
    if template is None or not isinstance(body, bytes) or not body:
        request = normalize_request(prepared)
        raw_url = request.raw_url
        if template is None and isinstance(body, bytes) and body:
            environ = {k: v for k, v in request.environ.items() if k not in _PER_REQUEST}
            keys = {name: environ_key_for_header(name) for name in headers}
            if all(isinstance(v, str) and environ.get(keys[k]) == v for k, v in headers.items()) and not any(
                key in _URL_PARTS for key in keys.values()
            ):
                _templates[shape] = (environ, keys, raw_url)
        return request, raw_url
    environ, keys, raw_url = template
    environ = dict(environ)
    environ["moto.preserved_header_names"] = dict(environ["moto.preserved_header_names"])
    for name, value in headers.items():
        environ[keys[name]] = value
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["wsgi.input"] = io.BytesIO(body)
    request = Request(environ)
    if VERIFY:
        expected_request = normalize_request(prepared)
        expected = expected_request.environ
        ours = request.environ
        for key in set(expected) | set(ours):
            if key in ("wsgi.input", "werkzeug.request"):
                continue
            if expected.get(key) != ours.get(key):
                raise AssertionError(f"environ[{key!r}]: moto {expected.get(key)!r}, ours {ours.get(key)!r}")
        if expected["wsgi.input"].getvalue() != ours["wsgi.input"].getvalue():
            raise AssertionError("request bodies differ")
        if expected_request.raw_url != raw_url:
            raise AssertionError(f"raw_url: moto {expected_request.raw_url!r}, ours {raw_url!r}")
        stats["verified"] += 1
    return request, raw_url


def _dispatcher(service: str, url: str) -> Any:
    """moto's method for this URL of the service (what BotocoreStubber would find), or None."""
    method = _dispatchers.get((service, url), False)
    if method is not False:
        return method
    urls = importlib.import_module(SERVICES[service].urls)
    method = None
    for base in urls.url_bases:
        for path, handler in urls.url_paths.items():
            if re.compile(path.format(base)).match(url):
                method = handler
                break
        if method is not None:
            break
    _dispatchers[(service, url)] = method
    return method


def _authorization(request_signer: Any, region: str, signing_name: str) -> str | None:
    """The part of a SigV4 Authorization header moto reads: the access key (its account) and region."""
    credentials = getattr(request_signer, "_credentials", None)
    access_key = getattr(credentials, "access_key", None) if credentials is not None else None
    if not access_key:
        return None
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/19700101/{region}/{signing_name}/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=local"
    )


class _Imports(NamedTuple):
    """What answer() uses from moto (imported once: moto is imported when the stack starts, not before)."""

    botocore_stubber: Any
    passthrough_service: Any
    passthrough_url: Any
    service_whitelisted: Any
    MockRawResponse: Any
    HTTPException: Any
    normalize_request: Any
    recorder: Any
    moto_lock: Any


_imports: _Imports | None = None
_parsers: dict[str, Any] = {}  # botocore's response parser per protocol


def _import() -> _Imports:
    global _imports
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
    from moto.core.exceptions import HTTPException
    from moto.core.models import botocore_stubber
    from moto.core.request import normalize_request
    from moto.moto_api import recorder

    from devstack.aws import moto_lock

    _imports = _Imports(
        botocore_stubber,
        passthrough_service,
        passthrough_url,
        service_whitelisted,
        MockRawResponse,
        HTTPException,
        normalize_request,
        recorder,
        moto_lock,
    )
    return _imports


def _parser(protocol: str) -> Any:
    """botocore's response parser for the protocol, made once: botocore's parsers keep no state between
    parses (each takes the response and shape it is given), so one serves every call and thread."""
    parser = _parsers.get(protocol)
    if parser is None:
        parser = _parsers[protocol] = create_parser(protocol)
    return parser


def answer(
    model: Any, params: dict[str, Any], request_signer: Any = None, context: Any = None, **_: Any
) -> tuple[Any, dict[str, Any]] | None:
    """botocore's `before-call.<service>`: (http response, parsed) from moto, or None (full path)."""
    m = _imports or _import()
    botocore_stubber = m.botocore_stubber

    service_model = model.service_model
    service_name = service_model.service_name
    service = SERVICES.get(service_name)
    if service is None or model.name not in service.operations or not botocore_stubber.enabled:
        return None
    url = str(params.get("url", ""))
    clean_url = url.split("?", 1)[0]
    if (
        m.passthrough_url(clean_url)
        or m.passthrough_service(service_name)
        or not m.service_whitelisted(service_name)
    ):
        return None  # the full path passes it through or raises moto's ServiceNotWhitelisted
    method = _dispatcher(service_name, clean_url)
    if method is None:
        return None
    headers = HTTPHeaders()
    for name, value in params["headers"].items():
        headers[name] = value
    region = (context or {}).get("client_region") or "us-east-1"
    authorization = _authorization(request_signer, region, service_model.signing_name)
    if authorization is not None:
        headers["Authorization"] = authorization
    body = params.get("body")
    prepared = AWSPreparedRequest(params.get("method", "POST"), url, headers, body, False)
    with m.moto_lock():
        normalized, raw_url = _normalized(prepared, m.normalize_request)
        try:
            m.recorder._record_request(normalized)
            status, response_headers, response_body = method(normalized, raw_url, normalized.headers)
        except m.HTTPException as e:
            status, response_headers, response_body = e.code, e.get_headers(), e.get_body()
    http = AWSResponse(url, status, response_headers, m.MockRawResponse(response_body))  # type: ignore[arg-type]
    response_dict = convert_to_response_dict(http, model)
    parser = _parser(service_model.resolved_protocol)
    parsed = parser.parse(response_dict, model.output_shape)
    if http.status_code >= 300:
        _add_modeled_error_fields(response_dict, parsed, model, parser)
    if "ResponseMetadata" in parsed:
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
    stats["direct"] += 1
    stats[f"direct.{service_name}"] += 1
    return http, parsed


def _add_modeled_error_fields(response_dict: Any, parsed: dict[str, Any], model: Any, parser: Any) -> None:
    """botocore.endpoint.Endpoint._add_modeled_error_fields (e.g. CancellationReasons)."""
    code = parsed.get("Error", {}).get("Code")
    if code is None:
        return
    shape = model.service_model.shape_for_error_code(code)
    if shape is None:
        return
    parsed.update(parser.parse(response_dict, shape))


def _check() -> None:
    import inspect

    from botocore.endpoint import Endpoint
    from moto import backend_index
    from moto.core.botocore_stubber import BotocoreStubber

    stubber = inspect.getsource(inspect.unwrap(BotocoreStubber.process_request))  # devstack.aws wraps it
    modeled = inspect.getsource(Endpoint._add_modeled_error_fields)
    if (
        "backend_index.backend_url_patterns" not in stubber
        or "normalize_request(request)" not in stubber
        or "recorder._record_request(normalized_request)" not in stubber
        or "except HTTPException as e" not in stubber
        or "shape_for_error_code" not in modeled
        or "parser.parse(response_dict, error_shape)" not in modeled
    ):
        raise RuntimeError(
            "moto's request dispatch or botocore's response parsing changed: revisit devstack.moto_direct"
        )
    for name, service in SERVICES.items():
        urls = importlib.import_module(service.urls)
        module, _, cls = service.handler.partition(":")
        handler = getattr(importlib.import_module(module), cls)
        routed = [s for s, pattern in backend_index.backend_url_patterns if pattern.match(service.endpoint)]
        if (
            list(urls.url_paths.values()) != [handler.dispatch]
            or routed[:1] != [name]
            or _dispatcher(name, service.endpoint) != handler.dispatch
        ):
            raise RuntimeError(
                f"moto no longer routes {service.endpoint} to {service.handler}.dispatch "
                f"(it routes it to {routed[:1]}): revisit devstack.moto_direct"
            )
    _check_request_building()


def _check_request_building() -> None:
    """Build a sample request twice (moto's way, then from its template) and compare them."""
    global VERIFY
    from botocore.awsrequest import AWSPreparedRequest
    from botocore.compat import HTTPHeaders
    from moto.core.request import normalize_request

    headers = HTTPHeaders()
    headers["X-Amz-Target"] = "DynamoDB_20120810.GetItem"
    headers["Content-Type"] = "application/x-amz-json-1.0"
    url = "https://dynamodb.us-east-1.amazonaws.com/"
    verify, VERIFY = VERIFY, True
    try:
        for body in (b'{"TableName": "a"}', b'{"TableName": "bb"}'):
            request, raw_url = _normalized(
                AWSPreparedRequest("POST", url, headers, body, False), normalize_request
            )
            if (
                request.get_data() != body
                or request.headers["X-Amz-Target"] != headers["X-Amz-Target"]
                or raw_url != url
            ):
                raise AssertionError("request differs")
    except AssertionError as error:
        raise RuntimeError(
            f"moto's normalize_request builds requests differently ({error}): revisit devstack.moto_direct"
        ) from error
    finally:
        VERIFY = verify


@installs_once
def install() -> None:
    """Answer the operations of `SERVICES` from moto directly (idempotent)."""
    from devstack.aws import register_before_call

    _check()
    for service in SERVICES.values():
        register_before_call(service.event, answer)

"""DynamoDB calls answered by moto's DynamoHandler without the HTTP round trip botocore and moto make.

A DynamoDB call to moto went: botocore serializes the request, resolves its endpoint, signs it
(SigV4), emits `before-send`, where moto's BotocoreStubber matches the URL against every service's
URL patterns, rebuilds the request as a werkzeug Request and dispatches it to DynamoHandler; botocore
then parses moto's bytes. A soak run (bench.soak) makes ~60 DynamoDB calls. Measured with bench.soak
(process CPU per run, 150 runs, A/B back to back on a loaded machine): 262 → 244 ms with this path;
building moto's request from a per-shape template (`_normalized`) instead of werkzeug's EnvironBuilder:
85 → 8 µs of thread CPU per request.

install() adds a botocore `before-call.dynamodb` handler (devstack.aws.register_before_call) that
answers the data-plane operations (`OPERATIONS`); handlers registered for a single operation (a test's
injected fault, botocore's Stubber) run before it and still answer first. It takes botocore's
already-serialized request (the same body, headers and URL), adds the Authorization header moto reads
(the caller's access key and region; moto checks no signature), and, under the moto lock
(devstack.aws), does what BotocoreStubber does for it: moto's `normalize_request` (the same werkzeug
Request), moto's request recorder, DynamoHandler's dispatch, HTTPException → status/headers/body.
botocore's own `convert_to_response_dict` and JSON parser turn moto's answer into the parsed response,
and botocore's `_make_api_call` raises the same ClientError from it. So moto's backend, its validators
and every devstack patch of DynamoHandler or of the backend (retention, query_index,
dynamodb_responses, overhead) answer exactly as before; IAM (devstack.iam) is checked in
`_make_api_call` before `before-call`, so a denied call is denied as before.

What is skipped, and why that changes no answer: SigV4 signing (moto does not verify signatures);
`before-send` handlers (none for DynamoDB outside tests: the call is answered here instead; control-plane
operations such as ListTables and CreateTable still take the full path); botocore's retries (moto
neither throttles nor fails transiently: a retried call would be answered the same, and a 5xx is
returned as is with RetryAttempts 0). It steps aside (returns None: the full path) when moto is not
mocking (`botocore_stubber.enabled`) or the URL is not moto's DynamoDB endpoint (a custom endpoint).

`install()` checks what it relies on (DynamoHandler.dispatch is what moto routes DynamoDB's URL to,
BotocoreStubber.process_request still calls normalize_request, the recorder and the URL's method) and
raises at start if a moto upgrade changed it. tests/emulator/test_moto_direct.py compares answers
and errors with the full path and fails if the handler is gone.
"""

import re
from typing import Any

from devstack.once import installs_once

OPERATIONS = frozenset(
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
)
# Less specific than `before-call.dynamodb.<Operation>` (and `before-call.*.*`): botocore calls handlers
# of more specific events first, so a fault injected for one operation, or botocore's Stubber, still
# answers before this does.
EVENT = "before-call.dynamodb"
VERIFY = False  # also build each request with moto's normalize_request and compare (tests)
stats = {"direct": 0, "verified": 0}
_dispatchers: dict[str, Any] = {}
_templates: dict[tuple[Any, ...], tuple[dict[str, Any], dict[str, str]]] = {}
_PER_REQUEST = ("wsgi.input", "werkzeug.request", "CONTENT_LENGTH")


def _normalized(prepared: Any, normalize_request: Any) -> Any:
    """moto's werkzeug Request for this request, as `normalize_request` builds it (werkzeug's
    EnvironBuilder: ~0.3 ms a request here), from the environ moto built for the first request of the
    same method, URL and header names, with this request's header values and body."""
    import io

    from moto.core.request import Request, environ_key_for_header

    headers = prepared.headers
    shape = (prepared.method, prepared.url, tuple(headers.keys()))
    template = _templates.get(shape)
    body = prepared.body
    if template is None or not isinstance(body, bytes) or not body:
        request = normalize_request(prepared)
        if template is None and isinstance(body, bytes) and body:
            environ = {k: v for k, v in request.environ.items() if k not in _PER_REQUEST}
            keys = {name: environ_key_for_header(name) for name in headers}
            if all(isinstance(v, str) and environ.get(keys[k]) == v for k, v in headers.items()):
                _templates[shape] = (environ, keys)
        return request
    environ, keys = template
    environ = dict(environ)
    environ["moto.preserved_header_names"] = dict(environ["moto.preserved_header_names"])
    for name, value in headers.items():
        environ[keys[name]] = value
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["wsgi.input"] = io.BytesIO(body)
    request = Request(environ)
    if VERIFY:
        expected = normalize_request(prepared).environ
        ours = request.environ
        for key in set(expected) | set(ours):
            if key in ("wsgi.input", "werkzeug.request"):
                continue
            if expected.get(key) != ours.get(key):
                raise AssertionError(f"environ[{key!r}]: moto {expected.get(key)!r}, ours {ours.get(key)!r}")
        if expected["wsgi.input"].getvalue() != ours["wsgi.input"].getvalue():
            raise AssertionError("request bodies differ")
        stats["verified"] += 1
    return request


def _dispatcher(url: str) -> Any:
    """moto's method for this DynamoDB URL (what BotocoreStubber would find), or None."""
    method = _dispatchers.get(url, False)
    if method is not False:
        return method
    from moto.dynamodb.urls import url_bases, url_paths

    method = None
    for base in url_bases:
        for path, handler in url_paths.items():
            if re.compile(path.format(base)).match(url):
                method = handler
                break
        if method is not None:
            break
    _dispatchers[url] = method
    return method


def _authorization(request_signer: Any, region: str) -> str | None:
    """The part of a SigV4 Authorization header moto reads: the access key (its account) and region."""
    credentials = getattr(request_signer, "_credentials", None)
    access_key = getattr(credentials, "access_key", None) if credentials is not None else None
    if not access_key:
        return None
    return (
        f"AWS4-HMAC-SHA256 Credential={access_key}/19700101/{region}/dynamodb/aws4_request, "
        "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=local"
    )


def answer(
    model: Any, params: dict[str, Any], request_signer: Any = None, context: Any = None, **_: Any
) -> tuple[Any, dict[str, Any]] | None:
    """botocore's `before-call.dynamodb`: (http response, parsed) from moto, or None (full path)."""
    from moto.core.models import botocore_stubber

    if model.name not in OPERATIONS or not botocore_stubber.enabled:
        return None
    url = str(params.get("url", ""))
    clean_url = url.split("?", 1)[0]
    method = _dispatcher(clean_url)
    if method is None:
        return None
    from botocore.awsrequest import AWSPreparedRequest, AWSResponse
    from botocore.compat import HTTPHeaders
    from botocore.endpoint import convert_to_response_dict
    from botocore.parsers import create_parser
    from moto.core.botocore_stubber import MockRawResponse
    from moto.core.exceptions import HTTPException
    from moto.core.request import normalize_request
    from moto.moto_api import recorder

    from devstack.aws import moto_lock

    headers = HTTPHeaders()
    for name, value in params["headers"].items():
        headers[name] = value
    region = (context or {}).get("client_region") or "us-east-1"
    authorization = _authorization(request_signer, region)
    if authorization is not None:
        headers["Authorization"] = authorization
    body = params.get("body")
    prepared = AWSPreparedRequest(params.get("method", "POST"), url, headers, body, False)
    with moto_lock():
        normalized = _normalized(prepared, normalize_request)
        try:
            recorder._record_request(normalized)
            status, response_headers, response_body = method(
                normalized, normalized.raw_url, normalized.headers
            )
        except HTTPException as e:
            status, response_headers, response_body = e.code, e.get_headers(), e.get_body()
    http = AWSResponse(url, status, response_headers, MockRawResponse(response_body))  # type: ignore[arg-type]
    response_dict = convert_to_response_dict(http, model)
    parser = create_parser(model.service_model.resolved_protocol)
    parsed = parser.parse(response_dict, model.output_shape)
    if http.status_code >= 300:
        _add_modeled_error_fields(response_dict, parsed, model, parser)
    if "ResponseMetadata" in parsed:
        parsed["ResponseMetadata"]["RetryAttempts"] = 0
    stats["direct"] += 1
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
    from moto.core.botocore_stubber import BotocoreStubber
    from moto.dynamodb.responses import DynamoHandler
    from moto.dynamodb.urls import url_bases, url_paths

    stubber = inspect.getsource(inspect.unwrap(BotocoreStubber.process_request))  # devstack.aws wraps it
    modeled = inspect.getsource(Endpoint._add_modeled_error_fields)
    if (
        list(url_paths.values()) != [DynamoHandler.dispatch]
        or not any(re.compile(base).match("https://dynamodb.us-east-1.amazonaws.com") for base in url_bases)
        or "normalize_request(request)" not in stubber
        or "recorder._record_request(normalized_request)" not in stubber
        or "except HTTPException as e" not in stubber
        or "shape_for_error_code" not in modeled
        or "parser.parse(response_dict, error_shape)" not in modeled
    ):
        raise RuntimeError(
            "moto's DynamoDB dispatch or botocore's response parsing changed: revisit devstack.moto_direct"
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
            request = _normalized(AWSPreparedRequest("POST", url, headers, body, False), normalize_request)
            if request.get_data() != body or request.headers["X-Amz-Target"] != headers["X-Amz-Target"]:
                raise AssertionError("request differs")
    except AssertionError as error:
        raise RuntimeError(
            f"moto's normalize_request builds requests differently ({error}): revisit devstack.moto_direct"
        ) from error
    finally:
        VERIFY = verify


@installs_once
def install() -> None:
    """Answer DynamoDB's data-plane calls from moto directly (idempotent)."""
    from devstack.aws import register_before_call

    _check()
    register_before_call(EVENT, answer)

"""An API Gateway REST API (Lambda proxy integration) emulator, configured from template.yaml.

It does what the deployed API Gateway does in front of the handlers: route matching (literal path
segments beat {params}, which beat {greedy+}; on the chosen resource its own method beats ANY), the
Lambda REQUEST/TOKEN authorizer and its IAM policy, the REST (v1) proxy event, the proxy response,
and the template's GatewayResponses for its own errors (unknown route, 401, 403, 413, 5xx).

Streaming: a host that can stream (the HTTP server) calls `handle(..., stream=True)`. If the route's
function module defines `stream_handler` (same signature as its Lambda handler; the local analogue of
Lambda response streaming), that is invoked instead, after the same routing and authorizer; when its
proxy response's `body` is an iterator of str/bytes chunks, the HttpResponse carries them in `chunks`
for the server to write as they come. Deployed, the same happens for routes whose integration is in
STREAM transfer mode (template.yaml: ResponseTransferMode); API Gateway buffers the others.

Not emulated: stage throttling (MethodSettings), usage plans, API Gateway's authorizer result cache
(the template turns it off), request validators, integration timeouts.
"""

import base64
import binascii
import fnmatch
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from devstack.ids import request_id as new_request_id
from devstack.lambdas import LocalFunction, streamed_body
from devstack.template import ACCOUNT_ID, REGION, Template, logical_id_of

log = logging.getLogger("devstack.apigw")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway REST payload limit
MAX_LAMBDA_RESPONSE_BYTES = 6 * 1024 * 1024  # synchronous Lambda response payload limit
LOCAL_API_ID = "local"
IMPLICIT_API = "ServerlessRestApi"  # SAM's name for the API it creates when RestApiId is omitted

# Default status of each gateway response type, and the message API Gateway puts in $context.error.message.
_GATEWAY_DEFAULTS: dict[str, tuple[int, str]] = {
    "ACCESS_DENIED": (403, "User is not authorized to access this resource"),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "Authorizer configuration error"),
    "AUTHORIZER_FAILURE": (500, "Authorizer failure"),
    "MISSING_AUTHENTICATION_TOKEN": (403, "Missing Authentication Token"),
    "REQUEST_TOO_LARGE": (413, "Request Too Long"),
    "UNAUTHORIZED": (401, "Unauthorized"),
    # Not a real type: a failed or malformed Lambda response (502), rendered through DEFAULT_5XX.
    "BAD_GATEWAY": (502, "Internal server error"),
}
# Used only when the template configures neither the type nor its DEFAULT_4XX/5XX: problem+json anyway.
_FALLBACK_PROBLEMS: dict[str, tuple[int, str, str]] = {
    "ACCESS_DENIED": (403, "forbidden", "Forbidden"),
    "MISSING_AUTHENTICATION_TOKEN": (404, "not_found", "Not found"),  # API Gateway's own status is 403
    "REQUEST_TOO_LARGE": (413, "payload_too_large", "Payload too large"),
    "UNAUTHORIZED": (401, "unauthorized", "Unauthorized"),
}


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    chunks: Iterator[bytes] | None = None  # a streamed body (then `body` is empty), see the module doc


@dataclass(frozen=True)
class Authorizer:
    name: str
    function: LocalFunction
    payload_type: str  # "REQUEST" or "TOKEN"
    identity_headers: tuple[str, ...]
    identity_query: tuple[str, ...]
    # With a result cache (ReauthorizeEvery > 0) API Gateway requires every identity source and
    # answers 401 itself when one is missing; without it, the sources are not checked.
    requires_identity: bool


@dataclass(frozen=True)
class RestApi:
    """One AWS::Serverless::Api (or SAM's implicit API) as the emulator needs it."""

    logical_id: str
    stage: str
    authorizers: Mapping[str, Authorizer]
    default_authorizer: str | None
    binary_media_types: tuple[str, ...]
    gateway_responses: Mapping[str, Any]

    def is_binary(self, content_type: str | None) -> bool:
        media_type = (content_type or "").split(";")[0].strip().lower()
        return bool(media_type) and any(fnmatch.fnmatchcase(media_type, p) for p in self.binary_media_types)


@dataclass(frozen=True)
class Route:
    resource: str  # the template path, e.g. /v1/runs/{run_id}
    method: str  # upper case, or ANY
    function: LocalFunction
    authorizer: Authorizer | None
    api: RestApi

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(part for part in self.resource.strip("/").split("/") if part)

    def match(self, segments: Sequence[str]) -> dict[str, str] | None:
        """Path parameters if `segments` (decoded) match this resource, else None."""
        parameters: dict[str, str] = {}
        template = self.segments
        for index, part in enumerate(template):
            if part.startswith("{") and part.endswith("+}"):
                rest = segments[index:]
                if not rest or any(not s for s in rest):
                    return None
                parameters[part[1:-2]] = "/".join(rest)
                return parameters
            if index >= len(segments):
                return None
            if part.startswith("{") and part.endswith("}"):
                if not segments[index]:
                    return None
                parameters[part[1:-1]] = segments[index]
            elif part != segments[index]:
                return None
        return parameters if len(template) == len(segments) else None

    @property
    def specificity(self) -> tuple[tuple[int, ...], int]:
        """Sort key: per segment literal (2) > {param} (1) > {greedy+} (0), then an exact method over ANY."""
        kinds = tuple(0 if p.endswith("+}") else 1 if p.startswith("{") else 2 for p in self.segments)
        return kinds, 0 if self.method == "ANY" else 1


class RestApiEmulator:
    def __init__(self, routes: list[Route], apis: list[RestApi]) -> None:
        self.routes = routes
        # Errors that happen before a route is known (unknown route, oversized body) use the first API.
        self.default_api = apis[0] if apis else _empty_api()

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_template(cls, template: Template, functions: Mapping[str, LocalFunction]) -> "RestApiEmulator":
        apis: dict[str, RestApi] = {}
        routes: list[Route] = []
        seen: set[tuple[str, str]] = set()
        for event in template.api_events():
            api_id = logical_id_of(event.properties.get("RestApiId")) or IMPLICIT_API
            if api_id not in apis:
                apis[api_id] = _build_api(template, api_id, functions)
            api = apis[api_id]
            resource = "/" + event.path.strip("/")
            where = f"{event.function}.{event.name}"
            if (resource, event.method) in seen:
                raise ValueError(f"{where}: duplicate route {event.method} {resource}")
            seen.add((resource, event.method))
            authorizer_name = (event.properties.get("Auth") or {}).get("Authorizer", api.default_authorizer)
            if authorizer_name in (None, "NONE"):
                authorizer = None
            elif authorizer_name in api.authorizers:
                authorizer = api.authorizers[authorizer_name]
            else:
                raise ValueError(f"{where}: authorizer {authorizer_name} is not emulated")
            routes.append(Route(resource, event.method, functions[event.function], authorizer, api))
        return cls(routes, list(apis.values()))

    # ------------------------------------------------------------------ requests

    def handle(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str | Sequence[str]] | None = None,
        body: bytes | None = None,
        query: Mapping[str, Sequence[str]] | None = None,
        source_ip: str = "127.0.0.1",
        stream: bool = False,
    ) -> HttpResponse:
        request_id = new_request_id()
        method = method.upper()
        path = path if path.startswith("/") else "/" + path
        single_headers, multi_headers = _header_maps(headers or {})
        request_headers = {name.lower(): value for name, value in single_headers.items()}

        if body is not None and len(body) > MAX_REQUEST_BYTES:
            return self._gateway_error(self.default_api, "REQUEST_TOO_LARGE", request_id, request_headers)

        raw_segments = path.split("/")[1:]
        if raw_segments and raw_segments[-1] == "":  # API Gateway ignores one trailing slash
            raw_segments.pop()
        found = self._find_route(method, [unquote(part) for part in raw_segments])
        if found is None:
            detail = f"No route {method} {unquote(path)}."
            return self._gateway_error(
                self.default_api, "MISSING_AUTHENTICATION_TOKEN", request_id, request_headers, detail
            )
        route, path_parameters = found
        api = route.api
        event = _proxy_event(
            route,
            method,
            path,
            (single_headers, multi_headers),
            query or {},
            path_parameters,
            request_id,
            source_ip,
        )

        if route.authorizer is not None:
            outcome = self._authorize(route, event, request_headers)
            if isinstance(outcome, str):
                return self._gateway_error(api, outcome, request_id, request_headers)
            event["requestContext"]["authorizer"] = outcome

        # Binary media types (and anything that is not UTF-8) reach the handler base64-encoded.
        if not body:
            event["body"], event["isBase64Encoded"] = None, False
        elif api.is_binary(request_headers.get("content-type")) or not _is_utf8(body):
            event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode("ascii"), True
        else:
            event["body"], event["isBase64Encoded"] = body.decode("utf-8"), False

        try:
            # Through the function's pool either way: a streamed body keeps its execution environment
            # until the server has written it (or the client left) and closes it (devstack.lambdas).
            result = route.function.invoke(event, stream=stream)
        except Exception:
            log.exception(
                "%s raised for %s %s (request %s)", route.function.logical_id, method, path, request_id
            )
            return self._gateway_error(api, "BAD_GATEWAY", request_id, request_headers)
        chunks = streamed_body(result)
        if chunks is not None:
            result = {**result, "body": None, "isBase64Encoded": False}
        response = _proxy_response(result)
        if chunks is not None:
            encoded = _EncodedChunks(chunks)
            if response is None:
                encoded.close()  # not sent: stop the producer and give its environment back
            else:
                response = HttpResponse(response.status, response.headers, b"", encoded)
        if response is None:
            log.error(
                "%s returned a malformed Lambda proxy response for %s %s (request %s): %r",
                route.function.logical_id,
                method,
                path,
                request_id,
                _truncate(result),
            )
            return self._gateway_error(api, "BAD_GATEWAY", request_id, request_headers)
        response.headers.setdefault("x-amzn-RequestId", request_id)
        return response

    def payload_too_large(self) -> HttpResponse:
        """API Gateway's answer to a body over the limit (the HTTP server refuses it without reading it)."""
        return self._gateway_error(self.default_api, "REQUEST_TOO_LARGE", new_request_id(), {})

    def _find_route(self, method: str, segments: Sequence[str]) -> tuple[Route, dict[str, str]] | None:
        best: tuple[Route, dict[str, str]] | None = None
        for route in self.routes:
            if route.method not in (method, "ANY"):
                continue
            parameters = route.match(segments)
            if parameters is not None and (best is None or route.specificity > best[0].specificity):
                best = (route, parameters)
        return best

    def _authorize(
        self,
        route: Route,
        proxy_event: dict[str, Any],
        request_headers: Mapping[str, str],
    ) -> dict[str, Any] | str:
        """Run the authorizer: its context for the proxy event, or the gateway response type to answer."""
        authorizer = route.authorizer
        assert authorizer is not None
        request_context = proxy_event["requestContext"]
        method_arn = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{LOCAL_API_ID}/{route.api.stage}/"
            f"{proxy_event['httpMethod']}/{proxy_event['path'].lstrip('/')}"
        )
        if authorizer.requires_identity and (
            any(not request_headers.get(h.lower()) for h in authorizer.identity_headers)
            or any(not (proxy_event["queryStringParameters"] or {}).get(q) for q in authorizer.identity_query)
        ):
            return "UNAUTHORIZED"
        if authorizer.payload_type == "TOKEN":
            token_header = authorizer.identity_headers[0] if authorizer.identity_headers else "Authorization"
            token = request_headers.get(token_header.lower())
            if not token:
                return "UNAUTHORIZED"
            event: dict[str, Any] = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        else:
            event = {
                "type": "REQUEST",
                "methodArn": method_arn,
                **{
                    key: proxy_event[key]
                    for key in (
                        "resource",
                        "path",
                        "httpMethod",
                        "headers",
                        "multiValueHeaders",
                        "queryStringParameters",
                        "multiValueQueryStringParameters",
                        "pathParameters",
                        "stageVariables",
                    )
                },
                "requestContext": dict(request_context),
            }
        started = time.monotonic()
        try:
            result = authorizer.function.invoke(event)
        except Exception as error:
            if str(error) == "Unauthorized":  # the one message API Gateway turns into a 401
                return "UNAUTHORIZED"
            log.exception(
                "authorizer %s raised (request %s)",
                authorizer.function.logical_id,
                request_context["requestId"],
            )
            return "AUTHORIZER_FAILURE"
        context = _authorizer_context(result)
        if context is None:
            log.error("authorizer %s returned an invalid response: %r", authorizer.name, _truncate(result))
            return "AUTHORIZER_CONFIGURATION_ERROR"
        if not policy_allows(result["policyDocument"], method_arn):
            return "ACCESS_DENIED"
        context["integrationLatency"] = int((time.monotonic() - started) * 1000)
        return context

    def _gateway_error(
        self,
        api: RestApi,
        response_type: str,
        request_id: str,
        request_headers: Mapping[str, str],
        detail: str | None = None,
    ) -> HttpResponse:
        response = render_gateway_response(api, response_type, request_id, request_headers, detail)
        response.headers.setdefault("Request-Id", request_id)
        response.headers.setdefault("x-amzn-RequestId", request_id)
        return response


# ---------------------------------------------------------------------- template → RestApi


def _build_api(template: Template, api_id: str, functions: Mapping[str, LocalFunction]) -> RestApi:
    is_implicit = api_id == IMPLICIT_API and template.type_of(api_id) is None
    # Not resolved as a whole: Auth must stay raw (FunctionArn: !GetAtt X.Arn names the function).
    properties = template.api_properties(None if is_implicit else api_id)
    auth = properties.get("Auth") or {}
    authorizers: dict[str, Authorizer] = {}
    for name, config in (auth.get("Authorizers") or {}).items():
        function_id = logical_id_of(config.get("FunctionArn"))
        if function_id is None or function_id not in functions:
            continue  # Cognito / IAM authorizers are not emulated; a route using one fails at build time
        identity = config.get("Identity") or {}
        payload_type = str(config.get("FunctionPayloadType", "TOKEN")).upper()
        headers = tuple(
            identity.get("Headers")
            or ([identity.get("Header", "Authorization")] if payload_type == "TOKEN" else [])
        )
        authorizers[name] = Authorizer(
            name=name,
            function=functions[function_id],
            payload_type=payload_type,
            identity_headers=headers,
            identity_query=tuple(identity.get("QueryStrings") or ()),
            requires_identity=int(identity.get("ReauthorizeEvery", 300)) > 0,
        )
    return RestApi(
        logical_id=api_id,
        stage=str(template.resolve(properties.get("StageName") or ("Prod" if is_implicit else "api"))),
        authorizers=authorizers,
        default_authorizer=auth.get("DefaultAuthorizer"),
        # SAM writes "/" in media types as "~1" (JSON pointer escaping).
        binary_media_types=tuple(
            str(t).replace("~1", "/").lower()
            for t in template.resolve(properties.get("BinaryMediaTypes") or [])
        ),
        gateway_responses=template.resolve(properties.get("GatewayResponses") or {}),
    )


def _empty_api() -> RestApi:
    return RestApi(IMPLICIT_API, "api", {}, None, (), {})


# ---------------------------------------------------------------------- events and responses


def _proxy_event(
    route: Route,
    method: str,
    path: str,
    headers: tuple[dict[str, str], dict[str, list[str]]],
    query: Mapping[str, Sequence[str]],
    path_parameters: dict[str, str],
    request_id: str,
    source_ip: str,
) -> dict[str, Any]:
    """The REST API (v1) Lambda proxy event, without body and authorizer context (added by the caller)."""
    single_headers, multi_headers = headers
    lowered = {name.lower(): value for name, value in single_headers.items()}
    started = time.time()
    return {
        "resource": route.resource,
        "path": unquote(path),
        "httpMethod": method,
        "headers": single_headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {name: values[-1] for name, values in query.items() if values} or None,
        "multiValueQueryStringParameters": {name: list(v) for name, v in query.items() if v} or None,
        "pathParameters": path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": LOCAL_API_ID,
            "resourceId": hashlib.sha1(route.resource.encode()).hexdigest()[:6],
            "resourcePath": route.resource,
            "httpMethod": method,
            "path": f"/{route.api.stage}{unquote(path)}",
            "stage": route.api.stage,
            "requestId": request_id,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(started)),
            "requestTimeEpoch": int(started * 1000),
            "protocol": "HTTP/1.1",
            "domainName": lowered.get("host", "127.0.0.1"),
            "identity": {
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent"),
                "accessKey": None,
                "accountId": None,
                "apiKey": None,
                "apiKeyId": None,
                "caller": None,
                "user": None,
                "userArn": None,
            },
        },
    }


class _EncodedChunks(Iterator[bytes]):
    """A streamed body as bytes. Closing it closes its source (the producer), even if never started:
    the host closes it when the client went away, or without reading it (HEAD)."""

    def __init__(self, chunks: Iterable[str | bytes]) -> None:
        self._source = chunks
        self._chunks = iter(chunks)

    def __next__(self) -> bytes:
        chunk = next(self._chunks)
        return chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)

    def close(self) -> None:
        close = getattr(self._source, "close", None)
        if callable(close):
            close()  # e.g. stop an SSE poll loop now, and give the function's environment back


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _header_maps(headers: Mapping[str, str | Sequence[str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """API Gateway's two header views: last value per name, and every value per name."""
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for name, value in headers.items():
        values = [value] if isinstance(value, str) else [str(v) for v in value]
        if not values:
            continue
        multi.setdefault(name, []).extend(values)
        single[name] = values[-1]
    return single, multi


def _authorizer_context(result: Any) -> dict[str, Any] | None:
    """requestContext.authorizer from an authorizer's response, or None if the response is invalid.

    A REST API passes context values to the integration as strings, and rejects objects and arrays.
    """
    if (
        not isinstance(result, dict)
        or "principalId" not in result
        or not isinstance(result.get("policyDocument"), dict)
    ):
        return None
    context: dict[str, Any] = {}
    for key, value in (result.get("context") or {}).items():
        if isinstance(value, bool):
            context[key] = "true" if value else "false"
        elif isinstance(value, str | int | float):
            context[key] = str(value)
        elif value is not None:
            return None
    context["principalId"] = str(result["principalId"])
    return context


def policy_allows(policy: Mapping[str, Any], method_arn: str) -> bool:
    """IAM evaluation of execute-api:Invoke on `method_arn`: explicit Deny wins, else an Allow is needed."""
    statements = policy.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    allowed = False
    for statement in statements:
        actions = _as_list(statement.get("Action"))
        resources = _as_list(statement.get("Resource"))
        if not any(_glob(a, "execute-api:Invoke", ignore_case=True) for a in actions):
            continue
        if not any(_glob(r, method_arn) for r in resources):
            continue
        if statement.get("Effect") == "Deny":
            return False
        if statement.get("Effect") == "Allow":
            allowed = True
    return allowed


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM wildcards: * and ? only (fnmatch would also treat [] specially)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _proxy_response(result: Any) -> HttpResponse | None:
    """The HTTP response for a Lambda proxy integration result; None if API Gateway would reject it (502)."""
    if not isinstance(result, dict):
        return None
    try:
        status = int(result.get("statusCode", 200))
        serialized = json.dumps(result)
    except (TypeError, ValueError):
        return None
    if len(serialized.encode()) > MAX_LAMBDA_RESPONSE_BYTES or not 100 <= status <= 599:
        return None
    headers: dict[str, str] = {}
    lowered: dict[str, str] = {}  # lower-case name → the name first used, so merging is case-insensitive

    def add(name: str, value: Any) -> None:
        key = lowered.setdefault(name.lower(), name)
        headers[key] = f"{headers[key]}, {value}" if key in headers else str(value)

    for name, values in (result.get("multiValueHeaders") or {}).items():
        for value in values if isinstance(values, list) else [values]:
            add(name, value)
    for name, value in (result.get("headers") or {}).items():
        if name.lower() not in lowered and value is not None:
            add(name, value)
    if "content-type" not in lowered:
        headers["Content-Type"] = "application/json"  # API Gateway's default for a proxy response
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(str(body), validate=True)
        except (binascii.Error, ValueError):
            return None
    else:
        payload = str(body).encode("utf-8")
    return HttpResponse(status, headers, payload)


def render_gateway_response(
    api: RestApi,
    response_type: str,
    request_id: str,
    request_headers: Mapping[str, str],
    detail: str | None = None,
) -> HttpResponse:
    """One of API Gateway's own responses, shaped by the template's GatewayResponses like the deployed API.

    A type the template does not configure falls back to its DEFAULT_4XX / DEFAULT_5XX (keeping the
    type's own status unless that sets one), and without either to a problem+json built here.
    """
    default_status, message = _GATEWAY_DEFAULTS[response_type]
    family = "DEFAULT_4XX" if default_status < 500 else "DEFAULT_5XX"
    config = api.gateway_responses.get(response_type) or api.gateway_responses.get(family)
    if not config:
        return _fallback_problem(response_type, request_id, detail or message)

    status = int(config.get("StatusCode", default_status))
    variables = {
        "$context.error.messageString": json.dumps(message),
        "$context.error.message": message,
        "$context.error.responseType": response_type,
        "$context.extendedRequestId": request_id,
        "$context.requestId": request_id,
        "$context.stage": api.stage,
    }
    templates = config.get("ResponseTemplates") or {}
    template = templates.get("application/json") or next(iter(templates.values()), None)
    if template is None:
        body = json.dumps({"message": message}).encode()
    else:
        for name in sorted(variables, key=len, reverse=True):  # longest first: messageString before message
            template = template.replace(name, variables[name])
        body = template.encode("utf-8")

    headers: dict[str, str] = {}
    for name, source in ((config.get("ResponseParameters") or {}).get("Headers") or {}).items():
        value = _gateway_header_value(str(source), variables, request_headers)
        if value is not None:
            headers[name] = value
    if not any(name.lower() == "content-type" for name in headers):
        headers["Content-Type"] = "application/json"
    return HttpResponse(status, headers, body)


def _gateway_header_value(
    source: str, variables: Mapping[str, str], request_headers: Mapping[str, str]
) -> str | None:
    """A ResponseParameters value: a 'literal', context.<var>, or method.request.header.<name>."""
    if len(source) >= 2 and source.startswith("'") and source.endswith("'"):
        return source[1:-1]
    if source.startswith("context."):
        return variables.get("$" + source)
    if source.startswith("method.request.header."):
        return request_headers.get(source.removeprefix("method.request.header.").lower())
    return None


def _fallback_problem(response_type: str, request_id: str, detail: str) -> HttpResponse:
    status, code, title = _FALLBACK_PROBLEMS.get(response_type, (500, "internal_error", "Internal error"))
    body = {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": request_id,
    }
    return HttpResponse(
        status,
        {"Content-Type": "application/problem+json", "Request-Id": request_id},
        json.dumps(body).encode(),
    )


def _truncate(value: Any, limit: int = 500) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"

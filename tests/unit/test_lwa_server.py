"""The Lambda Web Adapter's HTTP request back into API Gateway's REST proxy event
(runs_core.api.lwa_server); the server itself is exercised in tests/integration/test_lwa_stream.py."""

import base64
import json

from runs_core.api.lwa_server import (
    LAMBDA_CONTEXT_HEADER,
    REQUEST_CONTEXT_HEADER,
    InvocationContext,
    proxy_event,
)


def test_the_proxy_event_is_rebuilt_from_the_request_and_lwas_request_context() -> None:
    context = {
        "requestId": "req-1",
        "resourcePath": "/v1/runs/{run_id}/events",
        "stage": "api",
        "authorizer": {"principalId": "key_1", "org_id": "org_1", "role": "org"},
        "identity": {"sourceIp": "203.0.113.9", "userAgent": "café"},
    }
    # LWA sends UTF-8 JSON; http.server reads header bytes as Latin-1.
    raw_context = json.dumps(context, ensure_ascii=False).encode("utf-8").decode("latin-1")
    headers = [
        ("Accept", "text/event-stream"),
        ("X-Tag", "a"),
        ("X-Tag", "b"),
        (REQUEST_CONTEXT_HEADER, raw_context),
        (LAMBDA_CONTEXT_HEADER, "{}"),
    ]
    event = proxy_event("GET", "/v1/runs/run%5F1/events?after_seq=3&x=1&x=2&empty=", headers, b"")
    assert event["resource"] == "/v1/runs/{run_id}/events"
    assert event["path"] == "/v1/runs/run_1/events"
    assert event["pathParameters"] == {"run_id": "run_1"}
    assert event["httpMethod"] == "GET"
    assert event["queryStringParameters"] == {"after_seq": "3", "x": "2", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {"after_seq": ["3"], "x": ["1", "2"], "empty": [""]}
    assert event["headers"] == {"Accept": "text/event-stream", "X-Tag": "b"}
    assert event["multiValueHeaders"] == {"Accept": ["text/event-stream"], "X-Tag": ["a", "b"]}
    assert event["requestContext"] == {**context, "httpMethod": "GET"}
    assert event["body"] is None and event["isBase64Encoded"] is False


def test_without_lwas_header_there_is_no_authorizer_context() -> None:
    event = proxy_event("GET", "/v1/org", [(REQUEST_CONTEXT_HEADER, "not json")], b"")
    assert "authorizer" not in event["requestContext"] and event["requestContext"]["requestId"]
    assert event["resource"] == "/v1/org" and event["pathParameters"] is None


def test_bodies_are_text_or_base64() -> None:
    assert proxy_event("POST", "/x", [], b'{"a": 1}')["body"] == '{"a": 1}'
    binary = proxy_event("POST", "/x", [], b"\xff\x00")
    assert binary["isBase64Encoded"] is True and base64.b64decode(binary["body"]) == b"\xff\x00"


def test_the_lambda_context_comes_from_lwas_header() -> None:
    sent = {
        "request_id": "inv-1",
        "deadline": 4_102_444_800_000,
        "invoked_function_arn": "arn:aws:lambda:us-east-1:1:function:f",
        "xray_trace_id": "Root=1-abc",
        "env_config": {"function_name": "f", "memory": 512, "log_group": "/aws/lambda/f"},
    }
    context = InvocationContext.from_header(json.dumps(sent))
    assert (context.aws_request_id, context.function_name, context.memory_limit_in_mb) == ("inv-1", "f", 512)
    assert context.xray_trace_id == "Root=1-abc" and context.log_group_name == "/aws/lambda/f"
    assert context.get_remaining_time_in_millis() > 0
    fallback = InvocationContext.from_header(None)
    assert fallback.aws_request_id and 0 < fallback.get_remaining_time_in_millis() <= 900_000

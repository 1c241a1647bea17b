"""Idempotency-Key (docs/api.md §7): what a key's scope and a body's fingerprint are, and which keys are
valid."""

import base64

import pytest

from runs_core.api.idempotency import fingerprint_of, key_of, key_problem, scope_of


def event(method="POST", body=None, headers=None, query=None, authorizer=None, encoded=False):
    return {
        "httpMethod": method,
        "path": "/v1/runs",
        "headers": headers,
        "body": body,
        "isBase64Encoded": encoded,
        "multiValueQueryStringParameters": query,
        "requestContext": {"authorizer": authorizer or {"role": "org", "org_id": "org_1"}},
    }


def test_json_bodies_are_compared_canonically():
    assert fingerprint_of(event(body='{"a": 1, "b": [1, 2]}')) == fingerprint_of(
        event(body='{"b":[1,2],"a":1}')
    )
    assert fingerprint_of(event(body='{"a": 1}')) != fingerprint_of(event(body='{"a": 2}'))


def test_other_bodies_are_compared_as_bytes():
    raw = b"\x00\x01 not json"
    encoded = event(body=base64.b64encode(raw).decode(), encoded=True)
    assert fingerprint_of(encoded) != fingerprint_of(event(body="not json"))
    assert fingerprint_of(encoded) == fingerprint_of(event(body=base64.b64encode(raw).decode(), encoded=True))
    assert fingerprint_of(event(body=None)) == fingerprint_of(event(body=""))


def test_scope_is_principal_method_path_query_and_key():
    assert scope_of(event(), "k1") == ["org_1", "POST", "/v1/runs", "k1"]
    assert scope_of(event(authorizer={"role": "admin"}), "k1")[0] == "admin"
    with_query = event(query={"b": ["2"], "a": ["1", "0"]})
    assert scope_of(with_query, "k1")[2] == "/v1/runs?a=1&a=0&b=2"


@pytest.mark.parametrize(
    ("method", "headers", "expected"),
    [
        ("POST", {"Idempotency-Key": "abc"}, "abc"),
        ("PUT", {"idempotency-key": "abc"}, "abc"),
        ("PATCH", {"IDEMPOTENCY-KEY": "abc"}, "abc"),
        ("GET", {"Idempotency-Key": "abc"}, None),
        ("DELETE", {"Idempotency-Key": "abc"}, None),
        ("POST", None, None),
    ],
)
def test_key_only_on_writes(method, headers, expected):
    assert key_of(event(method=method, headers=headers)) == expected


def test_key_length():
    assert key_problem(event(headers={"Idempotency-Key": "k" * 255})) is None
    for bad in ("", "k" * 256):
        problem = key_problem(event(headers={"Idempotency-Key": bad}))
        assert problem is not None and problem.status == 400
        assert problem.extra["errors"][0]["field"] == "Idempotency-Key"


def test_what_is_kept():
    from runs_core.api import idempotency

    ok = {"statusCode": 201, "body": "{}"}
    assert idempotency._kept({}, lambda: ok) is ok
    assert idempotency._kept({}, lambda: {"statusCode": 404, "body": "{}"})["statusCode"] == 404
    for unkept in (
        {"statusCode": 500, "body": "{}"},
        {"statusCode": 503, "body": "{}"},
        {"statusCode": 429, "body": "{}"},
        {"statusCode": 200, "body": "x" * (idempotency.MAX_KEPT_BODY_BYTES + 1)},
    ):
        with pytest.raises(idempotency._NotKept):
            idempotency._kept({}, lambda unkept=unkept: unkept)

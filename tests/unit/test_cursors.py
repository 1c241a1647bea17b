"""Cursors are opaque, signed, and bound to their org and query (docs/api.md §4 Pages)."""

import pytest

from runs_core.errors import InvalidCursor
from runs_core.pages import decode_cursor, encode_cursor

QUERY = {"status": ["queued"], "agent": None}


def test_round_trip():
    cursor = encode_cursor("org_a", "runs", QUERY, "run_01ABC")
    assert decode_cursor(cursor, "org_a", "runs", QUERY) == "run_01ABC"


def test_empty_filters_do_not_change_the_binding():
    cursor = encode_cursor("org_a", "runs", {"agent": None, "status": []}, "run_1")
    assert decode_cursor(cursor, "org_a", "runs", {}) == "run_1"


@pytest.mark.parametrize(
    ("org", "scope", "query"),
    [
        ("org_b", "runs", QUERY),  # another org
        ("org_a", "agents", QUERY),  # another list
        ("org_a", "runs", {"status": ["completed"]}),  # other filters
    ],
)
def test_foreign_cursor_is_rejected(org, scope, query):
    cursor = encode_cursor("org_a", "runs", QUERY, "run_01ABC")
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, org, scope, query)


@pytest.mark.parametrize("forged", ["", "abc", "abc.def", "e30.AAAA", "!!!.???"])
def test_garbage_is_rejected(forged):
    with pytest.raises(InvalidCursor):
        decode_cursor(forged, "org_a", "runs", QUERY)


def test_tampered_payload_is_rejected():
    body, signature = encode_cursor("org_a", "runs", QUERY, "run_01ABC").split(".")
    import base64
    import json

    payload = json.loads(base64.urlsafe_b64decode(body + "=="))
    payload["k"] = "run_ZZZ"
    forged = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")
    with pytest.raises(InvalidCursor):
        decode_cursor(f"{forged}.{signature}", "org_a", "runs", QUERY)


def test_deployed_the_key_is_read_from_secrets_manager_at_run_time(monkeypatch):
    """The template passes the secret's ARN (CURSOR_SECRET_ARN), not its value: the key is fetched (and
    cached) at run time, like the authorizer's admin key, so it is in no function's configuration."""
    import boto3
    from aws_lambda_powertools.utilities import parameters
    from moto import mock_aws

    from runs_core import pages
    from runs_core.settings import get_settings

    monkeypatch.delenv("CURSOR_SECRET", raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        arn = boto3.client("secretsmanager").create_secret(Name="cursor", SecretString="s3cret")["ARN"]
        monkeypatch.setenv("CURSOR_SECRET_ARN", arn)
        get_settings.cache_clear()
        parameters.clear_caches()
        try:
            assert pages.signing_key() == b"s3cret"
            cursor = encode_cursor("org_a", "runs", QUERY, "run_1")
            assert decode_cursor(cursor, "org_a", "runs", QUERY) == "run_1"
        finally:
            monkeypatch.delenv("CURSOR_SECRET_ARN")
            get_settings.cache_clear()
            parameters.clear_caches()
    assert pages.signing_key() == pages.UNCONFIGURED_KEY.encode()
    with pytest.raises(InvalidCursor):  # signed with the deployed key: not valid under another
        decode_cursor(cursor, "org_a", "runs", QUERY)

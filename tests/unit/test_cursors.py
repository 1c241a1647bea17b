"""Cursors are opaque, signed, and bound to their org and query (API.md §4 Pages)."""

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

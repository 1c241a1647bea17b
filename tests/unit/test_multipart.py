"""multipart/form-data parsing and the run-creation rewrite (runs_core.api.multipart)."""

import base64
import json

import pytest

from runs_core.api.multipart import (
    accepts_multipart,
    is_multipart_run_route,
    multipart_to_json,
    parse_multipart,
)
from runs_core.errors import Forbidden, UnsupportedMediaType, ValidationFailed

CONTENT_TYPE = "multipart/form-data; boundary=XyZ"
BINARY = bytes(range(256)) * 4 + b"\r\n--XyZ-not\n\r\r\n"  # line ends and a near-boundary


def body(*parts: bytes) -> bytes:
    return b"".join(b"--XyZ\r\n" + part + b"\r\n" for part in parts) + b"--XyZ--\r\n"


JSON_PART = b'Content-Disposition: form-data; name="json"\r\n\r\n{"agent": "demo"}'
FILE_PART = (
    b'Content-Disposition: form-data; name="file"; filename="C:\\\\fakepath\\\\inv.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n" + BINARY
)


def test_parts_keep_names_filenames_types_and_exact_bytes():
    parts = parse_multipart(CONTENT_TYPE, body(JSON_PART, FILE_PART))
    assert [(p.name, p.filename, p.content_type) for p in parts] == [
        ("json", None, None),
        ("file", "C:\\fakepath\\inv.pdf", "application/pdf"),
    ]
    assert parts[0].data == b'{"agent": "demo"}' and parts[1].data == BINARY
    assert parts[1].is_file and not parts[0].is_file


def test_quoted_boundary_and_utf8_filename():
    part = b"Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''r%C3%A9sum%C3%A9.txt\r\n\r\nhi"
    raw = b"--a b\r\n" + part + b"\r\n--a b--\r\n"
    (parsed,) = parse_multipart('multipart/form-data; boundary="a b"', raw)
    assert parsed.filename == "résumé.txt" and parsed.data == b"hi"


@pytest.mark.parametrize(
    ("content_type", "raw"),
    [
        ("multipart/form-data", body(JSON_PART)),  # no boundary
        (CONTENT_TYPE, b"not multipart at all"),
        (CONTENT_TYPE, b"--XyZ\r\n" + JSON_PART + b"\r\n"),  # never closed
        (CONTENT_TYPE, body(b"Content-Type: text/plain\r\n\r\nno disposition")),
        (CONTENT_TYPE, body(b"Content-Disposition: form-data\r\n\r\nno name")),
        (CONTENT_TYPE, body(b"Content-Disposition: attachment; name=x\r\n\r\nwrong kind")),
        (CONTENT_TYPE, b""),
    ],
)
def test_malformed_bodies_are_validation_errors(content_type, raw):
    with pytest.raises(ValidationFailed):
        parse_multipart(content_type, raw)


def test_other_media_types_are_refused():
    with pytest.raises(UnsupportedMediaType):
        parse_multipart("application/json", b"{}")


def event(path="/v1/runs", method="POST", raw=b"", content_type=CONTENT_TYPE, role="org"):
    return {
        "httpMethod": method,
        "path": path,
        "headers": {"Content-Type": content_type, "Content-Length": str(len(raw))},
        "multiValueHeaders": {"Content-Type": [content_type]},
        "body": base64.b64encode(raw).decode(),
        "isBase64Encoded": True,
        "requestContext": {"authorizer": {"role": role, "org_id": "org_1"}},
    }


def test_routes_that_take_multipart():
    assert is_multipart_run_route(event("/v1/runs"))
    assert is_multipart_run_route(event("/v1/agents/demo/runs"))
    assert is_multipart_run_route(event("/v1/threads/thr_1/runs"))
    assert not is_multipart_run_route(event("/v1/agents/demo/run"))
    assert not is_multipart_run_route(event("/v1/runs", method="GET"))
    assert not is_multipart_run_route(event("/v1/runs/run_1/input"))
    assert accepts_multipart(event("/v1/files")) and not accepts_multipart(event("/v1/files/uploads"))


def test_rewrite_without_files_needs_no_storage():
    rewritten = multipart_to_json(event(raw=body(JSON_PART)))
    assert json.loads(rewritten["body"]) == {"agent": "demo", "file_ids": []}
    assert rewritten["headers"]["Content-Type"] == "application/json"
    assert "Content-Length" not in rewritten["headers"] and rewritten["isBase64Encoded"] is False
    assert rewritten["multiValueHeaders"]["Content-Type"] == ["application/json"]


@pytest.mark.parametrize(
    "parts",
    [
        (FILE_PART,),  # no json part
        (JSON_PART, JSON_PART),  # two
        (b'Content-Disposition: form-data; name="json"\r\n\r\n{oops', FILE_PART),
        (b'Content-Disposition: form-data; name="json"\r\n\r\n"text"',),
        (b'Content-Disposition: form-data; name="json"\r\n\r\n{"file_ids": "x"}', FILE_PART),
    ],
)
def test_bad_json_part_is_rejected_before_any_file_is_stored(parts):
    # No stores exist in unit tests: reaching store_file would fail with another error than this one.
    with pytest.raises(ValidationFailed):
        multipart_to_json(event(raw=body(*parts)))


def test_rewrite_needs_an_org_key():
    with pytest.raises(Forbidden):
        multipart_to_json(event(raw=body(JSON_PART), role="admin"))


def test_json_requests_pass_through():
    plain = event(content_type="application/json")
    assert multipart_to_json(plain) is plain

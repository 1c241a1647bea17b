"""Files (docs/api.md §7): direct and presigned uploads, downloads, tenancy, and files on runs."""

import hashlib
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.helpers import PDF, multipart, upload


def s3(stack, method, url, body=None, headers=None):
    """A request to a presigned URL, through the local stack's /_s3 route (as curl would send it)."""
    parts = urlsplit(url)
    assert parts.path.startswith("/_s3/"), url
    query = parse_qs(parts.query, keep_blank_values=True)
    return stack.s3_request(method, parts.path, query, headers or {}, body)


def wait_for_status(api, file_id, wanted, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while True:
        record = api.get(f"/v1/files/{file_id}").json()
        if record["status"] == wanted or time.monotonic() > deadline:
            return record
        time.sleep(0.05)


def test_upload_then_get_with_download_url(api, stack):
    created = upload(api)
    assert created.status == 201, created.text
    file = created.json()
    assert file["id"].startswith("file_") and file["object"] == "file" and file["status"] == "uploaded"
    assert file["name"] == "invoice.pdf" and file["content_type"] == "application/pdf"
    assert file["size_bytes"] == len(PDF) and file["sha256"] == hashlib.sha256(PDF).hexdigest()
    fetched = api.get(f"/v1/files/{file['id']}")
    assert fetched.status == 200
    body = fetched.json()
    assert {key: body[key] for key in file} == file
    assert body["download_url_expires_at"] > body["created_at"]
    status, headers, content = s3(stack, "GET", body["download_url"])
    assert status == 200 and content == PDF
    assert "invoice.pdf" in headers["Content-Disposition"]


def test_presigned_upload_pending_then_uploaded(api, stack):
    data = b"id,amount\nINV-1,12.50\n" * 100
    started = api.post(
        "/v1/files/uploads", json={"name": "lines.csv", "content_type": "text/csv", "size_bytes": len(data)}
    )
    assert started.status == 201, started.text
    upload_ = started.json()
    file_id = upload_["file"]["id"]
    assert upload_["file"]["status"] == "pending" and upload_["file"]["sha256"] is None
    signed = parse_qs(urlsplit(upload_["upload_url"]).query)["X-Amz-SignedHeaders"][0].split(";")
    assert {"content-length", "content-type"} <= set(signed)  # S3 enforces the declared size and type
    assert api.get(f"/v1/files/{file_id}").json()["download_url"] is None
    status, _, _ = s3(
        stack,
        "PUT",
        upload_["upload_url"],
        data,
        {"Content-Type": "text/csv", "Content-Length": str(len(data))},
    )
    assert status == 200
    stack.s3.wait_idle()
    record = wait_for_status(api, file_id, "uploaded")
    assert record["status"] == "uploaded"
    assert record["sha256"] == hashlib.sha256(data).hexdigest() and record["size_bytes"] == len(data)
    assert s3(stack, "GET", record["download_url"])[2] == data


def test_presigned_upload_of_the_wrong_size_fails(api, stack):
    started = api.post(
        "/v1/files/uploads", json={"name": "a.txt", "content_type": "text/plain", "size_bytes": 10}
    )
    url, file_id = started.json()["upload_url"], started.json()["file"]["id"]
    s3(stack, "PUT", url, b"12345", {"Content-Type": "text/plain"})  # locally the signature is not checked
    stack.s3.wait_idle()
    assert wait_for_status(api, file_id, "failed")["status"] == "failed"


def test_presigned_url_expiry_is_checked(api, stack):
    started = api.post(
        "/v1/files/uploads", json={"name": "a.txt", "content_type": "text/plain", "size_bytes": 1}
    )
    parts = urlsplit(started.json()["upload_url"])
    query = parse_qs(parts.query)
    query["X-Amz-Date"] = ["20200101T000000Z"]
    status, _, body = stack.s3_request("PUT", parts.path, query, {}, b"x")
    assert status == 403 and b"expired" in body


def test_upload_validation(api):
    assert upload(api, data=b"x" * (5 * 1024 * 1024 + 1)).status == 413
    assert api.post("/v1/files", json={"file": "nope"}).status == 415
    text = api.request("POST", "/v1/files", body=b"hello", headers={"Content-Type": "text/plain"})
    assert text.status == 415
    body, header = multipart(("other", "a.txt", "text/plain", b"x"))
    missing = api.request("POST", "/v1/files", body=body, headers={"Content-Type": header})
    assert missing.status == 400 and missing.json()["code"] == "validation_error"
    broken = api.request(
        "POST",
        "/v1/files",
        body=b"--b0undary\r\nnonsense",
        headers={"Content-Type": "multipart/form-data; boundary=b0undary"},
    )
    assert broken.status == 400
    too_big = api.post(
        "/v1/files/uploads", json={"name": "x", "content_type": "text/plain", "size_bytes": 5 * 1024**3 + 1}
    )
    assert too_big.status == 400
    assert (
        api.post("/v1/files/uploads", json={"name": "x", "content_type": "nope", "size_bytes": 1}).status
        == 400
    )


def test_another_orgs_file_is_not_found(api, make_org):
    file_id = upload(api).json()["id"]
    other = make_org()
    assert other.api.get(f"/v1/files/{file_id}").status == 404
    assert api.get("/v1/files/file_01JD0000000000000000000000").status == 404
    assert api.get("/v1/files/nonsense").status == 404


@pytest.fixture
def agent(api):
    name = f"files-{uuid.uuid4().hex[:10]}"
    definition = {"model": {"provider": "scripted", "script": [{"text": "read it"}]}}
    response = api.post("/v1/agents", json={"name": name, "version": "1.0.0", "definition": definition})
    assert response.status == 201, response.text
    return name


def _run_count(api, agent):
    return len(api.get("/v1/runs", query={"agent": agent, "limit": 100}).json()["items"])


def test_run_with_files(api, agent, make_org):
    file_id = upload(api).json()["id"]
    created = api.post("/v1/runs", json={"agent": agent, "file_ids": [file_id]})
    assert created.status == 201, created.text
    assert created.json()["file_ids"] == [file_id]

    unknown = api.post(
        "/v1/runs", json={"agent": agent, "file_ids": [file_id, "file_01JD0000000000000000000000"]}
    )
    assert unknown.status == 404 and unknown.json()["code"] == "not_found"
    foreign = make_org().api
    foreign.post("/v1/agents", json={"name": agent, "definition": {"model": {"provider": "scripted"}}})
    assert foreign.post("/v1/runs", json={"agent": agent, "file_ids": [file_id]}).status == 404
    assert _run_count(foreign, agent) == 0

    pending = api.post(
        "/v1/files/uploads", json={"name": "a.txt", "content_type": "text/plain", "size_bytes": 3}
    )
    waiting = api.post("/v1/runs", json={"agent": agent, "file_ids": [pending.json()["file"]["id"]]})
    assert waiting.status == 409 and waiting.json()["code"] == "invalid_state"
    assert _run_count(api, agent) == 1
    too_many = api.post("/v1/runs", json={"agent": agent, "file_ids": [file_id] * 21})
    assert too_many.status == 400


def test_multipart_run_creation(api, agent):
    existing = upload(api).json()["id"]
    body, header = multipart(
        ("json", None, "application/json", json.dumps({"agent": agent, "file_ids": [existing]}).encode()),
        ("file", "notes.txt", "text/plain", b"pay it"),
        ("attachment", "photo.png", "image/png", b"\x89PNG\r\n\x1a\n"),
    )
    created = api.request("POST", "/v1/runs", body=body, headers={"Content-Type": header})
    assert created.status == 201, created.text
    file_ids = created.json()["file_ids"]
    assert len(file_ids) == 3 and file_ids[0] == existing
    notes = api.get(f"/v1/files/{file_ids[1]}").json()
    assert notes["name"] == "notes.txt" and notes["size_bytes"] == 6 and notes["content_type"] == "text/plain"
    assert api.get(f"/v1/files/{file_ids[2]}").json()["content_type"] == "image/png"


@pytest.mark.parametrize(
    "parts",
    [
        [("file", "a.txt", "text/plain", b"x")],  # no json part
        [("json", None, None, b"{not json"), ("file", "a.txt", "text/plain", b"x")],
        [("json", None, None, b"[1]")],
    ],
)
def test_multipart_run_creation_rejects_bad_json_part(api, agent, parts):
    before = _run_count(api, agent)
    body, header = multipart(*parts)
    response = api.request("POST", "/v1/runs", body=body, headers={"Content-Type": header})
    assert response.status == 400 and response.json()["code"] == "validation_error"
    assert _run_count(api, agent) == before


@pytest.mark.parametrize(
    ("json_part", "code"),
    [
        (b'{"agent": "%s", "input": {"x": NaN}}', "invalid_json"),
        (b'{"agent": "%s", "input": {"": 1}}', "validation_error"),
        (b'{"agent": "%s", "input": {"x": 1e400}}', "invalid_json"),
        (b'{"agent": "%s", "input": {"x": 123456789012345678901234567890123456789}}', "validation_error"),
    ],
)
def test_multipart_json_part_is_as_strict_as_a_json_body(api, agent, json_part, code):
    """JSON DynamoDB cannot store is a 400 in a multipart request too, not a 500."""
    before = _run_count(api, agent)
    body, header = multipart(("json", None, None, json_part % agent.encode()))
    response = api.request("POST", "/v1/runs", body=body, headers={"Content-Type": header})
    assert response.status == 400 and response.json()["code"] == code, response.text
    assert _run_count(api, agent) == before


def test_a_retried_upload_with_a_new_boundary_replays_under_its_idempotency_key(api):
    """Clients pick a new multipart boundary per encoding: the same parts under the same key are the same
    request (replayed, one file); other content under that key is a conflict."""
    key = f"upload-{uuid.uuid4()}"

    def post(data: bytes, boundary: str):
        body, header = multipart(("file", "a.txt", "text/plain", data), boundary=boundary)
        headers = {"Content-Type": header, "Idempotency-Key": key}
        return api.request("POST", "/v1/files", body=body, headers=headers)

    first = post(b"same bytes", "boundary-one")
    assert first.status == 201, first.text
    retry = post(b"same bytes", "boundary-two")
    assert retry.status == 201 and retry.headers.get("Idempotent-Replayed") == "true", retry.text
    assert retry.json()["id"] == first.json()["id"]
    other = post(b"other bytes", "boundary-three")
    assert other.status == 422 and other.json()["code"] == "idempotency_conflict", other.text


def test_multipart_is_refused_elsewhere(api, agent):
    body, header = multipart(("json", None, None, b"{}"))
    assert api.request("POST", "/v1/agents", body=body, headers={"Content-Type": header}).status == 415


def test_bedrock_receives_the_runs_files_as_blocks(api, agent):
    """The step's model request carries the run's files, read from S3, as Converse blocks."""
    from runs_core.execution import prompt
    from runs_core.providers.bedrock import converse_params
    from runs_core.stores import get_stores

    pdf = upload(api).json()["id"]
    png = upload(api, data=b"\x89PNG\r\n\x1a\nfake", name="scan.png", content_type="image/png").json()["id"]
    zipped = upload(api, data=b"PK\x03\x04", name="a.zip", content_type="application/zip").json()["id"]
    run_id = api.post(
        "/v1/runs", json={"agent": agent, "file_ids": [pdf, png, zipped], "start": False}
    ).json()["id"]
    run = get_stores().runs.get(run_id)
    definition = {"model": {"provider": "bedrock", "id": "anthropic.claude-3-5-haiku-20241022-v1:0"}}
    request = prompt.model_request(run, definition, [])
    assert [a.name for a in request.messages[0].attachments] == ["invoice.pdf", "scan.png", "a.zip"]
    content = converse_params(request)["messages"][0]["content"]
    assert content[0] == {"document": {"format": "pdf", "name": "invoice", "source": {"bytes": PDF}}}
    assert content[1] == {"image": {"format": "png", "source": {"bytes": b"\x89PNG\r\n\x1a\nfake"}}}
    assert content[2] == {"text": "{}"}  # the zip is skipped; the input follows the files

"""events/*.json — the sample events for `sam local invoke <Function> -e events/<file>` — stay true: each is
invoked on its function's real handler, against the local stack's emulated AWS seeded with what the
events name (their org, key, runs, thread, files), and its outcome is checked.

Events are named `<functions/ directory>.<case>.json`; the ids in them are fixed (SAMPLE below). The
seeding makes the objects through the API as usual, then gives them the sample ids (`_rename`).
"""

from __future__ import annotations

import functools
import json
import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest

from devstack import iam
from devstack import websocket as local_websocket
from devstack.aws import register_before_call, response_metadata, short_circuit_response
from devstack.stack import DevStack
from devstack.template import FUNCTION_TYPE, REGION, Template
from tests.conftest import REPO_ROOT

EVENTS = REPO_ROOT / "events"
_ID = "01KSAMP1E" + "0" * 14  # + 3 digits: a well-formed ULID
SAMPLE = {
    "org": f"org_{_ID}001",
    "key_id": f"key_{_ID}001",
    "agent": f"agt_{_ID}001",
    "run": f"run_{_ID}001",  # queued: read, listened to, streamed
    "run_step": f"run_{_ID}002",  # queued: run_step.step takes its first step
    "run_wait": f"run_{_ID}003",  # waiting for an approval (step stp_…001): park, then expire
    "run_fail": f"run_{_ID}004",  # queued: run_step.fail fails it
    "run_ended": f"run_{_ID}005",  # queued: its execution timed out (execution_ended.timed_out)
    "thread": f"thr_{_ID}001",
    "file": f"file_{_ID}001",  # uploaded
    "upload": f"file_{_ID}002",  # pending: its object arrives (file_uploaded.object_created)
    "step": f"stp_{_ID}001",
}
SAMPLE_KEY = "sk_test_SampleEventsKey0000000000000000"
SAMPLE_ADMIN_KEY = "sk_admin_SampleEventsKey000000000000000"
SAMPLE_CONNECTION = "SampleConnId0="
UPLOAD_BODY = b"hello, world"  # files_api.create_upload and the upload's object: 12 bytes


def load_event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))
    return event


def function_of(event_file: Path, template: Template) -> str:
    """The logical id of the function whose CodeUri is functions/<the file's prefix>/ (`-` for `/`:
    dialects-ziet.… is functions/dialects/ziet/)."""
    directory = event_file.name.split(".", 1)[0].replace("-", "/")
    for logical_id in template.resources_of(FUNCTION_TYPE):
        if str(template.function_properties(logical_id)["CodeUri"]).rstrip("/") == f"functions/{directory}":
            return logical_id
    raise AssertionError(f"{event_file.name}: no function has CodeUri functions/{directory}/")


# ------------------------------------------------------------------ seeding

_holding_executions = False  # while seeding: no run's execution starts
_held: set[str] = {SAMPLE[name] for name in ("run", "run_step", "run_wait", "run_fail", "run_ended")}


def _hold_start_execution(params: dict[str, Any], **_: Any) -> Any:
    """The seeded runs stay queued, their executions never started (neither by the request that made them
    nor by the stream router's follow-up): each sample event plays the part of the state machine, or of an
    execution's end, on a run in the state it would find."""
    name = json.loads(params["body"])["name"]
    if _holding_executions:
        _held.add(name)
    elif name not in _held:
        return None
    parsed = {
        "executionArn": f"arn:aws:states:{REGION}:123456789012:execution:held:{name}",
        "startDate": datetime.now(UTC),
        "ResponseMetadata": response_metadata(str(uuid.uuid4()), 200, {}),
    }
    return short_circuit_response(params, 200, {}), parsed


def _call(stack: DevStack, method: str, path: str, key: str, body: Any = None, **headers: str) -> Any:
    raw = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    sent = {"Authorization": f"Bearer {key}", "Host": "127.0.0.1", **headers}
    if raw is not None:
        sent.setdefault("Content-Type", "application/json")
        sent["Content-Length"] = str(len(raw))
    status, _, response = stack.request(method, path, sent, raw, None)
    assert status in (200, 201), (path, response)
    return json.loads(response)


def _multipart(name: str, content_type: str, data: bytes) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n".encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def _seed(stack: DevStack) -> None:
    """The sample events' objects, made as users make them, then renamed to the sample ids."""
    global _holding_executions
    key = stack.dev_key
    org_id = stack.seed()
    renames = {org_id: SAMPLE["org"]}
    org_key = _call(stack, "GET", "/v1/api-keys", key)["items"][0]
    renames[org_key["id"]] = SAMPLE["key_id"]
    renames[_call(stack, "GET", "/v1/agents/demo", key)["id"]] = SAMPLE["agent"]
    approval = {"name": "pay_invoice", "kind": "builtin", "builtin": "echo", "requires_approval": True}
    _call(
        stack,
        "POST",
        "/v1/agents",
        key,
        {
            "name": "approver",
            "definition": {
                "instructions": "Pay the invoice.",
                "model": {"provider": "scripted", "script": [{"tool_calls": [{"name": "pay_invoice"}]}]},
                "actions": [approval],
            },
        },
    )
    _holding_executions = True
    try:
        for name in ("run", "run_step", "run_fail", "run_ended"):
            run = _call(stack, "POST", "/v1/runs", key, {"agent": "demo", "input": {"name": "Ada"}})
            renames[run["id"]] = SAMPLE[name]
        waiting = _call(stack, "POST", "/v1/runs", key, {"agent": "approver"})
    finally:
        _holding_executions = False
    renames[waiting["id"]] = SAMPLE["run_wait"]
    paused = stack.functions["RunStepFunction"].invoke({"action": "step", "run_id": waiting["id"]})
    assert paused["next"] == "approval", paused
    renames[paused["step_id"]] = SAMPLE["step"]
    renames[_call(stack, "POST", "/v1/threads", key, {})["id"]] = SAMPLE["thread"]
    body, content_type = _multipart("notes.txt", "text/plain", UPLOAD_BODY)
    stored = _call(stack, "POST", "/v1/files", key, body, **{"Content-Type": content_type})
    renames[stored["id"]] = SAMPLE["file"]
    upload = {"name": "notes.txt", "content_type": "text/plain", "size_bytes": len(UPLOAD_BODY)}
    renames[_call(stack, "POST", "/v1/files/uploads", key, upload)["file"]["id"]] = SAMPLE["upload"]
    from runs_core.logic.api_keys import hash_key  # importable once the stack put the layer on the path

    # The sample key replaces the dev key (whose org the authorizer has cached under its old id).
    renames[hash_key(key)] = hash_key(SAMPLE_KEY)
    _rename(stack, renames)
    bucket = os.environ["FILES_BUCKET"]
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=bucket, Key=f"pending/{SAMPLE['org']}/{SAMPLE['upload']}", Body=UPLOAD_BODY)


def _rename(stack: DevStack, renames: dict[str, str]) -> None:
    """Every item and object that mentions an old id, rewritten with the new one (ids are unique ULIDs,
    so a plain text replacement is exact)."""

    def renamed(text: str) -> str:
        for old, new in renames.items():
            text = text.replace(old, new)
        return text

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    for table in stack.tables:
        schema = dynamodb.describe_table(TableName=table)["Table"]["KeySchema"]
        key_names = [key["AttributeName"] for key in schema]
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            for item in page["Items"]:
                text = json.dumps(item)
                if renamed(text) != text:
                    dynamodb.delete_item(TableName=table, Key={name: item[name] for name in key_names})
                    dynamodb.put_item(TableName=table, Item=json.loads(renamed(text)))
    s3 = boto3.client("s3", region_name=REGION)
    bucket = os.environ["FILES_BUCKET"]
    for entry in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        if renamed(entry["Key"]) != entry["Key"]:
            source = {"Bucket": bucket, "Key": entry["Key"]}
            s3.copy_object(Bucket=bucket, Key=renamed(entry["Key"]), CopySource=source)
            s3.delete_object(Bucket=bucket, Key=entry["Key"])


@pytest.fixture(scope="module")
def stack() -> Iterator[DevStack]:
    local = DevStack(admin_key=SAMPLE_ADMIN_KEY)
    local.start()
    try:
        register_before_call("before-call.sfn.StartExecution", _hold_start_execution)
        _seed(local)
        yield local
        assert not iam.DENIALS, "AWS calls template.yaml does not allow:\n" + "\n".join(iam.DENIALS)
    finally:
        local.stop()


@functools.cache
def _template() -> Template:
    return Template(REPO_ROOT / "template.yaml")


def invoke(stack: DevStack, name: str) -> Any:
    """The event's function, invoked with it as Lambda would (under its template policy)."""
    return stack.functions[function_of(EVENTS / f"{name}.json", _template())].invoke(load_event(name))


def api(stack: DevStack, method: str, path: str) -> Any:
    """A read through the API with the sample key (to check what an event did)."""
    return _call(stack, method, path, SAMPLE_KEY)


# ------------------------------------------------------------------ the events


def test_every_function_has_sample_events_and_every_event_a_function() -> None:
    covered = {function_of(path, _template()) for path in EVENTS.glob("*.json")}
    assert covered == set(_template().resources_of(FUNCTION_TYPE))


REST_EVENTS = {
    # event → (status, what the JSON body says; ... = present)
    "agents_api.get_agent": (200, {"id": SAMPLE["agent"], "name": "demo"}),
    "runs_api.get_run": (200, {"id": SAMPLE["run"], "status": "queued"}),
    "runs_api.create_run": (201, {"agent_id": SAMPLE["agent"], "object": "run"}),
    "threads_api.get_thread": (200, {"id": SAMPLE["thread"]}),
    "events_api.list_events": (200, {"object": "list"}),
    "account_api.get_org": (200, {"id": SAMPLE["org"]}),
    "admin_api.update_org": (200, {"id": SAMPLE["org"]}),
    "docs_api.health": (200, {"status": "ok"}),
    "files_api.create_upload": (201, {"file": ..., "upload_url": ..., "expires_at": ...}),
    "files_api.get_file": (200, {"id": SAMPLE["file"], "status": "uploaded"}),
    "method_not_allowed.delete_runs": (405, {"code": "method_not_allowed"}),
    "dialects-tr.get_run": (200, {"run_id": SAMPLE["run"], "status": "queued"}),
    "dialects-ziet.get_run": (200, {"id": SAMPLE["run"]}),
    "dialects-kognitos.get_run": (200, {"status": "Created"}),
    "dialects-roe.other_organization": (403, {"message": ...}),
    "dialects-appstrate.unknown_agent": (404, {"code": "not_found", "requestId": ...}),
    "dialects-openai.get_response": (200, {"id": SAMPLE["run"], "object": "response", "status": "queued"}),
    "dialects-langgraph.get_assistant": (200, {"assistant_id": SAMPLE["agent"], "graph_id": "demo"}),
}


@pytest.mark.parametrize("name", sorted(REST_EVENTS))
def test_api_gateway_proxy_events(stack: DevStack, name: str) -> None:
    status, expected = REST_EVENTS[name]
    response = invoke(stack, name)
    assert response["statusCode"] == status, response
    body = json.loads(response["body"])
    seen = {
        field: ... if value is ... and field in body else body.get(field) for field, value in expected.items()
    }
    assert seen == expected, body


def test_the_authorizer_event_allows_the_sample_key(stack: DevStack) -> None:
    result = invoke(stack, "authorizer.request")
    event = load_event("authorizer.request")
    (statement,) = result["policyDocument"]["Statement"]
    assert statement["Effect"] == "Allow"
    assert event["methodArn"].startswith(statement["Resource"].rstrip("*").split("/")[0])
    assert result["context"]["org_id"] == SAMPLE["org"]


class RecordedSocket:
    """The client side API Gateway would hold open: what the handler posts to the connection lands here."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def send(self, payload: bytes, text: bool = False) -> None:
        self.sent.append(payload)

    def close(self) -> None:
        pass


def test_websocket_connect_subscribe_unsubscribe_disconnect(stack: DevStack) -> None:
    frames = RecordedSocket()
    with local_websocket._lock:
        connection = local_websocket.LocalConnection(SAMPLE_CONNECTION, frames)  # type: ignore[arg-type]
        local_websocket._connections[SAMPLE_CONNECTION] = connection
    try:
        assert invoke(stack, "websocket.connect") == {"statusCode": 200}
        assert invoke(stack, "websocket.subscribe") == {"statusCode": 200}
        pushed = json.loads(frames.sent[0])
        assert pushed.get("run_id") == SAMPLE["run"], pushed
        assert invoke(stack, "websocket.unsubscribe") == {"statusCode": 200}
        assert invoke(stack, "websocket.disconnect") == {"statusCode": 200}
    finally:
        with local_websocket._lock:
            local_websocket._connections.pop(SAMPLE_CONNECTION, None)


def test_run_step_tasks(stack: DevStack) -> None:
    """The state machine's task inputs: a step, adopting a run (a continued execution), parking and expiring
    a wait, failing a run."""
    stepped = invoke(stack, "run_step.step")
    assert stepped["run_id"] == SAMPLE["run_step"] and stepped["next"] in ("continue", "done"), stepped
    assert api(stack, "GET", f"/v1/runs/{SAMPLE['run_step']}")["status"] in ("running", "completed")
    assert invoke(stack, "run_step.adopt") == {}  # a continued execution takes the run over
    record = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=os.environ["RUNS_TABLE"], Key={"id": {"S": SAMPLE["run_step"]}}
    )["Item"]
    assert record["execution_arn"]["S"] == load_event("run_step.adopt")["execution_arn"]

    assert invoke(stack, "run_step.park") == {}
    assert api(stack, "GET", f"/v1/runs/{SAMPLE['run_wait']}")["status"] == "waiting_approval"
    assert invoke(stack, "run_step.expire") == {"next": "done", "run_id": SAMPLE["run_wait"]}
    expired = api(stack, "GET", f"/v1/runs/{SAMPLE['run_wait']}")
    assert (expired["status"], expired["error"]["code"]) == ("failed", "approval_timeout")

    assert invoke(stack, "run_step.fail") == {"next": "done", "run_id": SAMPLE["run_fail"]}
    failed = api(stack, "GET", f"/v1/runs/{SAMPLE['run_fail']}")
    assert (failed["status"], failed["error"]["code"]) == ("failed", "internal_error")


def test_event_router_stream_batch(stack: DevStack) -> None:
    assert invoke(stack, "event_router.stream_batch") == {"batchItemFailures": []}


def test_file_uploaded_s3_notification(stack: DevStack) -> None:
    assert invoke(stack, "file_uploaded.object_created") == {"finished": 1}
    uploaded = api(stack, "GET", f"/v1/files/{SAMPLE['upload']}")
    assert (uploaded["status"], uploaded["size_bytes"]) == ("uploaded", len(UPLOAD_BODY))


def test_execution_ended_event(stack: DevStack) -> None:
    assert invoke(stack, "execution_ended.timed_out") == {"run_id": SAMPLE["run_ended"], "ended": "failed"}
    ended = api(stack, "GET", f"/v1/runs/{SAMPLE['run_ended']}")
    assert (ended["status"], ended["error"]["code"]) == ("failed", "timeout")

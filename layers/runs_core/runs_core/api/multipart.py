"""multipart/form-data (RFC 7578) for the routes that take files: POST /v1/files, and run creation.

Parsed with the standard library's `email` package. Run creation (docs/api.md §4) takes a part `json` with
the JSON body and file parts: `multipart_to_json` stores the files and turns the request into the plain
JSON request the route already serves (their ids appended to `file_ids`), before routing. Everything is
checked before the first file is stored, so a rejected request stores nothing.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from runs_core.api.strict_json import loads_storable
from runs_core.errors import Forbidden, PayloadTooLarge, UnsupportedMediaType, ValidationFailed

MULTIPART = "multipart/form-data"
MAX_FILE_IDS = 20  # RunOptions.file_ids
# Run creation routes that also take multipart/form-data: method + path pattern (docs/api.md §4, §5).
MULTIPART_RUN_ROUTES = (
    re.compile(r"^/v1/runs/?$"),
    re.compile(r"^/v1/agents/[^/]+/runs/?$"),
    re.compile(r"^/v1/threads/[^/]+/runs/?$"),
    re.compile(r"^/dialects/appstrate/api/agents/[^/]+/[^/]+/run/?$"),  # the Appstrate dialect's runs
)
FILES_ROUTE = re.compile(r"^/v1/files/?$")


@dataclass(frozen=True)
class Part:
    name: str
    filename: str | None
    content_type: str | None  # as sent; None when the part has no Content-Type
    data: bytes = field(repr=False)

    @property
    def is_file(self) -> bool:
        return self.name == "file" or self.filename is not None


def media_type(headers: dict[str, Any] | None) -> str:
    for name, value in (headers or {}).items():
        if name.lower() == "content-type":
            return str(value).split(";")[0].strip().lower()
    return ""


def parts_of(event: dict[str, Any]) -> list[Part]:
    """The parts of the event's multipart/form-data body (415 for another media type, 400 if malformed)."""
    headers = event.get("headers") or {}
    content_type = next((str(v) for k, v in headers.items() if k.lower() == "content-type"), "")
    return parse_multipart(content_type, body_bytes(event))


def is_multipart_run_route(event: dict[str, Any]) -> bool:
    path = event.get("path") or ""
    return event.get("httpMethod") == "POST" and any(route.match(path) for route in MULTIPART_RUN_ROUTES)


def accepts_multipart(event: dict[str, Any]) -> bool:
    """The routes whose bodies may be multipart/form-data (the rest take application/json only)."""
    path = event.get("path") or ""
    return is_multipart_run_route(event) or (
        event.get("httpMethod") == "POST" and bool(FILES_ROUTE.match(path))
    )


def body_bytes(event: dict[str, Any]) -> bytes:
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise ValidationFailed("The request body is not valid base64.") from None
    return body.encode("utf-8") if isinstance(body, str) else bytes(body)


def parse_multipart(content_type: str, body: bytes) -> list[Part]:
    """The parts of a multipart/form-data body; malformed input → 400 validation_error."""
    if content_type.split(";")[0].strip().lower() != MULTIPART:
        raise UnsupportedMediaType(f"Send {MULTIPART}.")
    if "\r" in content_type or "\n" in content_type:
        raise _malformed("invalid Content-Type header")
    # lazy, for cold start: every API function checks for multipart bodies, few receive one
    from email import message_from_bytes
    from email.message import Message
    from email.policy import HTTP

    document: Message = message_from_bytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\nMIME-Version: 1.0\r\n\r\n" + body,
        policy=HTTP,
    )
    boundary = document.get_boundary()
    if not boundary:
        raise _malformed("Content-Type has no boundary")
    if not document.is_multipart() or document.defects:
        raise _malformed("the body is not a complete multipart/form-data document")
    if b"--" + boundary.encode("latin-1") + b"--" not in body:
        raise _malformed("the closing boundary is missing")
    parts: list[Part] = []
    for section in document.get_payload():
        assert isinstance(section, Message)
        if section.defects:
            raise _malformed("a part is malformed")
        disposition = section.get("Content-Disposition")
        if disposition is None or disposition.split(";")[0].strip().lower() != "form-data":
            raise _malformed("every part needs Content-Disposition: form-data")
        name = section.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            raise _malformed("every part needs a name")
        payload = section.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts.append(
            Part(
                name=name,
                filename=section.get_filename(),
                content_type=section.get_content_type() if section.get("Content-Type") else None,
                data=data,
            )
        )
    return parts


def _malformed(reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"Malformed multipart/form-data: {reason}.",
        [{"field": "body", "code": "multipart", "message": reason}],
    )


def multipart_to_json(event: dict[str, Any]) -> dict[str, Any]:
    """A multipart run-creation request → the same request as application/json, its files stored.

    Part `json` (exactly one) holds the JSON body; every part named `file` or with a filename is stored
    as a file of the caller's org and its id appended to `file_ids`. A non-multipart event is returned
    as it is.
    """
    from runs_core.logic.files import store_file  # lazy, for cold start: only multipart requests need S3
    from runs_core.models.files import MAX_DIRECT_UPLOAD_BYTES

    headers = event.get("headers") or {}
    if media_type(headers) != MULTIPART:
        return event
    authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
    org_id = authorizer.get("org_id")
    if authorizer.get("role") != "org" or not org_id:
        raise Forbidden("This route needs an org's API key.")
    parts = parts_of(event)
    json_parts = [part for part in parts if part.name == "json" and part.filename is None]
    if len(json_parts) != 1:
        raise ValidationFailed(
            "Send exactly one part named `json` holding the JSON body.",
            [{"field": "json", "code": "missing", "message": "exactly one `json` part is required"}],
        )
    try:
        document = loads_storable(json_parts[0].data.decode("utf-8"))  # NaN, "" keys, …: 400, as a body
    except (UnicodeDecodeError, ValueError):
        raise ValidationFailed(
            "The `json` part is not valid JSON.",
            [{"field": "json", "code": "json_invalid", "message": "is not valid JSON"}],
        ) from None
    if not isinstance(document, dict):
        raise ValidationFailed(
            "The `json` part must be a JSON object.",
            [{"field": "json", "code": "type", "message": "must be an object"}],
        )
    files = [part for part in parts if part.is_file and part is not json_parts[0]]
    existing = document.get("file_ids", [])
    if not isinstance(existing, list):
        raise ValidationFailed(
            "file_ids must be a list", [{"field": "file_ids", "code": "type", "message": "must be a list"}]
        )
    if len(existing) + len(files) > MAX_FILE_IDS:
        message = f"at most {MAX_FILE_IDS} files per run"
        raise ValidationFailed(
            f"file_ids: {message}", [{"field": "file_ids", "code": "max_length", "message": message}]
        )
    for part in files:
        if len(part.data) > MAX_DIRECT_UPLOAD_BYTES:
            raise PayloadTooLarge(
                f"Each file part is limited to {MAX_DIRECT_UPLOAD_BYTES} bytes; "
                "upload larger files with POST /v1/files/uploads and pass their ids."
            )
    stored = [store_file(org_id, part.filename, part.content_type, part.data).id for part in files]
    document["file_ids"] = [*existing, *stored]
    body = json.dumps(document)
    rewritten = {
        name: value
        for name, value in headers.items()
        if name.lower() not in ("content-type", "content-length")
    }
    rewritten["Content-Type"] = "application/json"
    multi = {
        name: values
        for name, values in (event.get("multiValueHeaders") or {}).items()
        if name.lower() not in ("content-type", "content-length")
    }
    multi["Content-Type"] = ["application/json"]
    return {**event, "headers": rewritten, "multiValueHeaders": multi, "body": body, "isBase64Encoded": False}

"""Files (docs/api.md §7): direct uploads, presigned uploads and their completion, downloads, and the files a
run hands its model.

A direct upload (≤ 5 MiB through API Gateway) is hashed here and stored with S3 checking that hash. A
presigned upload (≤ 5 GiB, straight to S3) lands under `pending/`; the bucket's ObjectCreated
notification finishes it (runs_core.logic.uploads).
"""

import hashlib
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from runs_core import clock, ids
from runs_core.context import Caller
from runs_core.errors import InvalidState, NotFound, PayloadTooLarge
from runs_core.models.files import MAX_DIRECT_UPLOAD_BYTES, CreateUpload, File, FileWithUrl, Upload
from runs_core.observability import logger
from runs_core.storage.files import object_key, pending_key
from runs_core.stores import get_stores

if TYPE_CHECKING:
    from runs_core.providers.base import Attachment

UPLOAD_URL_SECONDS = 3600
DOWNLOAD_URL_SECONDS = 900
MAX_RUN_ATTACHMENT_BYTES = 20 * 1024 * 1024  # what one run's model calls carry in files, at most
DEFAULT_CONTENT_TYPE = "application/octet-stream"
MAX_NAME_CHARS = 255


def clean_name(filename: str | None) -> str:
    """A client's filename without any directory part (browsers may send C:\\fakepath\\x.pdf)."""
    base = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    base = "".join(char for char in base if char.isprintable())
    return (base or "file")[:MAX_NAME_CHARS]


def _view(record: dict[str, Any]) -> File:
    return File.model_validate(record)


def store_file(org_id: str, name: str | None, content_type: str | None, data: bytes) -> File:
    """Store one direct upload: PutObject (S3 verifies our SHA-256), then the `uploaded` record."""
    if len(data) > MAX_DIRECT_UPLOAD_BYTES:
        raise PayloadTooLarge(
            f"Files sent in the request body are limited to {MAX_DIRECT_UPLOAD_BYTES} bytes; "
            "use POST /v1/files/uploads for larger ones."
        )
    stores = get_stores()
    file_id, created_at = ids.new_id_at("file")
    digest = hashlib.sha256(data).digest()
    content_type = (content_type or DEFAULT_CONTENT_TYPE).lower()
    stores.file_objects.put(object_key(org_id, file_id), data, content_type, digest)
    record = {
        "org_id": org_id,
        "id": file_id,
        "object": "file",
        "name": clean_name(name),
        "content_type": content_type,
        "size_bytes": len(data),
        "sha256": digest.hex(),
        "status": "uploaded",
        "created_at": created_at,
    }
    stores.files.create(record)
    return _view(record)


def create_upload(caller: Caller, request: CreateUpload) -> Upload:
    """A `pending` record and a presigned PUT that only accepts the declared type and size."""
    stores = get_stores()
    file_id, created_at = ids.new_id_at("file")
    record: dict[str, Any] = {
        "org_id": caller.org_id,
        "id": file_id,
        "object": "file",
        "name": clean_name(request.name),
        "content_type": request.content_type.lower(),
        "size_bytes": request.size_bytes,
        "status": "pending",
        "created_at": created_at,
    }
    stores.files.create(record)
    # Signed exactly as declared: the client sends that Content-Type value (SigV4 compares it verbatim).
    url = stores.file_objects.presign_put(
        pending_key(caller.org_id, file_id), request.content_type, request.size_bytes, UPLOAD_URL_SECONDS
    )
    expires_at = clock.iso(clock.now() + timedelta(seconds=UPLOAD_URL_SECONDS))
    return Upload(file=_view(record), upload_url=url, expires_at=expires_at)


def load_file(caller: Caller, file_id: str) -> dict[str, Any]:
    """The caller's file record; another org's file is indistinguishable from a missing one."""
    record = get_stores().files.get(caller.org_id, file_id) if ids.has_prefix(file_id, "file") else None
    if record is None:
        raise NotFound(f"No file {file_id!r}.")
    return record


def get_file(caller: Caller, file_id: str) -> FileWithUrl:
    record = load_file(caller, file_id)
    view = FileWithUrl.model_validate(record)
    if record["status"] == "uploaded":
        url = get_stores().file_objects.presign_get(
            object_key(caller.org_id, file_id), record["name"], DOWNLOAD_URL_SECONDS
        )
        expires = clock.iso(clock.now() + timedelta(seconds=DOWNLOAD_URL_SECONDS))
        view = view.model_copy(update={"download_url": url, "download_url_expires_at": expires})
    return view


def require_uploaded(org_id: str, file_ids: list[str]) -> None:
    """Run creation: every id is one of the org's files (else 404) and its upload is done (else 409)."""
    if not file_ids:
        return
    valid = [file_id for file_id in file_ids if ids.has_prefix(file_id, "file")]
    found = get_stores().files.get_many(org_id, valid) if valid else {}
    for file_id in file_ids:
        record = found.get(file_id)
        if record is None:
            raise NotFound(f"No file {file_id!r}.")
        if record["status"] != "uploaded":
            raise InvalidState(f"File {file_id!r} is {record['status']}, not uploaded.")


def run_attachments(run: dict[str, Any]) -> tuple["Attachment", ...]:
    """The run's files for its model, in file_ids order, at most MAX_RUN_ATTACHMENT_BYTES in all."""
    file_ids = tuple(run.get("file_ids") or ())
    return _attachments(run["org_id"], file_ids) if file_ids else ()


@lru_cache(maxsize=4)  # uploaded files never change: a warm step function reads a run's files once
def _attachments(org_id: str, file_ids: tuple[str, ...]) -> tuple["Attachment", ...]:
    from runs_core.providers.base import Attachment  # lazy, for cold start: only the agent loop needs it

    stores = get_stores()
    records = stores.files.get_many(org_id, list(file_ids))
    attachments: list[Attachment] = []
    total = 0
    for file_id in file_ids:
        record = records.get(file_id)
        if record is None or record["status"] != "uploaded":
            logger.warning("run file missing or not uploaded; skipped", extra={"file_id": file_id})
            continue
        if total + record["size_bytes"] > MAX_RUN_ATTACHMENT_BYTES:
            logger.warning(
                "run files over the per-run limit; file skipped",
                extra={"file_id": file_id, "limit_bytes": MAX_RUN_ATTACHMENT_BYTES},
            )
            continue
        data = stores.file_objects.read(object_key(org_id, file_id))
        total += len(data)
        attachments.append(Attachment(record["name"], record["content_type"], data))
    return tuple(attachments)

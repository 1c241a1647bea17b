"""Presigned uploads' completion (docs/api.md §7): the files bucket's ObjectCreated notification for an
object under `pending/` streams it once to hash and size it, moves it to `<org_id>/<file_id>` and marks
the record `uploaded` (or `failed` when the size is not the declared one). Apart from runs_core.logic.files
(the API's files, pydantic models) so FileUploadedFunction imports no pydantic (cold start)."""

import hashlib
from typing import Any
from urllib.parse import unquote_plus

from runs_core.observability import logger
from runs_core.storage.files import object_key, parse_pending_key
from runs_core.stores import get_stores


def complete_upload(raw_key: str) -> dict[str, Any] | None:
    """An object arrived under `pending/` (S3 notification): check it and finish its record.

    Returns the updated record, or None when there is nothing to do (not ours, or already finished).
    """
    stores = get_stores()
    key = unquote_plus(raw_key)  # S3 notifications URL-encode the key
    parsed = parse_pending_key(key)
    if parsed is None:
        logger.warning("object outside pending/ ignored", extra={"key": key})
        return None
    org_id, file_id = parsed
    record = stores.files.get(org_id, file_id, consistent=True)
    if record is None or record["status"] != "pending":
        logger.warning("no pending file for uploaded object; object deleted", extra={"key": key})
        stores.file_objects.delete(key)
        return None
    digest = hashlib.sha256()
    size = 0
    for chunk in stores.file_objects.chunks(key):
        digest.update(chunk)
        size += len(chunk)
    if size != record["size_bytes"]:
        logger.warning(
            "upload size differs from the declared size",
            extra={"file_id": file_id, "declared": record["size_bytes"], "received": size},
        )
        stores.file_objects.delete(key)
        return stores.files.finish_upload(org_id, file_id, {"status": "failed"})
    stores.file_objects.move(key, object_key(org_id, file_id))
    return stores.files.finish_upload(
        org_id, file_id, {"status": "uploaded", "sha256": digest.hexdigest(), "size_bytes": size}
    )


def handle_s3_event(event: dict[str, Any]) -> int:
    """Every ObjectCreated record of an S3 notification; returns how many files it finished."""
    finished = 0
    for record in event.get("Records") or []:
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        if complete_upload(record["s3"]["object"]["key"]) is not None:
            finished += 1
    return finished

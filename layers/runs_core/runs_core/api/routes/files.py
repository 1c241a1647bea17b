"""File routes (docs/api.md §7)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path

from runs_core.api.caller import OrgCaller
from runs_core.api.multipart import MULTIPART, parts_of
from runs_core.api.openapi import Router, errors
from runs_core.errors import ValidationFailed
from runs_core.logic import files
from runs_core.models.files import CreateUpload, File, FileWithUrl, Upload

router = Router()
FileId = Annotated[str, Path(min_length=1, max_length=64)]
TAGS = ["Files"]

# The request body of POST /v1/files in the published spec (the handler reads the raw body itself).
MULTIPART_UPLOAD_BODY = {
    "required": True,
    "content": {
        MULTIPART: {
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary", "description": "≤ 5 MiB"}},
                "examples": [{"file": "Invoice INV-1: 120.00 EUR"}],
            }
        }
    },
}


@router.post("/v1/files", status_code=201, tags=TAGS, responses=errors(413, 415))
def upload_file(caller: OrgCaller) -> File:
    """Upload a file of at most 5 MiB as multipart/form-data, part `file` (its filename and Content-Type
    are kept). Larger files: POST /v1/files/uploads."""
    parts = [part for part in parts_of(router.current_event.raw_event) if part.name == "file"]
    if len(parts) != 1:
        raise ValidationFailed(
            "Send exactly one part named `file`.",
            [{"field": "file", "code": "missing", "message": "exactly one `file` part is required"}],
        )
    part = parts[0]
    return files.store_file(caller.org_id, part.filename, part.content_type, part.data)


@router.post("/v1/files/uploads", status_code=201, tags=TAGS, responses=errors(413, 415))
def create_upload(body: CreateUpload, caller: OrgCaller) -> Upload:
    """Start a direct-to-S3 upload (≤ 5 GiB): PUT the bytes to `upload_url` with the declared Content-Type
    and Content-Length before `expires_at`. The file is `pending` until S3 has it, then `uploaded`."""
    return files.create_upload(caller, body)


@router.get("/v1/files/<file_id>", tags=TAGS, responses=errors(404))
def get_file(file_id: FileId, caller: OrgCaller) -> FileWithUrl:
    """A file, with a `download_url` (presigned, 15 minutes) once it is uploaded."""
    return files.get_file(caller, file_id)

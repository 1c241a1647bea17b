"""Files (docs/api.md §7): the file object, the presigned-upload request and its answer."""

from typing import Literal

from pydantic import ConfigDict, Field

from runs_core.models.common import RequestModel, ResponseModel

MAX_DIRECT_UPLOAD_BYTES = 5 * 1024 * 1024  # POST /v1/files (multipart through API Gateway)
MAX_PRESIGNED_UPLOAD_BYTES = 5 * 1024**3  # POST /v1/files/uploads (one S3 PUT)
CONTENT_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$"

FileStatus = Literal["uploaded", "pending", "failed"]


class File(ResponseModel):
    id: str = Field(examples=["file_01JD0000000000000000000000"])
    object: Literal["file"] = "file"
    name: str
    content_type: str
    size_bytes: int
    sha256: str | None = Field(None, description="Hex SHA-256 of the content; null until uploaded.")
    status: FileStatus = Field(
        description="`pending` until a presigned upload arrives; `failed` if it was wrong."
    )
    created_at: str


class FileWithUrl(File):
    download_url: str | None = Field(None, description="Presigned S3 GET, valid 15 minutes (uploaded files).")
    download_url_expires_at: str | None = None


class CreateUpload(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "invoice.pdf", "content_type": "application/pdf", "size_bytes": 482133}]
        }
    )

    name: str = Field(min_length=1, max_length=255)
    content_type: str = Field(pattern=CONTENT_TYPE_PATTERN, max_length=255)
    size_bytes: int = Field(ge=1, le=MAX_PRESIGNED_UPLOAD_BYTES)


class Upload(ResponseModel):
    file: File
    upload_url: str = Field(
        description="PUT the bytes here with exactly this Content-Type and Content-Length, before expires_at."
    )
    expires_at: str

"""Files (docs/api.md §7): records in FilesTable (pk org_id, sk id) and objects in the files bucket.

Object keys carry the org: `<org_id>/<file_id>` for stored files, `pending/<org_id>/<file_id>` for a
presigned upload that has not been checked yet (the bucket's notification on `pending/` completes it,
and a lifecycle rule removes what is never completed).
"""

import base64
from collections.abc import Iterator
from functools import cached_property
from typing import Any

from runs_core.storage import dynamo

PENDING_PREFIX = "pending/"


def object_key(org_id: str, file_id: str) -> str:
    return f"{org_id}/{file_id}"


def pending_key(org_id: str, file_id: str) -> str:
    return f"{PENDING_PREFIX}{org_id}/{file_id}"


def parse_pending_key(key: str) -> tuple[str, str] | None:
    """(org_id, file_id) of a `pending/<org_id>/<file_id>` key, else None."""
    if not key.startswith(PENDING_PREFIX):
        return None
    parts = key[len(PENDING_PREFIX) :].split("/")
    return (parts[0], parts[1]) if len(parts) == 2 and all(parts) else None


class FileStore:
    def __init__(self, table: str) -> None:
        self.table = table

    def create(self, record: dict[str, Any]) -> None:
        dynamo.client().put_item(
            TableName=self.table,
            Item=dynamo.serialize(record),
            ConditionExpression="attribute_not_exists(id)",
        )

    def get(self, org_id: str, file_id: str, consistent: bool = False) -> dict[str, Any] | None:
        return dynamo.get(self.table, {"org_id": org_id, "id": file_id}, consistent)

    def get_many(self, org_id: str, file_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The org's records among `file_ids` (≤ 100), by id; missing ids are simply absent."""
        keys = [{"org_id": org_id, "id": file_id} for file_id in dict.fromkeys(file_ids)]
        return {item["id"]: item for item in dynamo.batch_get(self.table, keys)}

    def finish_upload(self, org_id: str, file_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Apply `changes` to a `pending` record; None if there is none (unknown, or already finished)."""
        return dynamo.update_if(
            self.table,
            {"org_id": org_id, "id": file_id},
            changes,
            "#status = :pending",
            {"#status": "status"},
            {"pending": "pending"},
        )


class FileObjects:
    """The files bucket. `public_endpoint` (local stack only) is where presigned URLs point."""

    def __init__(self, bucket: str, public_endpoint: str | None = None) -> None:
        self.bucket = bucket
        self.public_endpoint = public_endpoint

    @cached_property
    def _client(self) -> Any:
        import boto3  # made once per process, on first use

        return boto3.client("s3")

    @cached_property
    def _presigner(self) -> Any:
        import boto3
        from botocore.config import Config

        # SigV4, so Content-Type and Content-Length are signed (S3 then refuses any other size or type).
        config = Config(
            signature_version="s3v4", s3={"addressing_style": "path"} if self.public_endpoint else {}
        )
        return boto3.client("s3", endpoint_url=self.public_endpoint, config=config)

    def put(self, key: str, data: bytes, content_type: str, sha256: bytes) -> None:
        """Store `data`; S3 checks it against the SHA-256 we computed (ChecksumSHA256)."""
        self._client.put_object(
            Bucket=self.bucket,
            Key=key,
            Body=data,
            ContentType=content_type,
            ChecksumSHA256=base64.b64encode(sha256).decode("ascii"),
        )

    def presign_put(self, key: str, content_type: str, size_bytes: int, expires_in: int) -> str:
        return str(
            self._presigner.generate_presigned_url(
                "put_object",
                Params={
                    "Bucket": self.bucket,
                    "Key": key,
                    "ContentType": content_type,
                    "ContentLength": size_bytes,
                },
                ExpiresIn=expires_in,
                HttpMethod="PUT",
            )
        )

    def presign_get(self, key: str, filename: str, expires_in: int) -> str:
        disposition = f"attachment; filename*=UTF-8''{_quote(filename)}"
        return str(
            self._presigner.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": key, "ResponseContentDisposition": disposition},
                ExpiresIn=expires_in,
            )
        )

    def chunks(self, key: str, chunk_size: int = 1024 * 1024) -> Iterator[bytes]:
        """The object's bytes, streamed (a 5 GiB upload never sits in memory)."""
        body = self._client.get_object(Bucket=self.bucket, Key=key)["Body"]
        try:
            yield from body.iter_chunks(chunk_size)
        finally:
            body.close()

    def read(self, key: str) -> bytes:
        return bytes(self._client.get_object(Bucket=self.bucket, Key=key)["Body"].read())

    def move(self, source: str, target: str) -> None:
        """Copy then delete (managed copy: multipart above 8 MB, so up to 5 GiB works)."""
        self._client.copy({"Bucket": self.bucket, "Key": source}, self.bucket, target)
        self._client.delete_object(Bucket=self.bucket, Key=source)

    def delete(self, key: str) -> None:
        self._client.delete_object(Bucket=self.bucket, Key=key)


def _quote(filename: str) -> str:
    from urllib.parse import quote

    return quote(filename, safe="")

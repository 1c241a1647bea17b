"""Files over real HTTP, as curl does it: multipart upload, presigned PUT, download URL (docs/api.md §7)."""

import hashlib
import json
import os
import time
import urllib.request

TIMEOUT = 10


def call(method: str, url: str, body: bytes | None = None, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        return response.status, dict(response.headers), response.read()


def test_upload_presigned_put_and_download(base_url, dev_key):
    auth = {"Authorization": f"Bearer {dev_key}"}
    data = b"%PDF-1.4\n" + os.urandom(4096)
    boundary = "e2e-" + os.urandom(8).hex()
    form = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="invoice.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + data
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, _, body = call(
        "POST",
        f"{base_url}/files",
        form,
        {**auth, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    uploaded = json.loads(body)
    assert status == 201 and uploaded["sha256"] == hashlib.sha256(data).hexdigest()
    _, _, body = call("GET", f"{base_url}/files/{uploaded['id']}", headers=auth)
    assert call("GET", json.loads(body)["download_url"])[2] == data

    big = os.urandom(64 * 1024)
    request = {"name": "scan.png", "content_type": "image/png", "size_bytes": len(big)}
    status, _, body = call(
        "POST",
        f"{base_url}/files/uploads",
        json.dumps(request).encode(),
        {**auth, "Content-Type": "application/json"},
    )
    upload = json.loads(body)
    assert status == 201 and upload["file"]["status"] == "pending"
    assert upload["upload_url"].startswith(base_url.removesuffix("/v1") + "/_s3/")
    assert call("PUT", upload["upload_url"], big, {"Content-Type": "image/png"})[0] == 200
    deadline = time.monotonic() + TIMEOUT
    while True:
        record = json.loads(call("GET", f"{base_url}/files/{upload['file']['id']}", headers=auth)[2])
        if record["status"] != "pending" or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert record["status"] == "uploaded" and record["sha256"] == hashlib.sha256(big).hexdigest()
    status, headers, content = call("GET", record["download_url"])
    assert content == big and "scan.png" in headers["Content-Disposition"]

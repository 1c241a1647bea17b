"""S3 for the local stack: the template's buckets in moto, presigned URLs served at /_s3, and the
template's S3 notifications (a bucket's NotificationConfiguration, or function events of Type S3)
delivered to the real handlers in-process.

Presigned URLs point here because the local stack sets FILES_PUBLIC_ENDPOINT to
http://127.0.0.1:<the port its HTTP server bound>/_s3 (path-style: /_s3/<bucket>/<key>?X-Amz-…), so
curl can use them.

What `LocalS3Gateway` checks, and what it does not:
* PUT and GET (and HEAD) of one object, with a presigned query string (X-Amz-Algorithm, X-Amz-Date,
  X-Amz-Expires, X-Amz-Signature present); X-Amz-Date + X-Amz-Expires must not have passed (else 403
  AccessDenied "Request has expired", as S3 answers).
* The signature itself is NOT verified locally, so neither are the signed Content-Type and
  Content-Length: S3 refuses a PUT whose headers differ from the signed ones, this gateway does not (the
  FileUploadedFunction's own size check still marks a wrong-sized upload `failed`).
* After a PUT it delivers an S3 ObjectCreated:Put notification to every function that bucket notifies
  (or whose S3 event names it) whose Events and prefix/suffix Filter rules match, in a background thread
  (S3 invokes asynchronously); a handler error is logged, not retried (Lambda would retry an async
  invoke twice).
* `response-content-disposition` / `response-content-type` on a GET are honoured.
Objects written by handlers through boto3 (in-process moto) trigger no notification locally.
"""

import fnmatch
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus, unquote

from devstack.lambdas import LocalFunction
from devstack.template import BUCKET_TYPE, FUNCTION_TYPE, REGION, Template, logical_id_of

log = logging.getLogger("devstack.s3")

PATH_PREFIX = "/_s3/"
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs live at most 7 days


def create_buckets(template: Template, s3: Any) -> None:
    """Create the template's AWS::S3::Bucket resources in moto."""
    for logical_id in template.resources_of(BUCKET_TYPE):
        s3.create_bucket(Bucket=template.named(logical_id, "BucketName"))


@dataclass(frozen=True)
class Subscription:
    """One S3 event source: a function, the bucket, its event patterns and key filter."""

    name: str
    function: LocalFunction
    bucket: str
    events: tuple[str, ...]  # e.g. ("s3:ObjectCreated:*",)
    prefix: str
    suffix: str

    def matches(self, bucket: str, event_name: str, key: str) -> bool:
        return (
            bucket == self.bucket
            and any(fnmatch.fnmatchcase(f"s3:{event_name}", pattern) for pattern in self.events)
            and key.startswith(self.prefix)
            and key.endswith(self.suffix)
        )


def subscriptions(template: Template, functions: Mapping[str, LocalFunction]) -> list[Subscription]:
    """The functions S3 notifies: a bucket's NotificationConfiguration.LambdaConfigurations, and SAM S3
    events of functions."""
    sources: list[tuple[str, str | None, str | None, dict[str, Any]]] = []  # (name, function, bucket, config)
    for bucket_id, bucket in template.resources_of(BUCKET_TYPE).items():
        notifications = (bucket.get("Properties") or {}).get("NotificationConfiguration") or {}
        for index, configuration in enumerate(notifications.get("LambdaConfigurations") or []):
            function_id = logical_id_of(configuration.get("Function"))
            sources.append(
                (f"{bucket_id}.LambdaConfigurations[{index}]", function_id, bucket_id, configuration)
            )
    for logical_id in template.resources_of(FUNCTION_TYPE):
        for event_name, event in (template.function_properties(logical_id).get("Events") or {}).items():
            if event.get("Type") == "S3":
                properties = event.get("Properties") or {}
                bucket_id = logical_id_of(properties.get("Bucket"))
                sources.append((f"{logical_id}.{event_name}", logical_id, bucket_id, properties))
    found: list[Subscription] = []
    for name, function_id, bucket_id, configuration in sources:
        if function_id not in functions or bucket_id is None or template.type_of(bucket_id) != BUCKET_TYPE:
            raise ValueError(f"{name}: must name a function and a bucket of the template")
        events = configuration.get("Events", configuration.get("Event"))  # SAM's Events, S3's Event
        rules = ((configuration.get("Filter") or {}).get("S3Key") or {}).get("Rules") or []
        values = {str(rule.get("Name", "")).lower(): str(rule.get("Value", "")) for rule in rules}
        found.append(
            Subscription(
                name=name,
                function=functions[function_id],
                bucket=template.named(bucket_id, "BucketName"),
                events=tuple(events if isinstance(events, list) else [events]),
                prefix=values.get("prefix", ""),
                suffix=values.get("suffix", ""),
            )
        )
    return found


class LocalS3Gateway:
    def __init__(self, s3: Any, subscribed: list[Subscription]) -> None:
        self.s3 = s3
        self.subscriptions = subscribed
        self._deliveries: list[threading.Thread] = []  # notifications possibly still running
        self._deliveries_lock = threading.Lock()

    @classmethod
    def from_template(
        cls, template: Template, functions: Mapping[str, LocalFunction], s3: Any
    ) -> "LocalS3Gateway":
        create_buckets(template, s3)
        return cls(s3, subscriptions(template, functions))

    def handle(
        self,
        method: str,
        path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> tuple[int, dict[str, str], bytes]:
        bucket, _, key = unquote(path[len(PATH_PREFIX) :]).partition("/")
        if not bucket or not key:
            return _error(400, "InvalidRequest", "Use /_s3/<bucket>/<key> with a presigned query string.")
        params = {name: values[-1] for name, values in query.items() if values}
        expired = _expired(params)
        if expired is not None:
            return _error(403, "AccessDenied", expired)
        lowered = {name.lower(): value for name, value in headers.items()}
        try:
            if method == "PUT":
                return self._put(bucket, key, lowered, body or b"")
            if method in ("GET", "HEAD"):
                return self._get(bucket, key, params, head=method == "HEAD")
        except self.s3.exceptions.NoSuchKey:
            return _error(404, "NoSuchKey", "The specified key does not exist.")
        except self.s3.exceptions.NoSuchBucket:
            return _error(404, "NoSuchBucket", "The specified bucket does not exist.")
        return _error(405, "MethodNotAllowed", f"{method} is not served at /_s3.")

    def _put(
        self, bucket: str, key: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        request: dict[str, Any] = {"Bucket": bucket, "Key": key, "Body": body}
        if headers.get("content-type"):
            request["ContentType"] = headers["content-type"]
        response = self.s3.put_object(**request)
        etag = str(response.get("ETag", ""))
        self._notify(bucket, key, len(body), etag.strip('"'))
        return 200, {"ETag": etag, "Content-Type": "application/xml"}, b""

    def _get(
        self, bucket: str, key: str, params: Mapping[str, str], head: bool
    ) -> tuple[int, dict[str, str], bytes]:
        response = self.s3.get_object(Bucket=bucket, Key=key)
        data = b"" if head else response["Body"].read()
        headers = {
            "Content-Type": params.get("response-content-type")
            or response.get("ContentType")
            or "binary/octet-stream",
            "ETag": str(response.get("ETag", "")),
        }
        if params.get("response-content-disposition"):
            headers["Content-Disposition"] = params["response-content-disposition"]
        return 200, headers, data

    def _notify(self, bucket: str, key: str, size: int, etag: str) -> None:
        event_name = "ObjectCreated:Put"
        for subscription in self.subscriptions:
            if not subscription.matches(bucket, event_name, key):
                continue
            event = {"Records": [_record(subscription.name, bucket, key, size, etag, event_name)]}
            thread = threading.Thread(
                target=_deliver, args=(subscription, event), name=f"s3-{subscription.name}", daemon=True
            )
            with self._deliveries_lock:  # requests arrive on many threads; drop the finished ones
                self._deliveries = [t for t in self._deliveries if t.is_alive()] + [thread]
            thread.start()

    def wait_idle(self, timeout_s: float = 10.0) -> None:
        """Wait for the notifications sent so far (tests)."""
        with self._deliveries_lock:
            running = list(self._deliveries)
        for thread in running:
            thread.join(timeout_s)
        with self._deliveries_lock:
            self._deliveries = [thread for thread in self._deliveries if thread.is_alive()]


def _deliver(subscription: Subscription, event: dict[str, Any]) -> None:
    try:
        subscription.function.invoke(event)
    except Exception:
        log.exception("%s: S3 notification handler failed (not retried locally)", subscription.name)


def _record(
    configuration: str, bucket: str, key: str, size: int, etag: str, event_name: str
) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "local"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": uuid.uuid4().hex[:16].upper()},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": "local"},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            # S3 URL-encodes the key in notifications (a space becomes "+").
            "object": {
                "key": quote_plus(key, safe="/"),
                "size": size,
                "eTag": etag,
                "sequencer": uuid.uuid4().hex[:16].upper(),
            },
        },
    }


def _expired(params: Mapping[str, str]) -> str | None:
    """Why a presigned query string is refused (missing parts, expired), or None if it may be used."""
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or not params.get("X-Amz-Signature"):
        return "Only presigned (SigV4 query string) requests are served here."
    try:
        signed_at = datetime.strptime(params["X-Amz-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        expires = int(params["X-Amz-Expires"])
    except (KeyError, ValueError):
        return "X-Amz-Date and X-Amz-Expires are required."
    if not 0 < expires <= MAX_EXPIRES_SECONDS:
        return "X-Amz-Expires must be between 1 and 604800 seconds."
    now = datetime.now(UTC)
    if now > signed_at + timedelta(seconds=expires):
        return "Request has expired"
    if signed_at > now + timedelta(minutes=15):
        return "Request is not yet valid"
    return None


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    ).encode()
    return status, {"Content-Type": "application/xml"}, body

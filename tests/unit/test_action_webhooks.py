"""`http` actions: Standard Webhooks signing, checked by a loopback receiver that verifies every request."""

import base64
import json
import re
import secrets
import string
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters.base import DEFAULT_PROVIDERS
from moto import mock_aws
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from runs_core.actions.base import ActionError
from runs_core.actions.config import get_actions_config
from runs_core.actions.executor import execute
from runs_core.actions.webhooks import decode_secret, sign, verify
from tests.support import action_context, serving

# These tests talk to servers on 127.0.0.1; the outbound guard refuses it unless allow-listed.
pytestmark = pytest.mark.usefixtures("allow_loopback")

KEY = b"receiver-and-runs-api-share-this-key"
WHSEC = "whsec_" + base64.b64encode(KEY).decode()
MSG_ID_PATTERN = r"^msg_[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


CTX = action_context("run_42")


class Receiver(BaseHTTPRequestHandler):
    """Verifies the signature and the timestamp with the server's key; 401 if either is wrong."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        msg_id = self.headers.get("webhook-id", "")
        timestamp = self.headers.get("webhook-timestamp", "")
        signature = self.headers.get("webhook-signature", "")
        server = cast(ReceiverServer, self.server)
        try:  # the official Standard Webhooks library, as a receiver would use it
            Webhook(server.secret).verify(body, dict(self.headers))
            ok = True
        except WebhookVerificationError:
            ok = False
        assert ok == verify(decode_secret(server.secret), msg_id, timestamp, body, signature)  # ours agrees
        headers = {name.lower(): value for name, value in self.headers.items()}
        server.seen.append({"path": self.path, "verified": ok, "headers": headers})
        if not ok:
            return self._reply(401, b'{"error": "bad signature"}')
        if self.path == "/text":
            return self._reply(200, b"thanks!", "text/plain")
        if self.path == "/fail":
            return self._reply(500, b'{"error": "boom"}')
        if self.path == "/empty":
            return self._reply(204, b"")
        reply = {
            "received": json.loads(body),
            "webhook_id": msg_id,
            "content_type": self.headers["Content-Type"],
        }
        return self._reply(200, json.dumps(reply).encode())

    def _reply(self, status: int, payload: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class ReceiverServer(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Receiver)
        self.secret = WHSEC  # what the receiver was given
        self.seen: list[dict[str, Any]] = []


@pytest.fixture
def receiver() -> Iterator[ReceiverServer]:
    with serving(ReceiverServer()) as httpd:
        yield httpd


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("RUNS_API_WEBHOOK_SECRET", raising=False)
    monkeypatch.delenv("WEBHOOK_SECRET_ARN", raising=False)
    get_actions_config.cache_clear()
    yield
    get_actions_config.cache_clear()


def hook(server: ThreadingHTTPServer, path: str = "/hook") -> dict[str, Any]:
    return {
        "name": "lookup_invoice",
        "kind": "http",
        "url": f"http://127.0.0.1:{server.server_address[1]}{path}",
    }


# ---------------------------------------------------------------- calls


def test_a_signed_call_is_verified_and_its_json_reply_is_the_result(receiver, monkeypatch):
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", WHSEC)
    result = execute(hook(receiver), {"invoice_id": "INV-1"}, CTX)
    assert result["received"] == {
        "run_id": "run_42",
        "action": "lookup_invoice",
        "arguments": {"invoice_id": "INV-1"},
    }
    assert result["content_type"] == "application/json"
    assert re.match(MSG_ID_PATTERN, result["webhook_id"])
    [seen] = receiver.seen
    assert seen["verified"] is True
    assert abs(int(seen["headers"]["webhook-timestamp"]) - time.time()) < 300
    assert seen["headers"]["webhook-signature"].startswith("v1,")


def test_each_call_has_its_own_message_id(receiver, monkeypatch):
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", WHSEC)
    first = execute(hook(receiver), {}, CTX)["webhook_id"]
    second = execute(hook(receiver), {}, CTX)["webhook_id"]
    assert first != second


def test_the_templates_generated_secret_verifies_with_or_without_the_prefix(receiver, monkeypatch):
    # template.yaml's WebhookSigningSecret: 48 letters and digits (GenerateSecretString, no punctuation),
    # which is base64. Receivers may be given it as it is or as whsec_<it>.
    generated = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(48))
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", generated)
    for given in (generated, "whsec_" + generated):
        receiver.secret = given
        assert execute(hook(receiver), {"a": 1}, CTX)["received"]["arguments"] == {"a": 1}
    assert [seen["verified"] for seen in receiver.seen] == [True, True]


def test_a_wrong_secret_is_rejected_by_the_receiver(receiver, monkeypatch):
    other = "whsec_" + base64.b64encode(b"another key, 16+ bytes").decode()
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", other)
    with pytest.raises(ActionError, match="HTTP 401"):
        execute(hook(receiver), {"invoice_id": "INV-1"}, CTX)
    assert [seen["verified"] for seen in receiver.seen] == [False]


def test_a_non_json_reply_is_an_action_error(receiver, monkeypatch):
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", WHSEC)
    with pytest.raises(ActionError, match="not JSON"):
        execute(hook(receiver, "/text"), {}, CTX)


def test_a_non_2xx_reply_is_an_action_error_with_the_status(receiver, monkeypatch):
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", WHSEC)
    with pytest.raises(ActionError, match="HTTP 500"):
        execute(hook(receiver, "/fail"), {}, CTX)


def test_an_empty_2xx_reply_is_none(receiver, monkeypatch):
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", WHSEC)
    assert execute(hook(receiver, "/empty"), {}, CTX) is None
    assert receiver.seen[0]["verified"] is True


def test_without_a_secret_nothing_is_sent(receiver):
    with pytest.raises(ActionError, match="RUNS_API_WEBHOOK_SECRET"):
        execute(hook(receiver), {}, CTX)
    assert receiver.seen == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/hook", None])
def test_only_http_and_https_urls(url, monkeypatch):
    monkeypatch.setenv("RUNS_API_WEBHOOK_SECRET", WHSEC)
    with pytest.raises(ActionError, match="http or https"):
        execute({"name": "x", "kind": "http", "url": url}, {}, CTX)


# ---------------------------------------------------------------- the secret from AWS


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    DEFAULT_PROVIDERS.clear()  # Powertools' providers (and their 5-minute caches) start empty
    with mock_aws():
        yield
    DEFAULT_PROVIDERS.clear()


def test_the_secret_from_secrets_manager(receiver, monkeypatch, aws):
    arn = boto3.client("secretsmanager").create_secret(Name="runs-api/webhook", SecretString=WHSEC)["ARN"]
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", arn)
    assert execute(hook(receiver), {"n": 1}, CTX)["received"]["arguments"] == {"n": 1}
    assert receiver.seen[0]["verified"] is True


def test_the_secret_from_an_ssm_parameter(receiver, monkeypatch, aws):
    boto3.client("ssm").put_parameter(Name="/runs-api/webhook-secret", Value=WHSEC, Type="SecureString")
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", "/runs-api/webhook-secret")
    assert execute(hook(receiver), {"n": 2}, CTX)["received"]["arguments"] == {"n": 2}


def test_a_missing_aws_secret_is_a_short_action_error(receiver, monkeypatch, aws):
    monkeypatch.setenv("WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope")
    with pytest.raises(ActionError, match=r"^could not read the webhook signing secret$"):
        execute(hook(receiver), {}, CTX)
    assert receiver.seen == []


# ---------------------------------------------------------------- sign and verify


def test_sign_matches_the_standard_webhooks_reference_vector():
    secret = decode_secret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
    signature = sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, '{"test": 2432232314}')
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verify():
    body = b'{"run_id": "run_1"}'
    now = 1_700_000_000
    good = sign(KEY, "msg_1", now, body)
    assert verify(KEY, "msg_1", str(now), body, good, now=now)
    assert verify(KEY, "msg_1", str(now), body, f"v1,bm90IHRoaXMgb25l {good}", now=now)  # rotated keys
    assert verify(KEY, "msg_1", str(now), body, good, now=now + 299)
    assert not verify(KEY, "msg_1", str(now), body + b" ", good, now=now)  # tampered body
    assert not verify(KEY, "msg_2", str(now), body, good, now=now)  # another message id
    assert not verify(b"other key", "msg_1", str(now), body, good, now=now)
    assert not verify(KEY, "msg_1", str(now), body, good, now=now + 301)  # too old
    assert not verify(KEY, "msg_1", str(now), body, good, now=now - 301)  # from the future
    assert not verify(KEY, "msg_1", "yesterday", body, good, now=now)
    assert not verify(KEY, "msg_1", str(now), body, good.removeprefix("v1,"), now=now)
    assert not verify(KEY, "msg_1", str(now), body, "", now=now)


@pytest.mark.parametrize("secret", ["whsec_not*base64", "whsec_abc", "   ", "", "plain-text-secret"])
def test_bad_secrets(secret):
    with pytest.raises(ActionError, match="secret"):
        decode_secret(secret)


def test_whsec_secrets_are_base64_decoded():
    assert decode_secret(WHSEC) == KEY
    assert decode_secret(WHSEC.removeprefix("whsec_")) == KEY  # the prefix is optional, as in the libraries

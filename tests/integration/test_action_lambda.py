"""`lambda` actions against a real botocore Lambda client, stubbed at the API boundary (botocore Stubber)."""

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from runs_core.actions import lambda_action
from runs_core.actions.base import ActionError
from runs_core.actions.executor import execute
from runs_core.actions.lambda_action import invoke_lambda
from tests.support import action_context

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:pay-invoice"
SPEC = {"name": "pay_invoice", "kind": "lambda", "function": FUNCTION}


CTX = action_context("run_7")


def payload(data: bytes) -> StreamingBody:
    return StreamingBody(io.BytesIO(data), len(data))


def expected_params(arguments: dict[str, Any]) -> dict[str, Any]:
    body = {"run_id": "run_7", "action": "pay_invoice", "arguments": arguments}
    return {
        "FunctionName": FUNCTION,
        "InvocationType": "RequestResponse",
        "Payload": json.dumps(body).encode(),
    }


@pytest.fixture
def client() -> Iterator[tuple[Any, Stubber]]:
    real = boto3.client(
        "lambda", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    with Stubber(real) as stubber:
        yield real, stubber
        stubber.assert_no_pending_responses()


def test_the_json_reply_is_the_result(client):
    real, stubber = client
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "Payload": payload(b'{"paid": true, "amount": 12.5}')},
        expected_params({"invoice_id": "INV-1"}),
    )
    assert invoke_lambda(SPEC, {"invoice_id": "INV-1"}, CTX, client=real) == {"paid": True, "amount": 12.5}


def test_the_executor_uses_the_cached_client(client, monkeypatch):
    real, stubber = client
    monkeypatch.setattr(lambda_action, "lambda_client", lambda: real)
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": payload(b"[1, 2]")}, expected_params({}))
    assert execute(SPEC, {}, CTX) == [1, 2]


def test_a_function_error_is_an_action_error_with_its_message(client):
    real, stubber = client
    error = {"errorMessage": "card declined", "errorType": "PaymentError", "stackTrace": ["  File x.py"]}
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload(json.dumps(error).encode())},
        expected_params({"invoice_id": "INV-2"}),
    )
    with pytest.raises(ActionError) as raised:
        invoke_lambda(SPEC, {"invoice_id": "INV-2"}, CTX, client=real)
    assert str(raised.value) == "lambda function failed: card declined"


def test_a_function_error_without_a_message(client):
    real, stubber = client
    stubber.add_response(
        "invoke",
        {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": payload(b"null")},
        expected_params({}),
    )
    with pytest.raises(ActionError, match="unhandled error"):
        invoke_lambda(SPEC, {}, CTX, client=real)


def test_an_api_error_is_an_action_error_with_its_code(client):
    real, stubber = client
    stubber.add_client_error("invoke", "ResourceNotFoundException", "Function not found: arn:…", 404)
    with pytest.raises(
        ActionError, match=r"^could not invoke the lambda function: ResourceNotFoundException$"
    ):
        invoke_lambda(SPEC, {}, CTX, client=real)


def test_a_non_json_reply_is_an_action_error(client):
    real, stubber = client
    stubber.add_response("invoke", {"StatusCode": 200, "Payload": payload(b"<html>")}, expected_params({}))
    with pytest.raises(ActionError, match="not JSON"):
        invoke_lambda(SPEC, {}, CTX, client=real)


def test_a_lambda_action_needs_a_function():
    with pytest.raises(ActionError, match="`function`"):
        execute({"name": "pay_invoice", "kind": "lambda"}, {}, CTX)

"""devstack.iam: while a function's handler runs, its AWS calls are checked against its template policy."""

import concurrent.futures
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from devstack import iam
from devstack.iam import Policy, function_policy, normalise_arn, required_permissions
from devstack.lambdas import LocalFunction
from devstack.stack import DevStack
from devstack.template import ACCOUNT_ID, MOTO_ACCOUNT_ID, REGION, Template
from tests.integration.conftest import ApiClient

ORGS = f"arn:aws:dynamodb:{REGION}:{MOTO_ACCOUNT_ID}:table/OrgsTable"
API_KEYS = f"arn:aws:dynamodb:{REGION}:{MOTO_ACCOUNT_ID}:table/ApiKeysTable"

SYNTHETIC = """
Resources:
  Table:
    Type: AWS::DynamoDB::Table
  Bucket:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: files
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: fn/
      Handler: app.handler
      Policies:
        - Version: "2012-10-17"
          Statement:
            - Sid: ReadTable
              Effect: Allow
              Action: [dynamodb:GetItem, "dynamodb:Batch*"]
              Resource:
                - !GetAtt Table.Arn
                - !Sub "${Table.Arn}/index/*"
            - Effect: Allow
              Action: dynamodb:Query
              Resource: !Sub "${Table.Arn}/index/by_?"
            - Effect: Allow
              Action: s3:*
              Resource: !Sub "${Bucket.Arn}/*"
            - Effect: Deny
              Action: s3:DeleteObject
              Resource: !Sub "${Bucket.Arn}/keep/*"
            - Effect: Allow
              Action: states:StopExecution
              Resource: !Sub "arn:aws:states:${AWS::Region}:${AWS::AccountId}:execution:machine:*"
"""


@pytest.fixture(autouse=True)
def expected_denials() -> Iterator[None]:
    """This module's denials are on purpose: not left for the package's check (conftest.stack)."""
    before = len(iam.DENIALS)
    yield
    del iam.DENIALS[before:]


@pytest.fixture
def synthetic(tmp_path: Path) -> Policy:
    path = tmp_path / "template.yaml"
    path.write_text(SYNTHETIC)
    return function_policy(Template(path), "Fn")


TABLE = f"arn:aws:dynamodb:{REGION}:{MOTO_ACCOUNT_ID}:table/Table"


def test_allowed_and_not_allowed(synthetic: Policy) -> None:
    assert synthetic.allows("dynamodb:GetItem", TABLE)
    assert not synthetic.allows("dynamodb:PutItem", TABLE)  # an action no statement names
    assert not synthetic.allows("dynamodb:GetItem", TABLE.replace("Table", "Other"))  # another table
    assert not synthetic.allows("dynamodb:Query", TABLE)  # Query is allowed on indexes only
    assert synthetic.allows("logs:PutLogEvents", "arn:aws:logs:us-east-1:0:log-group:x")  # SAM's basic role


def test_wildcards(synthetic: Policy) -> None:
    assert synthetic.allows("dynamodb:BatchGetItem", TABLE)  # dynamodb:Batch*
    assert synthetic.allows("DynamoDB:batchwriteitem", TABLE)  # actions are case-insensitive
    assert synthetic.allows("dynamodb:Query", f"{TABLE}/index/by_x")  # ? is one character
    assert not synthetic.allows("dynamodb:Query", f"{TABLE}/index/by_xy")
    assert synthetic.allows("s3:GetObject", "arn:aws:s3:::files/a/b/c")  # s3:* on files/*
    assert not synthetic.allows("s3:GetObject", "arn:aws:s3:::Files/a")  # resources are case-sensitive
    assert not synthetic.allows("s3:ListBucket", "arn:aws:s3:::files")  # the bucket is not files/*


def test_deny_wins_over_allow(synthetic: Policy) -> None:
    assert synthetic.allows("s3:DeleteObject", "arn:aws:s3:::files/tmp/x")
    decision = synthetic.evaluate("s3:DeleteObject", "arn:aws:s3:::files/keep/x")
    assert not decision.allowed and decision.explicit_deny


def test_decisions_are_remembered_and_the_same_as_evaluated_afresh(
    synthetic: Policy, monkeypatch: pytest.MonkeyPatch
) -> None:
    cases = [
        ("dynamodb:GetItem", TABLE),
        ("dynamodb:PutItem", TABLE),
        ("s3:DeleteObject", "arn:aws:s3:::files/keep/x"),
        ("s3:DeleteObject", "arn:aws:s3:::files/tmp/x"),
        ("states:SendTaskSuccess", None),
    ]
    fresh = [synthetic._evaluate(action, resource) for action, resource in cases]
    assert [synthetic.evaluate(action, resource) for action, resource in cases] == fresh
    calls = []
    monkeypatch.setattr(Policy, "_evaluate", lambda self, *key: calls.append(key))
    assert [synthetic.evaluate(action, resource) for action, resource in cases] == fresh  # remembered
    assert calls == []
    monkeypatch.undo()
    monkeypatch.setattr(iam, "DECISIONS", len(cases))  # full: all forgotten, then remembered anew
    synthetic.evaluate("s3:GetObject", "arn:aws:s3:::files/new")
    assert len(synthetic._decisions) == 1
    assert synthetic.evaluate("dynamodb:PutItem", TABLE) == fresh[1]
    assert Policy(synthetic.statements) == synthetic  # what it remembers is no part of the policy


def test_account_ids_of_emulator_and_moto_compare_equal(synthetic: Policy) -> None:
    # The policy says ${AWS::AccountId} (the emulator's); moto reports executions in its own account.
    execution = f"arn:aws:states:{REGION}:{MOTO_ACCOUNT_ID}:execution:machine:run-1"
    assert synthetic.allows("states:StopExecution", execution)
    assert normalise_arn(execution) == execution.replace(MOTO_ACCOUNT_ID, ACCOUNT_ID)
    assert normalise_arn("arn:aws:s3:::runs-api-files-123456789012/x").endswith(
        "123456789012/x"
    )  # no account


def test_calls_map_to_actions_and_resources() -> None:
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table"
    assert required_permissions(
        "dynamodb",
        "TransactWriteItems",
        {
            "TransactItems": [
                {"Put": {"TableName": "A"}},
                {"Update": {"TableName": "B"}},
                {"ConditionCheck": {"TableName": "C"}},
                {"Delete": {"TableName": "D"}},
            ]
        },
    ) == [
        ("dynamodb:PutItem", f"{table}/A"),
        ("dynamodb:UpdateItem", f"{table}/B"),
        ("dynamodb:ConditionCheckItem", f"{table}/C"),
        ("dynamodb:DeleteItem", f"{table}/D"),
    ]
    assert required_permissions("dynamodb", "Query", {"TableName": "A", "IndexName": "by_org"}) == [
        ("dynamodb:Query", f"{table}/A/index/by_org")
    ]
    assert required_permissions("dynamodb", "BatchGetItem", {"RequestItems": {"A": {}, "B": {}}}) == [
        ("dynamodb:BatchGetItem", f"{table}/A"),
        ("dynamodb:BatchGetItem", f"{table}/B"),
    ]
    assert required_permissions(
        "s3", "CopyObject", {"Bucket": "b", "Key": "to", "CopySource": {"Bucket": "b", "Key": "from"}}
    ) == [("s3:GetObject", "arn:aws:s3:::b/from"), ("s3:PutObject", "arn:aws:s3:::b/to")]
    assert required_permissions("s3", "HeadObject", {"Bucket": "b", "Key": "k"}) == [
        ("s3:GetObject", "arn:aws:s3:::b/k")
    ]
    assert required_permissions(
        "apigatewaymanagementapi",
        "PostToConnection",
        {"ConnectionId": "abc=", "Data": b""},
        endpoint=f"https://WebSocketApi.execute-api.{REGION}.amazonaws.com/api",
    ) == [
        (
            "execute-api:ManageConnections",
            f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:WebSocketApi/api/POST/@connections/abc=",
        )
    ]
    assert required_permissions("eventbridge", "PutEvents", {"Entries": [{"EventBusName": "bus"}, {}]}) == [
        ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/bus"),
        ("events:PutEvents", f"arn:aws:events:{REGION}:{ACCOUNT_ID}:event-bus/default"),
    ]
    assert required_permissions("sfn", "SendTaskSuccess", {"taskToken": "t", "output": "{}"}) == [
        ("states:SendTaskSuccess", None)
    ]
    assert required_permissions("bedrock-runtime", "ConverseStream", {"modelId": "anthropic.claude"}) == [
        (
            "bedrock:InvokeModelWithResponseStream",
            f"arn:aws:bedrock:{REGION}::foundation-model/anthropic.claude",
        )
    ]
    assert required_permissions("cloudformation", "DescribeStacks", {}) is None  # unmapped: allowed


# ---------------------------------------------------------------------- the template's real policies


def test_websocket_function_may_read_api_keys_but_not_orgs(stack: DevStack) -> None:
    """The review's bug: WebSocketFunction's $connect read OrgsTable, which its role does not allow."""
    policy = stack.functions["WebSocketFunction"].policy
    assert policy is not None
    assert policy.allows("dynamodb:GetItem", API_KEYS)
    assert not policy.allows("dynamodb:GetItem", ORGS)


def test_method_not_allowed_function_may_call_nothing(stack: DevStack) -> None:
    policy = stack.functions["MethodNotAllowedFunction"].policy
    assert policy is not None
    assert not policy.allows("dynamodb:GetItem", ORGS)


def as_function(stack: DevStack, logical_id: str, handler: Callable[[Any, Any], Any]) -> LocalFunction:
    """A function with `logical_id`'s name and policy but `handler` as its code."""
    real = stack.functions[logical_id]
    return LocalFunction(logical_id, real.name, handler, 128, 3, policy=real.policy)


def get_org() -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    return client.get_item(TableName="OrgsTable", Key={"id": {"S": "org_none"}})


def get_api_key() -> Any:
    client = boto3.client("dynamodb", region_name=REGION)
    return client.get_item(TableName="ApiKeysTable", Key={"key_hash": {"S": "none"}})


def test_a_handler_call_its_policy_allows_passes(stack: DevStack) -> None:
    function = as_function(stack, "WebSocketFunction", lambda event, context: get_api_key())
    assert function.invoke({})["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_handler_call_its_policy_does_not_allow_is_denied_like_aws(stack: DevStack) -> None:
    function = as_function(stack, "WebSocketFunction", lambda event, context: get_org())
    with pytest.raises(ClientError) as raised:
        function.invoke({})
    error = raised.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert raised.value.operation_name == "GetItem"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "assumed-role/WebSocketFunctionRole/" in error["Message"]
    assert (
        f"not authorized to perform: dynamodb:GetItem on resource: {normalise_arn(ORGS)}" in error["Message"]
    )
    assert "because no identity-based policy allows the dynamodb:GetItem action" in error["Message"]


def test_s3_denial_is_access_denied_403(stack: DevStack) -> None:
    name = os.environ["FILES_BUCKET"]  # the stack set it from the template

    def read(event: Any, context: Any) -> Any:  # RunsFunction may put file objects, not read them
        return boto3.client("s3", region_name=REGION).get_object(Bucket=name, Key="org/file")

    with pytest.raises(ClientError) as raised:
        as_function(stack, "RunsFunction", read).invoke({})
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert f'on resource: "arn:aws:s3:::{name}/org/file"' in raised.value.response["Error"]["Message"]


def test_calls_outside_an_invocation_are_not_checked(stack: DevStack) -> None:
    assert get_org()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_a_thread_pool_task_of_a_handler_runs_as_the_function(stack: DevStack) -> None:
    def handler(event: Any, context: Any) -> Any:
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(get_org).result()

    with pytest.raises(ClientError, match="dynamodb:GetItem"):
        as_function(stack, "WebSocketFunction", handler).invoke({})


def test_a_streamed_body_is_produced_as_the_function(stack: DevStack) -> None:
    def chunks() -> Iterator[str]:
        yield "first"
        get_org()
        yield "never"

    real = stack.functions["WebSocketFunction"]

    def stream_handler(event: Any, context: Any) -> dict[str, Any]:
        return {"statusCode": 200, "body": chunks()}

    function = LocalFunction(
        "WebSocketFunction",
        real.name,
        stream_handler,
        128,
        3,
        stream_handler=stream_handler,
        policy=real.policy,
    )
    body = function.invoke({}, stream=True)["body"]
    assert next(body) == "first"
    with pytest.raises(ClientError, match="AccessDenied"):
        next(body)


def test_a_function_without_a_policy_is_not_checked(stack: DevStack) -> None:
    function = LocalFunction("Unchecked", "Unchecked", lambda event, context: get_org(), 128, 3)
    assert function.invoke({})["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_an_org_key_on_an_admin_route_is_counted(api: ApiClient) -> None:
    """AdminFunction counts an org's request (every org request is) before answering 403: its role
    must allow the counter's UpdateItem, or in AWS the limiter fails open (uncounted, degraded)."""
    first = api.post("/v1/admin/orgs", json={"name": "nope"})
    second = api.post("/v1/admin/orgs", json={"name": "nope"})
    assert first.status == second.status == 403
    assert int(second.headers["RateLimit-Remaining"]) < int(first.headers["RateLimit-Remaining"])


def test_a_call_local_iam_cannot_map_is_denied(stack: DevStack) -> None:
    """Fail closed: an AWS call nobody mapped to IAM (here SQS ListQueues) must not pass locally just
    because it is unknown here, or a missing grant shows up only when deployed."""

    def handler(event: Any, context: Any) -> Any:
        return boto3.client("sqs", region_name=REGION).list_queues()

    with pytest.raises(ClientError) as raised:
        as_function(stack, "RunStepFunction", handler).invoke({})
    assert raised.value.response["Error"]["Code"] == "AccessDenied"
    assert "local IAM cannot map sqs.ListQueues" in raised.value.response["Error"]["Message"]
    assert ("sqs", "ListQueues") in iam.UNMAPPED


def test_ssm_calls_map_to_parameter_arns() -> None:
    assert required_permissions("ssm", "GetParameter", {"Name": "/runs-api/org_1/key"}) == [
        ("ssm:GetParameter", f"arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter/runs-api/org_1/key")
    ]


def test_run_step_may_read_model_keys_in_ssm_under_the_secret_prefix(stack: DevStack) -> None:
    """README: an openai model's key may be an SSM parameter under runs-api/<org id>/ (logic/agents.py
    accepts /runs-api/<org>/… names); RunStepFunction's role must be able to read it, and nothing else."""
    from runs_core.providers.openai import lookup_secret

    ssm = boto3.client("ssm", region_name=REGION)
    ssm.put_parameter(Name="/runs-api/org_ssm/openai", Value="sk-test", Type="SecureString", Overwrite=True)
    ssm.put_parameter(Name="/elsewhere/openai", Value="sk-other", Type="SecureString", Overwrite=True)

    def read(name: str) -> Callable[[Any, Any], Any]:
        return lambda event, context: lookup_secret(name)

    assert as_function(stack, "RunStepFunction", read("/runs-api/org_ssm/openai")).invoke({}) == "sk-test"
    with pytest.raises(Exception, match="ssm:GetParameter"):
        as_function(stack, "RunStepFunction", read("/elsewhere/openai")).invoke({})

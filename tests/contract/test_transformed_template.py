"""What CloudFormation receives: template.yaml through the SAM transform (offline), checked for what SAM adds
on its own: stages, Lambda permissions, environment variables."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.contract.sam_transform import transformed_template


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transformed_template()


def _of_type(transformed: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {name: res for name, res in transformed["Resources"].items() if res["Type"] == type_}


def test_the_rest_api_has_one_stage_the_configured_one(transformed: dict[str, Any]) -> None:
    """SAM's default (no OpenApiVersion) gives the Deployment `StageName: Stage`: a second stage, reachable as
    /Stage/v1/..., without the real stage's throttling, tracing or logging."""
    stages = _of_type(transformed, "AWS::ApiGateway::Stage")
    assert {name: res["Properties"]["StageName"] for name, res in stages.items()} == {
        "RunsApiStage": {"Ref": "StageName"}
    }
    for name, deployment in _of_type(transformed, "AWS::ApiGateway::Deployment").items():
        assert "StageName" not in deployment["Properties"], f"{name} makes a stage of its own"


def _functions(transformed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _of_type(transformed, "AWS::Lambda::Function")


def _role_statements(transformed: dict[str, Any], function: dict[str, Any]) -> list[dict[str, Any]]:
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    return [
        statement
        for policy in transformed["Resources"][role]["Properties"].get("Policies") or []
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def test_no_secret_value_is_resolved_into_an_environment(transformed: dict[str, Any]) -> None:
    """A `{{resolve:secretsmanager:…}}` in Environment puts the secret in plain text in every function's
    configuration (console, GetFunctionConfiguration, CloudFormation): pass the ARN, read it at run time."""
    for name, function in _functions(transformed).items():
        variables = (function["Properties"].get("Environment") or {}).get("Variables") or {}
        for variable, value in variables.items():
            assert "{{resolve:" not in str(value), f"{name}.{variable} resolves a secret into its environment"


def test_functions_that_page_read_the_cursor_secret_by_arn(transformed: dict[str, Any]) -> None:
    paging = {"AgentsFunction", "RunsFunction", "ThreadsFunction", "AccountFunction"}
    functions = _functions(transformed)
    for name in paging:
        variables = functions[name]["Properties"]["Environment"]["Variables"]
        assert variables["CURSOR_SECRET_ARN"] == {"Ref": "CursorSigningSecret"}, name
        assert any(
            "secretsmanager:GetSecretValue" in statement["Action"]
            and statement["Resource"] == {"Ref": "CursorSigningSecret"}
            for statement in _role_statements(transformed, functions[name])
        ), f"{name} may not read CursorSigningSecret"


def test_no_secret_has_a_fixed_name(transformed: dict[str, Any]) -> None:
    """A deleted secret keeps its name through its recovery window: a fixed Name makes a stack deleted and
    created again under the same name fail. Generated names; functions read secrets by ARN."""
    for name, secret in _of_type(transformed, "AWS::SecretsManager::Secret").items():
        assert "Name" not in secret["Properties"], f"{name} has a fixed Name"
    run_step = _functions(transformed)["RunStepFunction"]
    assert run_step["Properties"]["Environment"]["Variables"]["WEBHOOK_SECRET_ARN"] == {
        "Ref": "WebhookSigningSecret"
    }
    assert any(
        statement["Resource"] == {"Ref": "WebhookSigningSecret"}
        and "secretsmanager:GetSecretValue" in statement["Action"]
        for statement in _role_statements(transformed, run_step)
    )


def test_the_async_upload_function_has_a_failure_destination(transformed: dict[str, Any]) -> None:
    configs = [
        res["Properties"]
        for res in _of_type(transformed, "AWS::Lambda::EventInvokeConfig").values()
        if res["Properties"]["FunctionName"] == {"Ref": "FileUploadedFunction"}
    ]
    assert len(configs) == 1
    destination = configs[0]["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["FileUploadedDeadLetterQueue", "Arn"]}
    statements = _role_statements(transformed, _functions(transformed)["FileUploadedFunction"])
    assert any("sqs:SendMessage" in s["Action"] and s["Resource"] == destination for s in statements)
    alarms = _of_type(transformed, "AWS::CloudWatch::Alarm").values()
    watched = [a["Properties"].get("Dimensions", [{}])[0].get("Value") for a in alarms]
    assert {"Fn::GetAtt": ["FileUploadedDeadLetterQueue", "QueueName"]} in watched


def test_both_apis_log_access_and_the_state_machine_logs(transformed: dict[str, Any]) -> None:
    (rest_stage,) = _of_type(transformed, "AWS::ApiGateway::Stage").values()
    assert rest_stage["Properties"]["AccessLogSetting"]["DestinationArn"] == {
        "Fn::GetAtt": ["RunsApiAccessLogs", "Arn"]
    }
    (ws_stage,) = _of_type(transformed, "AWS::ApiGatewayV2::Stage").values()
    assert ws_stage["Properties"]["AccessLogSettings"]["DestinationArn"] == {
        "Fn::GetAtt": ["WebSocketAccessLogs", "Arn"]
    }
    for stage in (rest_stage, ws_stage):
        settings = stage["Properties"].get("AccessLogSetting") or stage["Properties"]["AccessLogSettings"]
        assert "$context.requestId" in settings["Format"]
    (machine,) = _of_type(transformed, "AWS::StepFunctions::StateMachine").values()
    logging = machine["Properties"]["LoggingConfiguration"]
    assert logging["Level"] in ("ERROR", "ALL")
    assert logging["Destinations"][0]["CloudWatchLogsLogGroup"]["LogGroupArn"] == {
        "Fn::GetAtt": ["RunStateMachineLogs", "Arn"]
    }


def test_execution_ends_reach_a_function_and_timeouts_alarm(transformed: dict[str, Any]) -> None:
    """A run can outlive its execution (timed out, aborted, failed outside the Catch): an EventBridge rule
    on the state machine's status changes invokes ExecutionEndedFunction, and timed-out executions alarm."""
    rules = [
        res["Properties"]
        for res in _of_type(transformed, "AWS::Events::Rule").values()
        if res["Properties"].get("EventPattern", {}).get("source") == ["aws.states"]
    ]
    assert len(rules) == 1
    pattern = rules[0]["EventPattern"]
    assert set(pattern["detail"]["status"]) == {"FAILED", "TIMED_OUT", "ABORTED"}
    assert pattern["detail"]["stateMachineArn"] == [{"Ref": "RunStateMachine"}]
    (target,) = rules[0]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["ExecutionEndedFunction", "Arn"]}
    assert "DeadLetterConfig" in target
    alarms = [a["Properties"] for a in _of_type(transformed, "AWS::CloudWatch::Alarm").values()]
    assert any(
        a.get("MetricName") == "ExecutionsTimedOut"
        and a["Dimensions"][0]["Value"] == {"Ref": "RunStateMachine"}
        for a in alarms
    )


def test_invoke_permissions_name_their_source(transformed: dict[str, Any]) -> None:
    """Every Lambda permission SAM or the template makes is for this stack's APIs, bucket or rules: API
    Gateway's name one of the stack's APIs, S3's the account and the files bucket (which SAM's S3 event
    cannot name: the bucket's notification is explicit, with its own permission)."""
    permissions = _of_type(transformed, "AWS::Lambda::Permission")
    assert permissions
    for name, permission in permissions.items():
        properties = permission["Properties"]
        source = json.dumps(properties.get("SourceArn"))
        match properties["Principal"]:
            case "apigateway.amazonaws.com":
                assert '"RunsApi"' in source or "${RunsApi}" in source or "${WebSocketApi}" in source, name
            case "s3.amazonaws.com":  # the account, and the bucket (by name: the bucket depends on it)
                assert properties["SourceAccount"] == {"Ref": "AWS::AccountId"}, name
                assert ":s3:::runs-api-files-${Suffix}" in source, name
            case "events.amazonaws.com":
                assert "Fn::GetAtt" in source, name
            case other:
                raise AssertionError(f"{name}: unexpected principal {other}")


# A Lambda function's resource policy holds at most 20 KB; SAM adds one statement per Api event.
POLICY_LIMIT_BYTES = 20 * 1024
STATEMENT_BYTES = 400  # one apigateway.amazonaws.com statement, as Lambda stores it (measured ~350)


def test_method_not_allowed_has_one_wildcard_permission(transformed: dict[str, Any]) -> None:
    """Its catch-all ANY routes are in RunsApi's DefinitionBody (merged with the Api events), so SAM makes
    no permission per route (35 of them took ~14 KB of the 20 KB policy): one for all of RunsApi's paths."""
    permissions = [
        res["Properties"]
        for res in _of_type(transformed, "AWS::Lambda::Permission").values()
        if res["Properties"]["FunctionName"] == {"Ref": "MethodNotAllowedFunction"}
    ]
    assert len(permissions) == 1, f"{len(permissions)} permissions"
    assert permissions[0]["SourceArn"]["Fn::Sub"].endswith(":${RunsApi}/*/*/*")
    body = transformed["Resources"]["RunsApi"]["Properties"]["Body"]
    for path, methods in body["paths"].items():
        any_method = methods["x-amazon-apigateway-any-method"]
        assert (
            "${MethodNotAllowedFunction.Arn}"
            in any_method["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"]
        )
        assert any_method["security"] == next(
            m["security"] for k, m in methods.items() if k != "x-amazon-apigateway-any-method"
        ), path
        assert len(methods) > 1, f"{path}: only the catch-all (the Api events were not merged)"


def test_every_function_policy_stays_well_under_lambdas_limit(transformed: dict[str, Any]) -> None:
    counts: dict[str, int] = {}
    for res in _of_type(transformed, "AWS::Lambda::Permission").values():
        function = json.dumps(res["Properties"]["FunctionName"])
        counts[function] = counts.get(function, 0) + 1
    for function, count in counts.items():
        assert count * STATEMENT_BYTES < POLICY_LIMIT_BYTES / 2, f"{function}: {count} permissions"


def test_the_files_bucket_notifies_the_upload_function_once_allowed(transformed: dict[str, Any]) -> None:
    bucket = transformed["Resources"]["FilesBucket"]
    (configuration,) = bucket["Properties"]["NotificationConfiguration"]["LambdaConfigurations"]
    assert configuration["Function"] == {"Fn::GetAtt": ["FileUploadedFunction", "Arn"]}
    assert configuration["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": "pending/"}]
    permissions = [
        name
        for name, res in _of_type(transformed, "AWS::Lambda::Permission").items()
        if res["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert permissions == ["FileUploadedInvokePermission"]
    assert bucket["DependsOn"] in ("FileUploadedInvokePermission", ["FileUploadedInvokePermission"])

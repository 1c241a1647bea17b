"""IAM for the local stack: each function's AWS calls are checked against its template policy.

moto does not enforce IAM, so a handler calling an API its role does not allow would pass every local
test and fail only when deployed. So while a function's handler runs (devstack.lambdas.LocalFunction.invoke,
and while its streamed body is produced), the function is this thread's *principal*, and every botocore
call the thread makes is checked first (`install()` wraps botocore's BaseClient._make_api_call, so every
client is covered whenever it was made): the call is mapped to the IAM action(s) and resource ARN(s) AWS
would authorize (`required_permissions`) and evaluated against the function's statements — its template
`Policies` (explicit statements; Globals merged) plus what SAM adds to the role itself (logs; X-Ray
writes with `Tracing: Active`; stream reads for a DynamoDB event). An explicit Deny wins, then an
Allow; `*` and `?` match as in IAM (actions case-insensitively, resources case-sensitively). A call that
is not allowed raises the service's ClientError (AccessDeniedException, or AccessDenied for S3/SQS) with
an AWS-like message naming the function, the action and the resource, before it reaches moto.

Not checked: calls made outside a function's invocation (the stack's own pollers, test setup, moto's
internals — while a call is inside botocore the thread has no principal, so whatever AWS itself does
for it, e.g. invoking another local function, is not charged to the caller); threads a handler starts
itself (except through concurrent.futures.ThreadPoolExecutor, e.g. boto3's managed S3 copy, which
carries the principal); Conditions (none in the template's function policies; one would be logged and
ignored); NotAction/NotResource; resource policies and permission boundaries. A call inside a function that
`required_permissions` cannot map fails closed: it is denied like a missing permission (and collected in
`UNMAPPED`), so a new AWS call cannot pass locally and fail deployed; map it here. Account ids are
normalised (`normalise_arn`): the template's ARNs name the emulator's account or moto's, a deployed
stack has one.
"""

import concurrent.futures
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import unquote, urlsplit

from devstack.once import installs_once
from devstack.template import ACCOUNT_ID, MOTO_ACCOUNT_ID, REGION, Template, Unresolvable

log = logging.getLogger("devstack.iam")

# (service id, operation) pairs seen inside a function that `required_permissions` could not map (denied).
UNMAPPED: set[tuple[str, str]] = set()
# Every denial's message, in order (tests assert none happened: code that fails open, e.g. the rate
# limiter on an unavailable counter table, would otherwise swallow the AccessDenied).
DENIALS: list[str] = []


# ---------------------------------------------------------------------- policies


def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@lru_cache(maxsize=4096)
def _action_pattern(pattern: str) -> re.Pattern[str]:
    return _wildcard(pattern, ignore_case=True)  # IAM action names are case-insensitive


@lru_cache(maxsize=4096)
def _resource_pattern(pattern: str) -> re.Pattern[str]:
    return _wildcard(normalise_arn(pattern), ignore_case=False)


def normalise_arn(arn: str) -> str:
    """The same ARN with the emulator's account id whether it names the emulator's or moto's account
    (locally `${AWS::AccountId}` is 000000000000 while resources living in moto report 123456789012)."""
    if not arn.startswith("arn:"):
        return arn
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[4] in (ACCOUNT_ID, MOTO_ACCOUNT_ID):
        parts[4] = ACCOUNT_ID
        return ":".join(parts)
    return arn


@dataclass(frozen=True)
class Statement:
    effect: str  # "Allow" | "Deny"
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    sid: str | None = None

    def matches(self, action: str, resource: str | None) -> bool:
        """Whether this statement covers `action` on `resource` (None: a call without a resource ARN,
        e.g. SendTaskSuccess with a task token, which matches on the action alone)."""
        if not any(_action_pattern(pattern).fullmatch(action) for pattern in self.actions):
            return False
        if resource is None:
            return True
        resource = normalise_arn(resource)
        return any(_resource_pattern(pattern).fullmatch(resource) for pattern in self.resources)


class Decision(NamedTuple):
    allowed: bool
    explicit_deny: bool = False


DECISIONS = 4096  # decisions a policy remembers (a call's resources are few, except e.g. S3 object keys)


@dataclass(frozen=True)
class Policy:
    """A role's statements. Immutable (a frozen dataclass of tuples of frozen statements), so the
    decision for an (action, resource) pair never changes: each is remembered (up to DECISIONS; then
    forgotten all at once and remembered anew). Every AWS call a handler makes is checked, and
    matching each statement's wildcards was ~2% of a soak run's CPU (bench.soak, py-spy --gil)."""

    statements: tuple[Statement, ...]
    _decisions: dict[tuple[str, str | None], Decision] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def evaluate(self, action: str, resource: str | None) -> Decision:
        """IAM's order: an explicit Deny wins, then any Allow, else an implicit deny."""
        key = (action, resource)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._evaluate(action, resource)
            if len(self._decisions) >= DECISIONS:
                self._decisions.clear()
            self._decisions[key] = decision
        return decision

    def _evaluate(self, action: str, resource: str | None) -> Decision:
        matching = [statement for statement in self.statements if statement.matches(action, resource)]
        if any(statement.effect == "Deny" for statement in matching):
            return Decision(False, explicit_deny=True)
        return Decision(any(statement.effect == "Allow" for statement in matching))

    def allows(self, action: str, resource: str | None) -> bool:
        return self.evaluate(action, resource).allowed


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(item) for item in (value if isinstance(value, list) else [value]))


def _statements_of(template: Template, owner: str, document: Mapping[str, Any]) -> list[Statement]:
    raw = document.get("Statement") or []
    statements = []
    for entry in raw if isinstance(raw, list) else [raw]:
        sid = entry.get("Sid")
        if "NotAction" in entry or "NotResource" in entry:
            raise ValueError(
                f"{owner} statement {sid or '?'}: NotAction/NotResource are not supported locally"
            )
        if "Condition" in entry:
            log.warning("%s statement %s: its Condition is ignored locally", owner, sid or "?")
        resources = []
        for resource in (
            entry.get("Resource") if isinstance(entry.get("Resource"), list) else [entry.get("Resource")]
        ):
            try:
                resolved = template.resolve(resource)
            except Unresolvable as error:
                # A secret's ARN exists only when deployed; locally nothing has it, so it matches nothing.
                log.debug(
                    "%s statement %s: resource %r matches nothing locally (%s)", owner, sid, resource, error
                )
                continue
            resources.extend(_strings(resolved))
        statements.append(Statement(str(entry["Effect"]), _strings(entry["Action"]), tuple(resources), sid))
    return statements


# What SAM attaches to every function's role besides its Policies.
_BASIC_EXECUTION = Statement(
    "Allow", ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"), ("*",)
)
_XRAY_WRITE = Statement(
    "Allow",
    (
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    ),
    ("*",),
)
_DYNAMODB_STREAM_READ = Statement(
    "Allow",
    ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"),
    ("*",),
)


def function_policy(template: Template, logical_id: str) -> Policy:
    """The statements of a function's execution role: its template Policies (explicit statements;
    anything else — a managed policy name, a SAM policy template — is logged and grants nothing here),
    plus the managed policies SAM adds (basic execution; X-Ray write with Tracing: Active; DynamoDB
    stream reads when it has a DynamoDB event)."""
    properties = template.function_properties(logical_id)
    statements = [_BASIC_EXECUTION]
    if properties.get("Tracing") == "Active":
        statements.append(_XRAY_WRITE)
    if any((event or {}).get("Type") == "DynamoDB" for event in (properties.get("Events") or {}).values()):
        statements.append(_DYNAMODB_STREAM_READ)
    policies = properties.get("Policies") or []
    for policy in policies if isinstance(policies, list) else [policies]:
        if isinstance(policy, dict) and "Statement" in policy:
            statements.extend(_statements_of(template, logical_id, policy))
        else:
            log.warning(
                "%s: policy %r is not an explicit statement; it grants nothing locally", logical_id, policy
            )
    return Policy(tuple(statements))


# ---------------------------------------------------------------------- the thread's principal


class Principal(NamedTuple):
    """The function whose handler is running on a thread."""

    logical_id: str
    function_name: str
    policy: Policy

    @property
    def role_session_arn(self) -> str:
        return f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{self.logical_id}Role/{self.function_name}"


_state = threading.local()


def current_principal() -> Principal | None:
    return getattr(_state, "principal", None)


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Run the block with `principal` as this thread's principal (None: unchecked), then restore."""
    saved = current_principal()
    _state.principal = principal
    try:
        yield
    finally:
        _state.principal = saved


# ---------------------------------------------------------------------- calls → permissions

Permission = tuple[str, str | None]  # (action, resource ARN; None: the action on no particular resource)


def _table_arn(table: str, region: str) -> str:
    return table if table.startswith("arn:") else f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{table}"


_DYNAMODB_TRANSACT = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}


def _dynamodb(operation: str, params: Mapping[str, Any], region: str) -> list[Permission] | None:
    if operation in ("BatchGetItem", "BatchWriteItem"):
        return [(f"dynamodb:{operation}", _table_arn(t, region)) for t in params.get("RequestItems") or {}]
    if operation == "TransactWriteItems":
        permissions: list[Permission] = []
        for item in params.get("TransactItems") or []:
            for kind, request in item.items():
                if kind in _DYNAMODB_TRANSACT:
                    permissions.append(
                        (f"dynamodb:{_DYNAMODB_TRANSACT[kind]}", _table_arn(request["TableName"], region))
                    )
        return permissions
    if operation == "TransactGetItems":
        return [
            ("dynamodb:GetItem", _table_arn(item["Get"]["TableName"], region))
            for item in params.get("TransactItems") or []
            if "Get" in item
        ]
    table = params.get("TableName")
    if not isinstance(table, str):
        return None  # ListTables, DescribeLimits, …: not used by the handlers
    arn = _table_arn(table, region)
    if operation in ("Query", "Scan") and params.get("IndexName"):
        arn = f"{arn}/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", arn)]


def _object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _copy_source(source: Any) -> str | None:
    if isinstance(source, Mapping):
        return _object_arn(str(source["Bucket"]), str(source["Key"]))
    if isinstance(source, str):
        path = unquote(source.split("?", 1)[0]).lstrip("/")
        bucket, _, key = path.partition("/")
        return _object_arn(bucket, key) if key else None
    return None


_S3_OBJECT_ACTIONS = {
    "GetObject": "s3:GetObject",
    "HeadObject": "s3:GetObject",
    "PutObject": "s3:PutObject",
    "CreateMultipartUpload": "s3:PutObject",
    "UploadPart": "s3:PutObject",
    "CompleteMultipartUpload": "s3:PutObject",
    "AbortMultipartUpload": "s3:AbortMultipartUpload",
    "ListParts": "s3:ListMultipartUploadParts",
    "DeleteObject": "s3:DeleteObject",
    "GetObjectTagging": "s3:GetObjectTagging",
    "PutObjectTagging": "s3:PutObjectTagging",
}
_S3_BUCKET_ACTIONS = {
    "ListObjectsV2": "s3:ListBucket",
    "ListObjects": "s3:ListBucket",
    "HeadBucket": "s3:ListBucket",
    "ListMultipartUploads": "s3:ListBucketMultipartUploads",
}


def _s3(operation: str, params: Mapping[str, Any]) -> list[Permission] | None:
    bucket = params.get("Bucket")
    if not isinstance(bucket, str):
        return None
    if operation in _S3_BUCKET_ACTIONS:
        return [(_S3_BUCKET_ACTIONS[operation], f"arn:aws:s3:::{bucket}")]
    if operation == "DeleteObjects":
        objects = (params.get("Delete") or {}).get("Objects") or []
        return [("s3:DeleteObject", _object_arn(bucket, str(item["Key"]))) for item in objects]
    if operation in ("CopyObject", "UploadPartCopy"):
        source = _copy_source(params.get("CopySource"))
        if source is None:
            return None
        return [("s3:GetObject", source), ("s3:PutObject", _object_arn(bucket, str(params["Key"])))]
    if operation in _S3_OBJECT_ACTIONS and "Key" in params:
        return [(_S3_OBJECT_ACTIONS[operation], _object_arn(bucket, str(params["Key"])))]
    return None


_SFN_RESOURCE = {
    "StartExecution": "stateMachineArn",
    "StartSyncExecution": "stateMachineArn",
    "DescribeStateMachine": "stateMachineArn",
    "ListExecutions": "stateMachineArn",
    "StopExecution": "executionArn",
    "DescribeExecution": "executionArn",
    "GetExecutionHistory": "executionArn",
}


def _sfn(operation: str, params: Mapping[str, Any]) -> list[Permission] | None:
    if operation in ("SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat"):
        # A task token names no resource in the request; allowed if a statement allows the action at all.
        return [(f"states:{operation}", None)]
    name = _SFN_RESOURCE.get(operation)
    if name is None or not isinstance(params.get(name), str):
        return None
    return [(f"states:{operation}", str(params[name]))]


def _events(operation: str, params: Mapping[str, Any], region: str) -> list[Permission] | None:
    if operation != "PutEvents":
        return None
    permissions: list[Permission] = []
    for entry in params.get("Entries") or []:
        bus = str(entry.get("EventBusName") or "default")
        arn = bus if bus.startswith("arn:") else f"arn:aws:events:{region}:{ACCOUNT_ID}:event-bus/{bus}"
        permissions.append(("events:PutEvents", arn))
    return permissions


def _queue_arn(url: str, region: str) -> str | None:
    parts = urlsplit(url).path.strip("/").split("/")
    if len(parts) < 2:
        return None
    host_region = urlsplit(url).hostname or ""
    match = re.match(r"sqs\.([a-z0-9-]+)\.amazonaws\.com", host_region)
    return f"arn:aws:sqs:{match.group(1) if match else region}:{parts[-2]}:{parts[-1]}"


_SQS_ACTIONS = {
    "SendMessage": "sqs:SendMessage",
    "SendMessageBatch": "sqs:SendMessage",
    "ReceiveMessage": "sqs:ReceiveMessage",
    "DeleteMessage": "sqs:DeleteMessage",
    "DeleteMessageBatch": "sqs:DeleteMessage",
    "GetQueueAttributes": "sqs:GetQueueAttributes",
}


def _sqs(operation: str, params: Mapping[str, Any], region: str) -> list[Permission] | None:
    if operation == "GetQueueUrl":
        name = params.get("QueueName")
        return [("sqs:GetQueueUrl", f"arn:aws:sqs:{region}:{ACCOUNT_ID}:{name}")] if name else None
    url = params.get("QueueUrl")
    arn = _queue_arn(url, region) if isinstance(url, str) else None
    if operation not in _SQS_ACTIONS or arn is None:
        return None
    return [(_SQS_ACTIONS[operation], arn)]


def _lambda(operation: str, params: Mapping[str, Any], region: str) -> list[Permission] | None:
    if operation not in ("Invoke", "InvokeWithResponseStream", "InvokeAsync"):
        return None
    name = str(params.get("FunctionName") or "")
    if not name:
        return None
    if name.startswith("arn:"):
        arn = name
    elif name.count(":") >= 2:  # <account>:function:<name>[:qualifier]
        arn = f"arn:aws:lambda:{region}:{name}"
    else:
        arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"
    qualifier = params.get("Qualifier")
    if qualifier and arn.count(":") == 6:
        arn = f"{arn}:{qualifier}"
    return [("lambda:InvokeFunction", arn)]


def _secrets(operation: str, params: Mapping[str, Any], region: str) -> list[Permission] | None:
    if operation not in ("GetSecretValue", "DescribeSecret"):
        return None
    secret = str(params.get("SecretId") or "")
    if not secret:
        return None
    arn = (
        secret
        if secret.startswith("arn:")
        else f"arn:aws:secretsmanager:{region}:{ACCOUNT_ID}:secret:{secret}"
    )
    return [(f"secretsmanager:{operation}", arn)]


def _ssm(operation: str, params: Mapping[str, Any], region: str) -> list[Permission] | None:
    if operation not in ("GetParameter", "GetParameters"):
        return None
    names = [params.get("Name")] if operation == "GetParameter" else list(params.get("Names") or [])
    if not names or not all(names):
        return None
    arns = []
    for name in map(str, names):
        if name.startswith("arn:"):
            arns.append(name)
        else:  # the ARN of /a/b is …:parameter/a/b (one slash)
            arns.append(f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter/{name.lstrip('/')}")
    return [(f"ssm:{operation}", arn) for arn in arns]


_CONNECTION_METHODS = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}


def _management_api(
    operation: str, params: Mapping[str, Any], endpoint: str | None
) -> list[Permission] | None:
    method = _CONNECTION_METHODS.get(operation)
    if method is None or not endpoint:
        return None
    url = urlsplit(endpoint)
    host = url.netloc.rsplit("@", 1)[-1].split(":", 1)[0]  # not .hostname: it lower-cases the API id
    match = re.match(r"([^.]+)\.execute-api\.([a-z0-9-]+)\.", host)
    stage = url.path.strip("/").split("/")[0]
    if match is None or not stage:
        return None
    api_id, region = match.groups()
    connection = params.get("ConnectionId")
    resource = (
        f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{api_id}/{stage}/{method}/@connections/{connection}"
    )
    return [("execute-api:ManageConnections", resource)]


_INFERENCE_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global.")


def _bedrock(operation: str, params: Mapping[str, Any], region: str) -> list[Permission] | None:
    actions = {
        "InvokeModel": "bedrock:InvokeModel",
        "Converse": "bedrock:InvokeModel",
        "InvokeModelWithResponseStream": "bedrock:InvokeModelWithResponseStream",
        "ConverseStream": "bedrock:InvokeModelWithResponseStream",
    }
    model = str(params.get("modelId") or "")
    if operation not in actions or not model:
        return None
    if model.startswith("arn:"):
        arn = model
    elif model.startswith(_INFERENCE_PROFILE_PREFIXES):
        arn = f"arn:aws:bedrock:{region}:{ACCOUNT_ID}:inference-profile/{model}"
    else:
        arn = f"arn:aws:bedrock:{region}::foundation-model/{model}"
    return [(actions[operation], arn)]


def required_permissions(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    *,
    region: str = REGION,
    endpoint: str | None = None,
) -> list[Permission] | None:
    """The (IAM action, resource ARN) pairs AWS authorizes for one call; None if it cannot be mapped.

    `service` is botocore's hyphenized service id ("dynamodb", "s3", "sfn", "secrets-manager", …),
    `operation` the API operation ("GetItem"), `params` the call's parameters, `endpoint` the client's
    endpoint URL (the Management API's names the API and stage).
    """
    if service == "dynamodb":
        return _dynamodb(operation, params, region)
    if service == "s3":
        return _s3(operation, params)
    if service == "sfn":
        return _sfn(operation, params)
    if service == "eventbridge":
        return _events(operation, params, region)
    if service == "sqs":
        return _sqs(operation, params, region)
    if service == "lambda":
        return _lambda(operation, params, region)
    if service == "secrets-manager":
        return _secrets(operation, params, region)
    if service == "ssm":
        return _ssm(operation, params, region)
    if service == "apigatewaymanagementapi":
        return _management_api(operation, params, endpoint)
    if service == "bedrock-runtime":
        return _bedrock(operation, params, region)
    if service == "cloudwatch-logs" and operation in ("CreateLogGroup", "CreateLogStream", "PutLogEvents"):
        return [(f"logs:{operation}", None)]
    if service == "xray" and operation in (
        "PutTraceSegments",
        "PutTelemetryRecords",
        "GetSamplingRules",
        "GetSamplingTargets",
    ):
        return [(f"xray:{operation}", None)]
    return None


# ---------------------------------------------------------------------- denial


# Services whose access-denied error code is AccessDenied (with HTTP 403); the rest say AccessDeniedException.
_ACCESS_DENIED_CODE = {
    "s3": "AccessDenied",
    "sqs": "AccessDenied",
    "apigatewaymanagementapi": "ForbiddenException",
}
_FORBIDDEN_STATUS = {"s3", "sqs", "lambda", "apigatewaymanagementapi", "bedrock-runtime"}


def denial(
    principal: Principal, service: str, action: str, resource: str | None, explicit: bool
) -> dict[str, Any]:
    """The error response AWS gives a role that may not do `action` on `resource`."""
    reason = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {action} action"
    )
    target = resource if resource is not None else "*"
    if service == "s3":
        target = f'"{target}"'
    message = (
        f"User: {principal.role_session_arn} is not authorized to perform: {action} "
        f"on resource: {target} {reason}"
    )
    request_id = str(uuid.uuid4())
    return {
        "Error": {"Code": _ACCESS_DENIED_CODE.get(service, "AccessDeniedException"), "Message": message},
        "ResponseMetadata": {
            "RequestId": request_id,
            "HTTPStatusCode": 403 if service in _FORBIDDEN_STATUS else 400,
            "HTTPHeaders": {"x-amzn-requestid": request_id},
            "RetryAttempts": 0,
        },
    }


def unmapped(principal: Principal, service: str, operation: str) -> dict[str, Any]:
    """The error for a call local IAM cannot map to an action and resource: denied (fail closed)."""
    UNMAPPED.add((service, operation))
    log.warning("local IAM: %s.%s is not mapped to IAM (devstack/iam.py); denied", service, operation)
    error = denial(principal, service, f"{service}:{operation}", None, False)
    error["Error"]["Message"] += (
        f" (local IAM cannot map {service}.{operation} to an IAM action and resource, so it denies it:"
        " map it in devstack/iam.py required_permissions)"
    )
    DENIALS.append(str(error["Error"]["Message"]))
    return error


def check(
    principal: Principal, service: str, operation: str, permissions: list[Permission]
) -> dict[str, Any] | None:
    """The error response for the first permission the principal lacks, else None."""
    for action, resource in permissions:
        decision = principal.policy.evaluate(action, resource)
        if not decision.allowed:
            log.warning(
                "local IAM: %s may not %s on %s (%s.%s)",
                principal.logical_id,
                action,
                resource if resource is not None else "*",
                service,
                operation,
            )
            error = denial(principal, service, action, resource, decision.explicit_deny)
            DENIALS.append(str(error["Error"]["Message"]))
            return error
    return None


# ---------------------------------------------------------------------- installation


@installs_once
def install() -> None:
    """Check every botocore call a principal's thread makes (BaseClient._make_api_call), and carry the
    principal into ThreadPoolExecutor tasks submitted on it. Idempotent."""
    from botocore.client import BaseClient

    make_api_call = BaseClient._make_api_call

    def checked_make_api_call(self: BaseClient, operation_name: str, api_params: dict[str, Any]) -> Any:
        principal = current_principal()
        if principal is None:
            return make_api_call(self, operation_name, api_params)
        service = self.meta.service_model.service_id.hyphenize()
        permissions = required_permissions(
            service,
            operation_name,
            api_params,
            region=self.meta.region_name or REGION,
            endpoint=self.meta.endpoint_url,
        )
        error = (
            unmapped(principal, service, operation_name)
            if permissions is None
            else check(principal, service, operation_name, permissions)
        )
        if error is not None:
            raise self.exceptions.from_code(error["Error"]["Code"])(error, operation_name)
        with acting_as(
            None
        ):  # what AWS does for the call (moto, a local function it invokes) is not the caller's
            return make_api_call(self, operation_name, api_params)

    BaseClient._make_api_call = checked_make_api_call  # type: ignore[method-assign]

    submit = concurrent.futures.ThreadPoolExecutor.submit

    def submit_as_principal(
        self: concurrent.futures.ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> concurrent.futures.Future[Any]:
        principal = current_principal()
        if principal is None:
            return submit(self, fn, *args, **kwargs)

        def as_principal(*a: Any, **k: Any) -> Any:
            with acting_as(principal):
                return fn(*a, **k)

        return submit(self, as_principal, *args, **kwargs)

    concurrent.futures.ThreadPoolExecutor.submit = submit_as_principal  # type: ignore[method-assign]

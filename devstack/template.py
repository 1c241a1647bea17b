"""template.yaml as the local stack reads it: resources by type, SAM Globals, and intrinsic functions.

Locally every resource's *name* is its logical id (`!Ref RunsTable` → "RunsTable"), unless the template
names it (a function's FunctionName, a state machine's Name); parameters take their Default; the stack
is called STACK_NAME. `!Ref` of a state machine is its ARN, as in CloudFormation. Values that only exist
in a deployed stack (Secrets Manager secrets, dynamic references) raise `Unresolvable` so the caller
decides what the local process supplies instead.
"""

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

from samtranslator.yaml_helper import yaml_parse

REGION = "us-east-1"
# API Gateway / Lambda ARNs the emulator makes up (the methodArn an authorizer sees, function ARNs).
ACCOUNT_ID = "000000000000"
# moto's account: ARNs of resources that live in moto (tables, streams) must agree with what moto reports.
MOTO_ACCOUNT_ID = "123456789012"
STACK_NAME = "runs-api-local"

PSEUDO_PARAMETERS: dict[str, str] = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::StackName": STACK_NAME,
    # A stack id ends in a UUID; templates slice it (Fn::Split/Fn::Select) for unique lower-case names.
    "AWS::StackId": (
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/00000000-0000-0000-0000-000000000000"
    ),
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
}

# Resource types whose value exists only in AWS; a reference to one cannot be resolved locally.
SECRET_TYPES = frozenset({"AWS::SecretsManager::Secret"})
TABLE_TYPES = frozenset({"AWS::DynamoDB::Table", "AWS::Serverless::SimpleTable"})
FUNCTION_TYPE = "AWS::Serverless::Function"
STATE_MACHINE_TYPES = frozenset({"AWS::Serverless::StateMachine", "AWS::StepFunctions::StateMachine"})
EVENT_BUS_TYPE = "AWS::Events::EventBus"
QUEUE_TYPE = "AWS::SQS::Queue"
BUCKET_TYPE = "AWS::S3::Bucket"

_SUB_VARIABLE = re.compile(r"\$\{([^}]+)\}")


def load_template(path: str | Path) -> dict[str, Any]:
    """The template as SAM reads it: short-form tags in their long form (`!Ref X` → {"Ref": "X"},
    `!GetAtt A.B` → {"Fn::GetAtt": ["A", "B"]}, `!Sub s` → {"Fn::Sub": s}, …)."""
    document = yaml_parse(Path(path).read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError("a CloudFormation template must be a mapping at the top level")
    return document


class ApiEvent(NamedTuple):
    """One `Type: Api` event of a function: a REST route."""

    function: str  # the function's logical id
    name: str  # the event's name
    method: str  # upper case; ANY for the catch-all (405) routes
    path: str
    properties: dict[str, Any]


class Unresolvable(Exception):
    """A template value that only exists in a deployed stack (a secret, a dynamic reference, …)."""


class Template:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = path.parent
        document = load_template(str(path))
        self.parameters: dict[str, Any] = document.get("Parameters") or {}
        self.resources: dict[str, Any] = document.get("Resources") or {}
        self.globals: dict[str, Any] = document.get("Globals") or {}

    def resources_of(self, *types: str) -> dict[str, dict[str, Any]]:
        """Logical id → resource, for the given types, in template order."""
        return {name: res for name, res in self.resources.items() if res.get("Type") in types}

    def type_of(self, logical_id: str) -> str | None:
        resource = self.resources.get(logical_id)
        return resource.get("Type") if resource else None

    def function_properties(self, logical_id: str) -> dict[str, Any]:
        """A function's Properties with Globals.Function applied the way SAM applies them."""
        own = self.resources[logical_id].get("Properties") or {}
        return merge_globals(self.globals.get("Function") or {}, own)

    def api_events(self) -> list[ApiEvent]:
        """Every REST route: the functions' Api events (template order), then the routes an API's inline
        DefinitionBody integrates with a function (which SAM merges with the events: MergeDefinitions)."""
        events = []
        for logical_id in self.resources_of(FUNCTION_TYPE):
            for name, event in (self.function_properties(logical_id).get("Events") or {}).items():
                if event.get("Type") == "Api":
                    properties = event.get("Properties") or {}
                    method = str(properties["Method"]).upper()
                    path = str(self.resolve(properties["Path"]))
                    events.append(ApiEvent(logical_id, name, method, path, properties))
        for api_id, resource in self.resources_of("AWS::Serverless::Api").items():
            body = (resource.get("Properties") or {}).get("DefinitionBody")
            events.extend(_definition_body_routes(api_id, body))
        return events

    def api_operations(self) -> list[ApiEvent]:
        """The API's operations: every Api event but the ANY catch-alls (MethodNotAllowedFunction's 405s)."""
        return [event for event in self.api_events() if event.method != "ANY"]

    def api_properties(self, logical_id: str | None) -> dict[str, Any]:
        """An AWS::Serverless::Api's Properties with Globals.Api (None: SAM's implicit API)."""
        own = (self.resources[logical_id].get("Properties") or {}) if logical_id else {}
        return merge_globals(self.globals.get("Api") or {}, own)

    # ------------------------------------------------------------------ intrinsic functions

    def resolve(self, value: Any) -> Any:
        """Resolve Ref / Fn::GetAtt / Fn::Sub / Fn::Join / Fn::Split / Fn::Select recursively; raise
        Unresolvable otherwise."""
        if isinstance(value, str):
            if "{{resolve:" in value:
                raise Unresolvable(f"dynamic reference {value!r}")
            return value
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref":
                return self._ref(argument)
            if key == "Fn::GetAtt":
                return self._get_att(argument)
            if key == "Fn::Sub":
                return self._sub(argument)
            if key == "Fn::Join":
                delimiter, items = argument
                return str(delimiter).join(str(self.resolve(item)) for item in self.resolve(items))
            if key == "Fn::Split":
                delimiter, source = argument
                return str(self.resolve(source)).split(str(delimiter))
            if key == "Fn::Select":
                index, items = argument
                return self.resolve(items)[int(self.resolve(index))]
            if key.startswith("Fn::"):
                raise Unresolvable(f"{key} is not supported by the local stack")
        return {key: self.resolve(item) for key, item in value.items()}

    def _ref(self, name: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name in self.parameters:
            parameter = self.parameters[name]
            if "Default" not in parameter:
                raise Unresolvable(f"parameter {name} has no Default")
            return parameter["Default"]
        resource_type = self.type_of(name)
        if resource_type is None:
            raise Unresolvable(f"Ref to unknown name {name}")
        if resource_type in SECRET_TYPES:
            raise Unresolvable(f"{name} is a {resource_type}")
        if resource_type in STATE_MACHINE_TYPES:
            return state_machine_arn(self.state_machine_name(name))
        if resource_type == FUNCTION_TYPE:
            return self.function_name(name)
        if resource_type == EVENT_BUS_TYPE:
            return self.named(name, "Name")
        if resource_type == QUEUE_TYPE:
            return queue_url(self.named(name, "QueueName"))
        if resource_type == BUCKET_TYPE:
            return self.named(name, "BucketName")
        return name  # locally, a resource's physical name is its logical id

    def function_name(self, logical_id: str) -> str:
        """FunctionName when the template sets one, else the logical id."""
        return self.named(logical_id, "FunctionName")

    def named(self, logical_id: str, name_property: str) -> str:
        """A resource's name property when the template sets one, else the logical id."""
        name = (self.resources[logical_id].get("Properties") or {}).get(name_property)
        return str(self.resolve(name)) if name is not None else logical_id

    def state_machine_name(self, logical_id: str) -> str:
        """Name (SAM) / StateMachineName (CloudFormation) when set, else the logical id.

        (CloudFormation would generate `<LogicalId>-<random>`; locally the name is stable.)
        """
        properties = self.resources[logical_id].get("Properties") or {}
        name = properties.get("Name", properties.get("StateMachineName"))
        return str(self.resolve(name)) if name is not None else logical_id

    def _get_att(self, argument: str | list[str]) -> str:
        logical_id, attribute = argument.split(".", 1) if isinstance(argument, str) else argument
        resource_type = self.type_of(logical_id)
        if resource_type in TABLE_TYPES and attribute == "Arn":
            return f"arn:aws:dynamodb:{REGION}:{MOTO_ACCOUNT_ID}:table/{logical_id}"
        if resource_type == FUNCTION_TYPE and attribute == "Arn":
            return function_arn(self.function_name(logical_id))
        if resource_type == EVENT_BUS_TYPE and attribute in ("Arn", "Name"):
            name = self.named(logical_id, "Name")
            if attribute == "Name":
                return name
            return f"arn:aws:events:{REGION}:{MOTO_ACCOUNT_ID}:event-bus/{name}"
        if resource_type == QUEUE_TYPE and attribute in ("Arn", "QueueName", "QueueUrl"):
            name = self.named(logical_id, "QueueName")
            if attribute == "Arn":
                return f"arn:aws:sqs:{REGION}:{MOTO_ACCOUNT_ID}:{name}"
            return name if attribute == "QueueName" else queue_url(name)
        if resource_type == BUCKET_TYPE and attribute == "Arn":
            return f"arn:aws:s3:::{self.named(logical_id, 'BucketName')}"
        if resource_type in STATE_MACHINE_TYPES and attribute == "Arn":
            return state_machine_arn(self.state_machine_name(logical_id))
        if resource_type in STATE_MACHINE_TYPES and attribute == "Name":
            return self.state_machine_name(logical_id)
        raise Unresolvable(f"Fn::GetAtt {logical_id}.{attribute}")

    def _sub(self, argument: str | list[Any]) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self.resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} is the escape for a literal "${Literal}"
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name.split(".", 1)[0] in self.resources:
                return str(self._get_att(name))
            return str(self._ref(name))

        return str(self.resolve(_SUB_VARIABLE.sub(replace, text)))


def _definition_body_routes(api_id: str, body: Any) -> list[ApiEvent]:
    """The Lambda proxy routes of an OpenAPI DefinitionBody, as Api events would declare them. A method's
    `security` names its authorizer the way SAM reads it: `NONE` none, absent or empty the default one."""
    routes = []
    paths = body.get("paths") if isinstance(body, dict) else None
    for path, methods in (paths or {}).items():
        for key, operation in methods.items():
            integration = operation.get("x-amazon-apigateway-integration") or {}
            function = integrated_function(integration.get("uri"))
            if integration.get("type") != "aws_proxy" or function is None:
                continue
            method = "ANY" if key == "x-amazon-apigateway-any-method" else key.upper()
            properties: dict[str, Any] = {"RestApiId": {"Ref": api_id}, "Path": path, "Method": method}
            authorizers = [name for requirement in operation.get("security") or [] for name in requirement]
            if authorizers:
                properties["Auth"] = {"Authorizer": authorizers[0]}
            routes.append(ApiEvent(function, f"{api_id}.DefinitionBody", method, path, properties))
    return routes


def integrated_function(uri: Any) -> str | None:
    """The function a Lambda integration URI invokes (`.../functions/${Fn.Arn}/invocations` in a Fn::Sub,
    or a Fn::GetAtt Fn.Arn inside one); None if it names none."""
    text = json.dumps(uri)
    match = re.search(r"\$\{(\w+)\.Arn\}", text) or re.search(r'"Fn::GetAtt": \["(\w+)"', text)
    return match.group(1) if match else None


def function_arn(function_name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"


def queue_url(name: str) -> str:
    """The URL moto gives an SQS queue."""
    return f"https://sqs.{REGION}.amazonaws.com/{MOTO_ACCOUNT_ID}/{name}"


def state_machine_arn(name: str) -> str:
    """The ARN moto gives a state machine (it lives in moto, so moto's account)."""
    return f"arn:aws:states:{REGION}:{MOTO_ACCOUNT_ID}:stateMachine:{name}"


def merge_globals(global_value: Any, own_value: Any) -> Any:
    """SAM's Globals rule: maps merge (the resource wins), lists concatenate (globals first), scalars
    override."""
    if isinstance(global_value, dict) and isinstance(own_value, dict):
        merged = dict(global_value)
        for key, value in own_value.items():
            merged[key] = merge_globals(global_value[key], value) if key in global_value else value
        return merged
    if isinstance(global_value, list) and isinstance(own_value, list):
        return global_value + own_value
    return own_value


def logical_id_of(reference: Any) -> str | None:
    """The logical id behind `!Ref X`, `!GetAtt X.Attr` (either form) or a plain string; else None."""
    if isinstance(reference, str):
        return reference
    if isinstance(reference, dict) and len(reference) == 1:
        ((key, argument),) = reference.items()
        if key == "Ref" and isinstance(argument, str):
            return argument
        if key == "Fn::GetAtt":
            return argument.split(".", 1)[0] if isinstance(argument, str) else str(argument[0])
    return None

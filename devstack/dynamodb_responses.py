"""Cheaper DynamoDB responses for the local stack: moto's response serializer, without its per-value
lookups, for results that are plain JSON data.

moto 5.2.5 serializes every response by walking the operation's output shape and looking each member
up through an attribute picker (aliases, snake_case names, response transformers: an object and a
generator per attribute value). For DynamoDB's results, which are already dicts in the wire format
(`DynamoResult`: Item.to_json), that walk was ~15% of the local stack's CPU in bench.soak (GetItem,
Query, TransactWriteItems and UpdateItem responses).

install() gives DynamoHandler a `serialized` that walks the same shape with plain dict lookups and
hands the rest to moto's serializer unchanged. It serializes a result itself only when that gives
moto's bytes by construction: a successful result of the JSON protocol, no event stream, no response
transformers, every dict's keys members of its shape (so moto's picker would have found each member
under its own name), no member or list element renamed by the model, no None inside a map or list, and
only the shape types below (a timestamp, or anything else, is moto's). VERIFY makes it also run moto's
serializer and raise on any difference: tests/emulator/test_dynamodb_responses.py runs runs
and a catalogue of item shapes with it on, and fails if a moto upgrade changes what this relies on.
"""

import json
from enum import Enum
from typing import Any

from devstack.once import installs_once

VERIFY = False  # also serialize with moto and compare (tests)
stats = {"fast": 0, "moto": 0, "verified": 0}


def _mirrored() -> dict[str, Any]:
    """The moto serializer methods _value mirrors, by shape type (install() checks they are these)."""
    from moto.core.serialize import BaseJSONSerializer, ResponseSerializer

    return {
        "map": BaseJSONSerializer,
        "list": BaseJSONSerializer,
        "string": BaseJSONSerializer,
        "integer": ResponseSerializer,
        "long": ResponseSerializer,
        "float": ResponseSerializer,
        "double": ResponseSerializer,
        "blob": ResponseSerializer,
    }


class _MotoSerializes(Exception):
    """This result is left to moto's serializer."""


@installs_once
def install() -> None:
    """Give moto's DynamoDB handler the plain-data serializer (idempotent)."""
    from moto.core.responses import BaseResponse
    from moto.core.serialize import BaseJSONSerializer, JSONSerializer, ResponseSerializer
    from moto.dynamodb.responses import DynamoHandler

    if (
        DynamoHandler.serialized is not BaseResponse.serialized
        or getattr(DynamoHandler, "RESPONSE_KEY_PATH_TO_TRANSFORMER", None)
        or JSONSerializer._serialize_type_structure is not BaseJSONSerializer._serialize_type_structure
        or JSONSerializer._serialize_body is not BaseJSONSerializer._serialize_body
        or not hasattr(ResponseSerializer, "_base64")
        or ResponseSerializer.DEFAULT_ENCODING != _Base64Self.DEFAULT_ENCODING
        or hasattr(JSONSerializer, "_serialize_type_boolean")  # booleans: moto's default, as-is
        or any(
            getattr(JSONSerializer, f"_serialize_type_{kind}") is not getattr(base, f"_serialize_type_{kind}")
            for kind, base in _mirrored().items()
        )
    ):
        raise RuntimeError(
            "moto's DynamoDB response serialization changed: revisit devstack.dynamodb_responses"
        )
    DynamoHandler.serialized = _serialized  # type: ignore[method-assign]


def _serialized(self: Any, action_result: Any) -> Any:
    from moto.core.responses import ActionResult, BaseResponse
    from moto.dynamodb.responses import DynamoResult

    fast = None
    if type(action_result) in (ActionResult, DynamoResult) and not isinstance(
        action_result.result, Exception
    ):
        try:
            fast = _serialize_fast(self, action_result.result)
        except _MotoSerializes:
            fast = None
    if fast is None:
        stats["moto"] += 1
        return BaseResponse.serialized(self, action_result)
    stats["fast"] += 1
    if VERIFY:
        expected = BaseResponse.serialized(self, action_result)
        if expected != fast:
            raise AssertionError(f"devstack.dynamodb_responses differs from moto:\n{fast!r}\n{expected!r}")
        stats["verified"] += 1
    return fast


def _serialize_fast(response: Any, result: Any) -> tuple[int, dict[str, str], str]:
    from botocore.model import OperationNotFoundError
    from moto import settings
    from moto.core.serialize import JSONSerializer, get_serializer_class
    from moto.core.utils import get_service_model

    service_model = get_service_model(response.boto3_service_name)
    try:
        operation_model = service_model.operation_model(response._get_action())
    except OperationNotFoundError:
        raise _MotoSerializes from None
    protocol = response.determine_response_protocol(service_model)
    if (
        service_model.protocol != "json"
        or get_serializer_class(service_model.service_name, protocol) is not JSONSerializer
        or operation_model.has_event_stream_output
    ):
        raise _MotoSerializes
    shape = operation_model.output_shape
    serialized = {} if shape is None else _value(result, shape)
    body = json.dumps(serialized, indent=4 if settings.PRETTIFY_RESPONSES else None)
    version = service_model.metadata.get("jsonVersion", "1.0")
    headers = {"Content-Type": f"application/x-amz-json-{version}"}
    headers.update(response.response_headers)
    return operation_model.http.get("responseCode", 200), headers, body


def _value(value: Any, shape: Any) -> Any:
    kind = shape.type_name
    if kind == "structure":
        if shape.is_document_type:
            return value
        if not isinstance(value, dict):
            raise _MotoSerializes
        members = shape.members
        if not members.keys() >= value.keys():
            raise _MotoSerializes  # moto's picker might find a member under another key
        out = {}
        for key, member in members.items():
            if member.serialization.get("name", key) != key:
                raise _MotoSerializes
            item = value.get(key)
            if item is not None:
                out[key] = _value(item, member)
        return out
    if kind == "map":
        if not isinstance(value, dict) or "name" in shape.value.serialization:
            raise _MotoSerializes
        if "" in value:
            raise _MotoSerializes  # moto merges a member named "" into the map itself
        return {key: _value(_not_none(item), shape.value) for key, item in value.items()}
    if kind == "list":
        if not isinstance(value, list | tuple) or "name" in shape.member.serialization:
            raise _MotoSerializes
        return [_value(_not_none(item), shape.member) for item in value]
    if kind == "string":
        if isinstance(value, Enum):
            value = value.value
        return str(value) if value not in [None, {}, []] else value
    if kind in ("integer", "long"):
        return int(value)
    if kind in ("float", "double"):
        return float(value)
    if kind == "boolean":
        return value
    if kind == "blob":
        from moto.core.serialize import ResponseSerializer

        return ResponseSerializer._base64(_BASE64_SELF, value)
    raise _MotoSerializes  # timestamps and anything else: moto's


def _not_none(value: Any) -> Any:
    if value is None:
        raise _MotoSerializes
    return value


class _Base64Self:
    DEFAULT_ENCODING = "utf-8"  # moto's ResponseSerializer.DEFAULT_ENCODING


_BASE64_SELF = _Base64Self()

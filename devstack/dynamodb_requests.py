"""Cheaper DynamoDB request parsing for the local stack: moto's JSON request parser, walked by
functions built once per operation instead of looked up per value.

moto 5.2.5 parses every DynamoDB request (DynamoHandler sets `automated_parameter_parsing`) with
its JSONParser: `json.loads` of the body, then a walk over the operation's input shape that, per
value, builds a handler name (`f"_parse_{shape.type_name}"`), looks it up with getattr, and for each
structure asks every member of the shape for its serialized name and `.get`s it from the value
(ten members for each AttributeValue). That walk was ~2.7% of a bench.soak run's CPU (py-spy --gil,
200 runs; ~4.2% with the rest of `parse_parameters`).

install() gives JSONParser a `parse` that, for a plain JSONParser (not a subclass) whose handlers
are the ones mirrored below, builds per input shape (once, kept per operation model) functions doing
what moto's handlers do, in the same order: a structure keeps the members whose serialized name
is in the value and not None, in the shape's member order (a value of one key is looked up by that
key directly: same result); a list and a map are rebuilt entry by entry; a blob goes through the
parser's blob parser, a timestamp through its timestamp parser, float/double and the integer types
through float() and int(); any other type (string, boolean) is kept as-is (moto's
`_default_handle`); a document structure is kept as-is. The body is decoded by moto's own
`_parse_body_as_json`. If any step raises (a malformed request), the request is parsed again by
moto's parser, which raises or answers as before. VERIFY makes it also run moto's parser and raise
on any difference, in values, types or key order: tests/emulator/test_dynamodb_requests.py runs
runs and a catalogue of requests with it on, and fails if a moto upgrade changes what this relies on.
"""

from typing import Any

from devstack.once import installs_once

VERIFY = False  # also parse with moto and compare (tests)
stats = {"fast": 0, "moto": 0, "verified": 0}

_IDENTITY = None  # a walker that keeps the value as-is
_walkers: dict[int, tuple[Any, Any]] = {}  # id(operation model) → (the model, its input walker)


def _mirrored() -> dict[str, Any]:
    """moto's handlers this module mirrors, by name (install() checks JSONParser still uses them)."""
    from moto.core.parse import BaseJSONParser, RequestParser

    return {
        "_parse_shape": RequestParser._parse_shape,
        "_parse_list": RequestParser._parse_list,
        "_parse_map": RequestParser._parse_map,
        "_default_handle": RequestParser._default_handle,
        "_parse_structure": BaseJSONParser._parse_structure,
        "_parse_blob": BaseJSONParser._parse_blob,
        "_parse_timestamp": BaseJSONParser._parse_timestamp,
        "_parse_float": BaseJSONParser._parse_float,
        "_parse_double": BaseJSONParser._parse_float,
        "_parse_integer": BaseJSONParser._parse_integer,
        "_parse_byte": BaseJSONParser._parse_integer,
        "_parse_short": BaseJSONParser._parse_integer,
        "_parse_long": BaseJSONParser._parse_integer,
    }


# the shape types with a handler of their own (any other is moto's _default_handle: as-is)
_HANDLED = (
    "structure",
    "list",
    "map",
    "blob",
    "timestamp",
    "float",
    "double",
    "integer",
    "byte",
    "short",
    "long",
)


class _Unmirrored(Exception):
    """A shape this module does not mirror: the operation is left to moto's parser."""


@installs_once
def install() -> None:
    """Give moto's JSONParser the per-shape walkers (idempotent)."""
    from moto.core import parse as moto_parse

    parser_cls = moto_parse.JSONParser
    mirrored = _mirrored()
    do_parse = parser_cls._do_parse.__code__
    json_body = parser_cls._parse_json_body.__code__
    if (
        moto_parse.PROTOCOL_PARSERS.get("json") is not parser_cls
        or parser_cls.parse is not moto_parse.RequestParser.parse
        or "input_shape" not in parser_cls.parse.__code__.co_names
        or "_parse_json_body" not in do_parse.co_names
        or not {"_parse_body_as_json", "_parse_shape"} <= set(json_body.co_names)
        or any(getattr(parser_cls, name) is not expected for name, expected in mirrored.items())
        or any(
            getattr(parser_cls, f"_parse_{kind}", None) is not None
            for kind in ("string", "boolean", "character", "document")
        )
        or moto_parse.UNDEFINED is None
    ):
        raise RuntimeError("moto's JSON request parser changed: revisit devstack.dynamodb_requests")
    moto_parse_method = parser_cls.parse

    def parse(self: Any, request_dict: Any) -> Any:
        if type(self) is not parser_cls:
            return moto_parse_method(self, request_dict)
        walker = _walker_for(self)
        if walker is False:
            stats["moto"] += 1
            return moto_parse_method(self, request_dict)
        try:
            body = self._parse_body_as_json(request_dict["body"])
            parsed = body if walker is _IDENTITY else walker(body)
        except Exception:
            stats["moto"] += 1
            return moto_parse_method(self, request_dict)  # raises (or answers) as moto does
        stats["fast"] += 1
        if VERIFY:
            expected = moto_parse_method(self, request_dict)
            if not _same(parsed, expected):
                raise AssertionError(f"request parsed differently from moto: {parsed!r} != {expected!r}")
            stats["verified"] += 1
        return parsed

    parser_cls.parse = parse  # type: ignore[method-assign]


def _walker_for(parser: Any) -> Any:
    """The input walker of the parser's operation (False: moto parses it), built once per model."""
    model = parser.operation_model
    key = id(model)
    entry = _walkers.get(key)
    if entry is not None and entry[0] is model:
        walker = entry[1]
    else:
        shape = model.input_shape
        try:
            walker = False if shape is None else _build(shape, {})
        except _Unmirrored:
            walker = False
        _walkers[key] = (model, walker)  # one assignment: built twice at worst, never half-built
    if walker is False:
        return False
    # the parsers moto's handlers would call, and its map type: the walkers are built for the defaults
    from moto.core.parse import RequestParser, default_blob_parser, default_timestamp_parser

    if (
        parser._blob_parser is not default_blob_parser
        or parser._timestamp_parser is not default_timestamp_parser
        or parser.MAP_TYPE is not RequestParser.MAP_TYPE
    ):
        return False
    return walker


def _build(shape: Any, built: dict[str, Any]) -> Any:
    """A function doing what moto's handler for `shape` does to a value (None: keeps it as-is)."""
    import base64

    from moto.core.parse import UNDEFINED, JSONParser, default_timestamp_parser

    kind = shape.type_name
    if kind not in _HANDLED:
        if getattr(JSONParser, f"_parse_{kind}", None) is not None:
            raise _Unmirrored(kind)  # a handler of its own: moto's
        return _IDENTITY
    name = shape.name
    if name in built:  # a recursive shape (AttributeValue): call it through its cell
        cell = built[name]
        return lambda value: cell[0](value)
    cell = built[name] = [None]

    if kind == "structure":
        if shape.is_document_type:
            walker: Any = _keep
        else:
            members = []
            for member_name, member_shape in shape.members.items():
                json_name = member_shape.serialization.get("name", member_name)
                members.append((member_name, json_name, _build(member_shape, built)))
            walker = _structure_walker(tuple(members))
    elif kind == "list":
        item = _build(shape.member, built)
        if item is _IDENTITY:
            walker = _list_as_is
        else:

            def walker(node: Any) -> Any:
                return [item(entry) for entry in node]

    elif kind == "map":
        key_walker, value_walker = _build(shape.key, built), _build(shape.value, built)
        if key_walker is not _IDENTITY:
            raise _Unmirrored(name)  # DynamoDB's map keys are strings; anything else is moto's
        if value_walker is _IDENTITY:

            def walker(value: Any) -> Any:
                return {key: entry for key, entry in value.items()}

        else:

            def walker(value: Any) -> Any:
                return {key: value_walker(entry) for key, entry in value.items()}

    elif kind == "blob":
        walker = base64.b64decode
    elif kind == "timestamp":
        walker = default_timestamp_parser
    elif kind in ("float", "double"):

        def walker(value: Any) -> Any:
            return value if value is UNDEFINED else float(value)

    else:

        def walker(value: Any) -> Any:
            return value if value is UNDEFINED else int(value)

    cell[0] = walker
    return walker


def _keep(value: Any) -> Any:
    return value


def _list_as_is(node: Any) -> Any:
    return [entry for entry in node]


def _structure_walker(members: tuple[tuple[str, str, Any], ...]) -> Any:
    by_json = {json_name: (member_name, walk) for member_name, json_name, walk in members}
    one_key_lookup = len(by_json) == len(members)  # each serialized name names one member

    def walker(value: Any) -> Any:
        if value is None:
            return None
        if one_key_lookup and type(value) is dict and len(value) == 1:
            for key, raw in value.items():
                member = by_json.get(key)
                if member is None or raw is None:
                    return {}
                walk = member[1]
                return {member[0]: raw if walk is None else walk(raw)}
        parsed = {}
        get = value.get
        for member_name, json_name, walk in members:
            raw = get(json_name)
            if raw is not None:
                parsed[member_name] = raw if walk is None else walk(raw)
        return parsed

    return walker


def _same(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down and dict keys in the same order."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(_same(a[key], b[key]) for key in a)
    if type(a) is list:
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)

"""Per-request work moto and botocore repeat that the local stack does not need: done once instead.

Measured with bench.soak (three-decision runs, 4 client threads; CPU per run, every thread, by
component with time.thread_time): moto's request handling was about half of a run's CPU, and part of
it is work whose answer never changes within a process:

1. `BaseResponse.call_action` lists the handler class's methods with `inspect.getmembers` on every
   request (to check the action is one of them): a walk over the few hundred attributes of, e.g.,
   DynamoHandler per call. The methods of a class do not change: cached per class.
2. The Step Functions interpreter makes a new boto3 client (`boto_client_for`) for every Lambda task
   it runs: a client is built from botocore's service model and event hooks each time (several ms).
   Clients are safe to share between threads (boto3's documentation), and moto's clients do not
   depend on the task's credentials (it signs with fixed fake keys): one per region and service is
   kept and reused.
3. An Item's attributes live in a `LimitedSizeDict`, which checks DynamoDB's item size limit on every
   attribute set by summing the size of every attribute already there: building an item of n
   attributes costs O(n²) size walks (a run item, 28 attributes: ~5 ms per PutItem, and bench.scale
   could seed 22,000 runs in its 55 s). A new Item is now built first and its size checked once,
   against the same limit, raising the same error; later single-attribute sets keep moto's check.
   Its attribute names are interned: each item would otherwise keep its own copy of every name
   decoded from its request (~1.5 KB for a run item), kept as long as the item.
4. botocore (the handlers' side) rebuilds the User-Agent header twice per request, passing each of its
   ~50 components through `sanitize_user_agent_string_component`, a character-by-character walk:
   ~10% of a GetItem's client-side CPU here. It is a pure function of its two arguments: memoized.
5. An UpdateExpression is parsed into an AST (`UpdateExpressionParser.make`) on every UpdateItem, twice
   (DynamoHandler.update_item, to list the names and values it uses, then DynamoDBBackend.update_item),
   and once per Update of a TransactWriteItems: ~1 ms a parse, ~3% of a run's CPU (bench.soak, py-spy
   --gil). The AST of a string is always the same, and nothing mutates it: the handler only reads it
   (find_clauses) and moto's Validator deep-copies it before it resolves names, values and the item
   into the copy. Parses are memoized per expression string (an invalid one raises, uncached, each
   time, as before).

6. moto's update Validator deep-copies the AST before resolving names, values and the item into the
   copy (`copy.deepcopy` in Validator.__init__): ~1.7 ms for a 14-action SET, more than the parse it
   spared (~1.4 ms), ~2.6% of a soak run's CPU (py-spy --gil). The copy is the same object graph
   (Nodes with a `type`, `children` and `parent`, lists, strings, ints) that `pickle.loads` of the
   AST's pickle builds (both rebuild each object with `__reduce_ex__` and its `__dict__`, parent
   links kept): 0.27 ms. Each memoized parse (5.) is pickled once when it is parsed, and the
   Validator's copy of that AST is built from its pickle (if `pickled_copies` finds the pickle a
   faithful copy of it); any other value is deep-copied as before.
7. A ConditionExpression (or FilterExpression) is parsed by a new ConditionExpressionParser two to
   three times per write (DynamoHandler, then transact_write_items, then put/update/delete_item), and
   each parse first lexes the string, one token at a time with a list of regular expressions (~45%
   of a parse, ~2.2% of a soak run's CPU). The tokens of a string are always the same (its names and
   values are bound later, in `_parse_paths`) and nothing changes them (they are namedtuples; no
   parse step changes a node's `children` list): memoized per expression string, each parse gets a
   new deque of them (a string that fails to lex raises, uncached, each time, as before).
8. Each of the ten processors of an update's Validator walks the AST (`DepthFirstTraverser`): per
   node an `isinstance` against the abstract Node class, `nodes_to_be_processed()` (a tuple built
   from a new processing map), and `process()` (another new map, an `isinstance` per entry): ~3% of
   a soak run's CPU. Which processing-map entry takes a node depends only on the processor's class
   and the node's class (the maps are literals keyed by classes): that choice is remembered per pair
   of classes, and the walk is otherwise moto's (same order, same hooks, same replacements).
9. Besides (7.), a write's condition is parsed again with the same names and values by each of the
   two or three steps above (the parse binds them: ~2.5% of a soak run's CPU after (7.)). What
   `parse()` returns depends only on the expression, its names and its values, and is never
   changed (its Ops and operands are assigned in their constructors only; `expr(item)` only reads
   them): the Op, and the names and values it found, are memoized per (expression, names, values),
   the names and values compared by content and type (CONDITIONS, least recently used first out).
   The memoized parse is made from a private copy of the values: an Op keeps the values it is given,
   and a request's own may become an item's attribute that moto changes in place later (ADD to a set).
   A parse that raises is not memoized.
10. `Node.find_clauses` (the update Validator's clause counts and overlap checks, and `normalize`)
   walks the AST asking each child `isinstance` against two abstract classes (ABCMeta's
   `__instancecheck__`): ~1.7% of a soak run's CPU. Whether a node's class descends is remembered per
   class; the walk and what it returns are moto's.
11. `BackendDict.__getitem__` (moto looks up a service's backend for its account on every request,
   several times) takes a global lock, lists the dict's keys and scans the list of every BackendDict
   in use, comparing with `__eq__`, to register an account's backend the first time: ~1.3% of a soak
   run's CPU. When the account's backend is there and the dict is registered (checked by identity),
   that does nothing: the backend is returned at once; otherwise moto's code runs.
12. Every moto response goes through `BaseResponse._enrich_response`, which draws its request id
   (`gen_amzn_requestid_long`: 52 characters, one `mock_random.choice` each: ~30 µs of thread CPU)
   and runs a regular expression with a look-behind over the whole body to put that id between
   `<RequestId>` tags (~45 µs for a 2.5 KB JSON answer, more for a Query's). The id is drawn with
   `mock_random.choices(pool, k=52)` (the same generator, characters and length: ~8 µs; not the same
   draws, so under a seeded mock_random — nothing here seeds it — the ids differ from moto's), and the
   expression, which cannot match a body without `<RequestId>`, runs only on a body that has it
   (a non-text body: moto's error is ignored, as before). About 1% of a soak run's CPU.

Nothing here changes what a request does or answers. Each patch checks what it relies on and fails
loudly at start if a moto upgrade changed it; tests/emulator/test_overhead.py fails if one is gone.
"""

import collections
import contextlib
import copy
import dis
import functools
import pickle
import sys
import threading
import weakref
from typing import Any

from devstack import dynamodb_requests
from devstack.once import installs_once
from devstack.pickled_copies import pickled


@installs_once
def install() -> None:
    """Apply every patch (idempotent)."""
    _cache_method_names()
    _reuse_step_functions_clients()
    _check_item_size_once()
    _memoize_user_agent_components()
    _share_update_expression_parses()
    _copy_update_asts_from_pickles()
    _share_condition_tokens()
    _choose_traversal_processors_once()
    _share_condition_parses()
    _find_clauses_knowing_classes()
    _find_registered_backends_at_once()
    _enrich_responses_cheaply()
    dynamodb_requests.install()  # DynamoDB requests parsed without moto's per-value lookups


# ---------------------------------------------------------------------- 1. handler method names


def _cache_method_names() -> None:
    import moto.core.responses as responses

    if (
        getattr(responses, "method_names_from_class", None) is None
        or "method_names_from_class" not in responses.BaseResponse.call_action.__code__.co_names
    ):
        raise RuntimeError(
            "moto's BaseResponse.call_action no longer calls method_names_from_class: "
            "revisit devstack.overhead"
        )
    uncached = responses.method_names_from_class
    responses.method_names_from_class = functools.cache(uncached)


# ---------------------------------------------------------------------- 2. Step Functions' clients


def _reuse_step_functions_clients() -> None:
    import moto.stepfunctions.parser.asl.component.state.exec.state_task.lambda_eval_utils as lambda_eval
    from moto.stepfunctions.parser.asl.utils import boto_client

    code = boto_client.boto_client_for.__code__
    reads = {i.argval for i in dis.get_instructions(code) if i.opname.startswith("LOAD_FAST")}
    if (
        getattr(lambda_eval, "boto_client_for", None) is not boto_client.boto_client_for
        or code.co_varnames[:3] != ("region", "service", "state_credentials")
        or "state_credentials" in reads  # the client would depend on the task's credentials
    ):
        raise RuntimeError(
            "moto's Lambda tasks no longer get their client from boto_client_for: revisit devstack.overhead"
        )
    new_client = boto_client.boto_client_for
    clients: dict[tuple[str, str, bool], Any] = {}
    lock = threading.Lock()

    def shared_client_for(region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.core.models import botocore_stubber

        key = (region, service, bool(botocore_stubber.enabled))  # moto's endpoint differs in server mode
        with lock:
            client = clients.get(key)
            if client is None:
                client = clients[key] = new_client(region, service, state_credentials)
        return client

    boto_client.boto_client_for = shared_client_for
    lambda_eval.boto_client_for = shared_client_for


# ---------------------------------------------------------------------- 3. item size


def _check_item_size_once() -> None:
    from moto.dynamodb.models import dynamo_type
    from moto.dynamodb.models.utilities import bytesize

    item_type, limited, dynamo = dynamo_type.Item, dynamo_type.LimitedSizeDict, dynamo_type.DynamoType
    setitem = limited.__setitem__.__code__
    limits = [value for value in setitem.co_consts if isinstance(value, int) and value > 100_000]
    if (
        len(limits) != 1
        or "ItemSizeTooLarge" not in setitem.co_names
        or item_type.__init__.__code__.co_varnames[:4] != ("self", "hash_key", "range_key", "attrs")
        or "LimitedSizeDict" not in item_type.__init__.__code__.co_names
    ):
        raise RuntimeError(
            "moto's Item no longer checks its size in LimitedSizeDict: revisit devstack.overhead"
        )
    limit = limits[0]
    too_large = dynamo_type.ItemSizeTooLarge

    def item_init_checked_once(self: Any, hash_key: Any, range_key: Any, attrs: dict[str, Any]) -> None:
        self.hash_key = hash_key
        self.range_key = range_key
        checked = limited()
        for key, value in attrs.items():
            dict.__setitem__(checked, sys.intern(key) if type(key) is str else key, dynamo(value))
        if sum(bytesize(key) + value.size() for key, value in checked.items()) > limit:
            raise too_large
        self.attrs = checked

    item_type.__init__ = item_init_checked_once


# ---------------------------------------------------------------------- 4. botocore's User-Agent


def _memoize_user_agent_components() -> None:
    from botocore import useragent

    sanitize = useragent.sanitize_user_agent_string_component
    if sanitize.__code__.co_varnames[:2] != ("raw_str", "allow_hash"):
        raise RuntimeError(
            "botocore's sanitize_user_agent_string_component changed: revisit devstack.overhead"
        )
    memoized = functools.lru_cache(maxsize=4096)(sanitize)

    def sanitized(raw_str: Any, allow_hash: Any) -> Any:
        try:
            return memoized(raw_str, allow_hash)
        except TypeError:  # unhashable: as botocore would
            return sanitize(raw_str, allow_hash)

    sanitized.cache_info = memoized.cache_info  # type: ignore[attr-defined]
    useragent.sanitize_user_agent_string_component = sanitized


# ---------------------------------------------------------------------- 5. UpdateExpression parses


def _share_update_expression_parses() -> None:
    import moto.dynamodb.models as models
    import moto.dynamodb.responses as dynamodb_responses
    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    make = UpdateExpressionParser.__dict__.get("make")
    if (
        not isinstance(make, classmethod)
        or make.__func__.__code__.co_varnames[:2] != ("cls", "expression_str")
        or getattr(models, "UpdateExpressionParser", None) is not UpdateExpressionParser
        or getattr(dynamodb_responses, "UpdateExpressionParser", None) is not UpdateExpressionParser
        or "deepcopy" not in validators.Validator.__init__.__code__.co_names  # the AST is copied, not changed
    ):
        raise RuntimeError(
            "moto's UpdateExpressionParser.make or its Validator changed: revisit devstack.overhead"
        )
    parse = make.__func__

    @functools.lru_cache(maxsize=1024)
    def parsed(expression_str: str) -> Any:
        ast = parse(UpdateExpressionParser, expression_str)
        _remember_pickle(ast)
        return ast

    def make_shared(cls: type, expression_str: Any) -> Any:
        if cls is UpdateExpressionParser and type(expression_str) is str:
            return parsed(expression_str)
        return parse(cls, expression_str)

    make_shared.cache_info = parsed.cache_info  # type: ignore[attr-defined]
    UpdateExpressionParser.make = classmethod(make_shared)  # type: ignore[assignment,method-assign]


# ---------------------------------------------------------------------- 6. the Validator's copy of an AST

# A memoized parse → its pickle, for as long as the parse is memoized (AST nodes hash by identity).
_pickles: "weakref.WeakKeyDictionary[Any, bytes]" = weakref.WeakKeyDictionary()


def _remember_pickle(ast: Any) -> None:
    blob = pickled(ast)
    if blob is not None:  # else the Validator deep-copies it, as moto does
        _pickles[ast] = blob


def _copy_ast(value: Any, memo: Any = None) -> Any:
    """copy.deepcopy, built from the pickle of a memoized parse when `value` is one."""
    try:
        blob = _pickles.get(value) if memo is None else None
    except TypeError:  # no weak reference or hash to it (a dict, a DynamoType): not a memoized parse
        blob = None
    return pickle.loads(blob) if blob is not None else copy.deepcopy(value, memo)


def _copy_update_asts_from_pickles() -> None:
    from moto.dynamodb.parsing import validators

    if getattr(validators, "deepcopy", None) is not copy.deepcopy or "deepcopy" not in (
        validators.Validator.__init__.__code__.co_names
    ):
        raise RuntimeError("moto's Validator no longer deep-copies its AST: revisit devstack.overhead")
    validators.deepcopy = _copy_ast  # type: ignore[attr-defined]


# ---------------------------------------------------------------------- 7. condition tokens


def _share_condition_tokens() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    lex = ConditionExpressionParser._lex_condition_expression
    names = lex.__code__.co_names
    if (
        lex.__code__.co_varnames[:1] != ("self",)
        or "condition_expression" not in names
        or "_lex_one_node" not in names
        or "expression_attribute_values" in names
        or "expression_attribute_names" in names
    ):
        raise RuntimeError("moto's condition lexer changed: revisit devstack.overhead")

    @functools.lru_cache(maxsize=1024)
    def tokens(expression: str) -> tuple[Any, ...]:
        lexer = ConditionExpressionParser(expression, None, None)
        return tuple(lex(lexer))

    def lex_shared(self: Any) -> Any:
        expression = self.condition_expression
        if type(expression) is str:
            return collections.deque(tokens(expression))
        return lex(self)

    lex_shared.cache_info = tokens.cache_info  # type: ignore[attr-defined]
    ConditionExpressionParser._lex_condition_expression = lex_shared  # type: ignore[method-assign]


# ---------------------------------------------------------------------- 8. AST traversal


def _choose_traversal_processors_once() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser, Node

    base = DepthFirstTraverser.__dict__
    walk = base["traverse_node_recursively"].__code__
    if (
        walk.co_varnames[:3] != ("self", "node", "child_id")
        or {"nodes_to_be_processed", "process", "pre_processing_of_child", "parent", "children"}
        - set(walk.co_names)
        or "_processing_map" not in base["process"].__code__.co_names
        or "_processing_map" not in base["nodes_to_be_processed"].__code__.co_names
    ):
        raise RuntimeError("moto's DepthFirstTraverser changed: revisit devstack.overhead")
    original = DepthFirstTraverser.traverse_node_recursively
    default_process, default_processed = base["process"], base["nodes_to_be_processed"]
    is_node: dict[type, bool] = {}
    chosen: dict[tuple[type, type], Any] = {}  # (processor class, node class) → map key or None

    def choice(self: Any, kind: type) -> Any:
        for key in self._processing_map():  # moto's order: the first class the node is an instance of
            if issubclass(kind, key):
                return key
        return None

    def walk_choosing_once(self: Any, node: Any, child_id: int = -1) -> Any:
        cls = type(self)
        if cls.process is not default_process or cls.nodes_to_be_processed is not default_processed:
            return original(self, node, child_id)  # a processor that chooses its own way
        kind = type(node)
        node_type = is_node.get(kind)
        if node_type is None:
            node_type = is_node[kind] = isinstance(node, Node)
        if not node_type:
            return node
        parent_node = node.parent
        if node.children is not None:
            for i, child_node in enumerate(node.children):
                self.pre_processing_of_child(node, i)
                self.traverse_node_recursively(child_node, i)
        pair = (cls, kind)
        try:
            key = chosen[pair]
        except KeyError:
            key = chosen[pair] = choice(self, kind)
        if key is not None:
            node = self._processing_map()[key](node)
            node.parent = parent_node
            if parent_node:
                parent_node.children[child_id] = node
        return node

    DepthFirstTraverser.traverse_node_recursively = walk_choosing_once  # type: ignore[method-assign]


# ---------------------------------------------------------------------- 9. condition parses

CONDITIONS = 1024  # memoized condition parses


def _frozen(value: Any) -> Any:
    """A hashable equivalent of a request's JSON value, with each scalar's type (True is not 1)."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple((key, _frozen(entry)) for key, entry in value.items()))
    if kind is list:
        return (list, tuple(_frozen(entry) for entry in value))
    hash(value)  # TypeError: not memoized
    return (kind, value)


def _share_condition_parses() -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    parse = ConditionExpressionParser.parse
    init = ConditionExpressionParser.__init__.__code__
    if init.co_varnames[1:4] != (
        "condition_expression",
        "expression_attribute_names",
        "expression_attribute_values",
    ) or not {"expr_attr_names_found", "expr_attr_values_found"} <= set(parse.__code__.co_names):
        raise RuntimeError("moto's ConditionExpressionParser changed: revisit devstack.overhead")
    parses: collections.OrderedDict[Any, tuple[Any, tuple[str, ...], tuple[str, ...]]] = (
        collections.OrderedDict()
    )
    lock = threading.Lock()
    stats = {"hits": 0, "misses": 0}

    def parse_shared(self: Any) -> Any:
        expression = self.condition_expression
        if type(expression) is not str or not expression:
            return parse(self)
        try:
            key = (
                expression,
                _frozen(self.expression_attribute_names),
                _frozen(self.expression_attribute_values),
            )
        except TypeError:
            return parse(self)
        with lock:
            memo = parses.get(key)
            if memo is not None:
                parses.move_to_end(key)
                stats["hits"] += 1
        if memo is None:
            # Parsed from a private copy of the values: the Op keeps the values it is given, and a
            # request's own can go on to be an item's attribute that changes in place later (a set
            # given by `SET s = :s`, then `ADD s :y`), which would change the Op under its key.
            private = type(self)(
                expression, self.expression_attribute_names, copy.deepcopy(self.expression_attribute_values)
            )
            memo = (
                parse(private),
                tuple(private.expr_attr_names_found),
                tuple(private.expr_attr_values_found),
            )
            with lock:
                stats["misses"] += 1
                parses[key] = memo
                while len(parses) > CONDITIONS:
                    parses.popitem(last=False)
        op, names, values = memo
        self.expr_attr_names_found.extend(names)
        self.expr_attr_values_found.extend(values)
        return op

    parse_shared.stats = stats  # type: ignore[attr-defined]
    ConditionExpressionParser.parse = parse_shared  # type: ignore[method-assign]


# ---------------------------------------------------------------------- 10. finding clauses


def _find_clauses_knowing_classes() -> None:
    from moto.dynamodb.parsing import ast_nodes

    node, expression, function = ast_nodes.Node, ast_nodes.Expression, ast_nodes.UpdateExpressionFunction
    find = node.find_clauses.__code__
    if (
        find.co_varnames[:2] != ("self", "clause_types")
        or not {"Expression", "UpdateExpressionFunction", "find_clauses"} <= set(find.co_names)
        or any("find_clauses" in vars(kind) for kind in _subclasses(node))
    ):
        raise RuntimeError("moto's Node.find_clauses changed: revisit devstack.overhead")
    descends: dict[type, bool] = {}

    def find_clauses(self: Any, clause_types: Any) -> list[Any]:
        clauses = []
        for child in self.children or []:
            kind = type(child)
            if kind in clause_types:
                clauses.append(child)
                continue
            descend = descends.get(kind)
            if descend is None:
                descend = descends[kind] = isinstance(child, (expression, function))
            if descend:
                clauses.extend(child.find_clauses(clause_types))
        return clauses

    node.find_clauses = find_clauses


def _subclasses(kind: type) -> list[type]:
    found = []
    for sub in kind.__subclasses__():
        found += [sub, *_subclasses(sub)]
    return found


# ---------------------------------------------------------------------- 11. backends by account


def _find_registered_backends_at_once() -> None:
    from moto.core.base_backend import BackendDict

    create = BackendDict._create_account_specific_backend.__code__
    if (
        "__getitem__" not in vars(BackendDict)
        or "_create_account_specific_backend" not in BackendDict.__getitem__.__code__.co_names
        or "_instances" not in create.co_names
        or not isinstance(vars(BackendDict).get("_instances"), list)
    ):
        raise RuntimeError("moto's BackendDict changed: revisit devstack.overhead")
    getitem = BackendDict.__getitem__
    contains, get = dict.__contains__, dict.__getitem__

    def getitem_at_once(self: Any, account_id: str) -> Any:
        if contains(self, account_id) and any(known is self for known in BackendDict._instances):
            return get(self, account_id)  # what moto's lookup returns, after registering nothing
        return getitem(self, account_id)

    BackendDict.__getitem__ = getitem_at_once  # type: ignore[assignment,method-assign]


# ---------------------------------------------------------------------- 12. response request ids


def _enrich_responses_cheaply() -> None:
    import re
    import string

    import moto.core.responses as responses
    from moto.moto_api._internal import mock_random
    from moto.utilities import aws_headers

    enrich = vars(responses.BaseResponse).get("_enrich_response")
    generate = aws_headers.gen_amzn_requestid_long.__code__
    pattern = r"(?<=<RequestId>).*(?=<\/RequestId>)"
    if (
        not isinstance(enrich, staticmethod)
        or responses.gen_amzn_requestid_long is not aws_headers.gen_amzn_requestid_long
        or pattern not in enrich.__func__.__code__.co_consts
        or not {"gen_amzn_requestid_long", "sub"} <= set(enrich.__func__.__code__.co_names)
        or 52 not in generate.co_consts
        or "get_random_string" not in generate.co_names
        or mock_random.get_random_string.__code__.co_varnames[:4]
        != ("self", "length", "include_digits", "lower_case")
        or any("_enrich_response" in vars(kind) for kind in _subclasses(responses.BaseResponse))
    ):
        raise RuntimeError("moto's response request ids changed: revisit devstack.overhead")
    pool = string.ascii_letters + string.digits  # get_random_string's, with digits, not lower-cased
    choices = mock_random.choices

    def enrich_response(headers: dict[str, str], body: Any) -> tuple[dict[str, str], Any]:
        if "status" in headers:
            headers["status"] = str(headers["status"])
        headers["x-amzn-requestid"] = request_id_ = "".join(choices(pool, k=52))
        if type(body) is str and "<RequestId>" not in body:
            return headers, body  # what re.sub returns: nothing to replace
        with contextlib.suppress(Exception):  # as moto: a body it cannot search is left as it is
            body = re.sub(pattern, request_id_, body)
        return headers, body

    responses.BaseResponse._enrich_response = staticmethod(enrich_response)  # type: ignore[method-assign,assignment]

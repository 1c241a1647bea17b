"""devstack.overhead: what moto redid per request is done once. These fail if a moto upgrade breaks a
patch's assumptions (install() also refuses to start then)."""

from typing import Any

import boto3
import moto.core.responses as responses
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
from moto.stepfunctions.parser.asl.utils import boto_client

from devstack.template import MOTO_ACCOUNT_ID, REGION
from tests.integration.helpers import ECHO, agent_with, execution_done, run_to_end, scratch_table, start


def test_handler_method_names_are_listed_once_per_class(stack: Any) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.list_tables()
    before = responses.method_names_from_class.cache_info()  # type: ignore[attr-defined]
    dynamodb.list_tables()
    dynamodb.describe_table(TableName=stack.tables[0])
    after = responses.method_names_from_class.cache_info()  # type: ignore[attr-defined]
    assert after.hits == before.hits + 2
    assert after.misses == before.misses


def test_lambda_tasks_share_one_client_and_still_run_the_handlers(stack: Any, api: Any) -> None:
    assert lambda_eval_utils.boto_client_for is boto_client.boto_client_for
    first = boto_client.boto_client_for(region=REGION, service="lambda", state_credentials=None)
    assert boto_client.boto_client_for(region=REGION, service="lambda", state_credentials=object()) is first

    agent = agent_with(api, [{"tool_calls": [{"name": "echo", "arguments": {}}]}, {"text": "ok"}], [ECHO])
    for _ in range(2):  # each run's Lambda tasks go through the shared client to the real handlers
        run = start(api, agent)
        assert run_to_end(api, run["id"])["status"] == "completed"
        assert execution_done(run["id"]) == "SUCCEEDED"


def test_an_item_is_size_checked_once_with_dynamodbs_limit(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": "size"}, "sk": {"N": "1"}}
    sets = []
    setitem = LimitedSizeDict.__setitem__

    def counted(self: Any, name: str, value: Any) -> None:
        sets.append(name)
        setitem(self, name, value)

    monkeypatch.setattr(LimitedSizeDict, "__setitem__", counted)
    many = {f"a{i}": {"S": "x"} for i in range(30)}
    with scratch_table("Size") as table:
        dynamodb.put_item(TableName=table, Item={**key, **many})
        assert sets == []  # built, then its size checked once (moto: a walk over the item per attribute)

        near = 400_000  # DynamoDB's limit is 400 KB, moto's 405,000 bytes (names and values)
        dynamodb.put_item(TableName=table, Item={**key, "big": {"S": "x" * near}})
        with pytest.raises(ClientError) as raised:
            dynamodb.put_item(TableName=table, Item={**key, "big": {"S": "x" * (near + 6_000)}})
        error = raised.value.response["Error"]
        assert error["Code"] == "ValidationException"
        assert "Item size has exceeded the maximum allowed size" in error["Message"]
        assert dynamodb.get_item(TableName=table, Key=key)["Item"]["big"]["S"] == "x" * near  # kept


def test_items_share_their_attribute_names(stack: Any) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    with scratch_table("Names") as table:
        for sk in (1, 2):
            dynamodb.put_item(
                TableName=table, Item={"pk": {"S": "n"}, "sk": {"N": str(sk)}, "status": {"S": "x"}}
            )
        items = dynamodb_backends[MOTO_ACCOUNT_ID][REGION].tables[table].items
        first, second = (
            next(name for name in item.attrs if name == "status")
            for item in items[DynamoType({"S": "n"})].values()
        )
        assert first is second  # one string, not one per item


def test_user_agent_components_are_sanitized_once(stack: Any) -> None:
    from botocore import useragent

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    dynamodb.list_tables()
    before = useragent.sanitize_user_agent_string_component.cache_info()  # type: ignore[attr-defined]
    # botocore's own build of the header (devstack.client_memo keeps whole strings per client)
    to_string = useragent.UserAgentString.to_string
    getattr(to_string, "__wrapped__", to_string)(dynamodb._user_agent_creator)
    after = useragent.sanitize_user_agent_string_component.cache_info()  # type: ignore[attr-defined]
    assert after.hits > before.hits and after.misses == before.misses
    response = dynamodb.list_tables()
    assert useragent.sanitize_user_agent_string_component("a b#c", False) == "a-b-c"
    assert useragent.sanitize_user_agent_string_component("a b#c", True) == "a-b#c"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_an_update_expression_is_parsed_once_and_its_ast_is_not_changed(stack: Any) -> None:
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": "u"}, "sk": {"N": "1"}}
    expression = "SET n = if_not_exists(n, :zero) + :step, tags = list_append(if_not_exists(tags, :none), :t)"
    with scratch_table("Parse") as table:
        before = UpdateExpressionParser.make.cache_info()  # type: ignore[attr-defined]
        for step in ("1", "5"):  # the second update reads the first's result through the same AST
            dynamodb.update_item(
                TableName=table,
                Key=key,
                UpdateExpression=expression,
                ExpressionAttributeValues={
                    ":zero": {"N": "0"},
                    ":step": {"N": step},
                    ":none": {"L": []},
                    ":t": {"L": [{"S": step}]},
                },
            )
        after = UpdateExpressionParser.make.cache_info()  # type: ignore[attr-defined]
        item = dynamodb.get_item(TableName=table, Key=key)["Item"]
        for _ in range(2):  # an invalid expression fails every time: its failed parse is not cached
            with pytest.raises(ClientError) as raised:
                dynamodb.update_item(TableName=table, Key=key, UpdateExpression="SET n = = 1")
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 3
    assert item["n"] == {"N": "6"} and item["tags"] == {"L": [{"S": "1"}, {"S": "5"}]}
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def _shape(node: Any) -> Any:
    """A Node tree as plain data (each node's class, attributes and its parent's class)."""
    from moto.dynamodb.parsing.ast_nodes import Node

    if isinstance(node, list):
        return [_shape(child) for child in node]
    if isinstance(node, Node):
        return (
            type(node).__name__,
            {k: type(v).__name__ if k == "parent" else _shape(v) for k, v in vars(node).items()},
        )
    return repr(node)


EXPRESSION = (
    "SET #n = if_not_exists(#n, :zero) + :step, tags = list_append(if_not_exists(tags, :none), :t), "
    "m.x[0] = :t REMOVE gone ADD s :s DELETE d :s"
)


def test_the_validator_copies_a_parsed_ast_from_its_pickle(stack: Any) -> None:
    import copy

    from moto.dynamodb.parsing import validators
    from moto.dynamodb.parsing.ast_nodes import Node
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    from devstack import overhead

    ast = UpdateExpressionParser.make(EXPRESSION)
    assert validators.deepcopy is overhead._copy_ast  # type: ignore[attr-defined]
    assert ast in overhead._pickles
    copied = validators.deepcopy(ast)  # type: ignore[attr-defined]
    assert copied is not ast and _shape(copied) == _shape(copy.deepcopy(ast))

    def parents(node: Any) -> None:  # each child's parent is its own parent in the copy
        for child in node.children or []:
            if isinstance(child, Node):
                assert child.parent is node
                parents(child)

    parents(copied)
    other = {"not": ["a parse"]}
    assert overhead._copy_ast(other) == other and overhead._copy_ast(other) is not other


def test_a_condition_is_lexed_once_and_still_binds_each_requests_values(stack: Any) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": "c"}, "sk": {"N": "1"}}
    condition = "attribute_not_exists(#v) OR #v = :expected"
    lexed = ConditionExpressionParser._lex_condition_expression
    with scratch_table("Condition") as table:
        before = lexed.cache_info()  # type: ignore[attr-defined]
        for version, expected in (("1", "0"), ("2", "1")):
            dynamodb.put_item(
                TableName=table,
                Item={**key, "v": {"N": version}},
                ConditionExpression=condition,
                ExpressionAttributeNames={"#v": "v"},
                ExpressionAttributeValues={":expected": {"N": expected}},
            )
        with pytest.raises(ClientError) as failed:  # the same string, another value: evaluated anew
            dynamodb.put_item(
                TableName=table,
                Item={**key, "v": {"N": "3"}},
                ConditionExpression=condition,
                ExpressionAttributeNames={"#v": "v"},
                ExpressionAttributeValues={":expected": {"N": "1"}},
            )
        after = lexed.cache_info()  # type: ignore[attr-defined]
        assert dynamodb.get_item(TableName=table, Key=key)["Item"]["v"] == {"N": "2"}
    for _ in range(2):  # a string that does not lex fails every time, as in moto
        with pytest.raises(ValueError, match="Cannot parse condition"):
            ConditionExpressionParser("a = $b", None, None).parse()
    assert after.misses - before.misses <= 1 and after.hits - before.hits >= 1  # (9.) spares the rest
    assert failed.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_validating_an_update_chooses_each_processor_as_moto_does(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType, Item
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from moto.dynamodb.parsing.validators import UpdateExpressionValidator

    table = dynamodb_backends[MOTO_ACCOUNT_ID][REGION]
    with scratch_table("Traverse") as name:
        moto_table = table.get_table(name)
        values = {
            ":zero": {"N": "0"},
            ":step": {"N": "2"},
            ":none": {"L": []},
            ":t": {"L": [{"S": "x"}]},
            ":s": {"SS": ["a"]},
        }
        attrs = {"pk": {"S": "t"}, "sk": {"N": "1"}, "m": {"M": {"x": {"L": [{"S": "y"}]}}}}

        def validated() -> Any:
            item = Item(DynamoType(attrs["pk"]), DynamoType(attrs["sk"]), attrs)
            return UpdateExpressionValidator(
                UpdateExpressionParser.make(EXPRESSION),
                expression_attribute_names={"#n": "n"},
                expression_attribute_values=values,
                item=item,
                table=moto_table,
            ).validate()

        ours = _shape(validated())
        walk = DepthFirstTraverser.traverse_node_recursively
        assert "original" in walk.__code__.co_freevars  # devstack.overhead's walk is installed
        original = walk.__closure__[walk.__code__.co_freevars.index("original")].cell_contents  # type: ignore[index]
        monkeypatch.setattr(DepthFirstTraverser, "traverse_node_recursively", original)
        assert _shape(validated()) == ours
    assert "DDBTypedValue" in repr(ours)  # values were resolved into the copy


def test_a_writes_condition_is_parsed_once_per_names_and_values(stack: Any) -> None:
    from moto.dynamodb.comparisons import ConditionExpressionParser

    dynamodb = boto3.client("dynamodb", region_name=REGION)
    key = {"pk": {"S": "t"}, "sk": {"N": "1"}}
    stats = ConditionExpressionParser.parse.stats  # type: ignore[attr-defined]

    def put(version: str, expected: str) -> None:
        dynamodb.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": table,
                        "Item": {**key, "v": {"N": version}},
                        "ConditionExpression": "attribute_not_exists(#version) OR #version = :want",
                        "ExpressionAttributeNames": {"#version": "v"},
                        "ExpressionAttributeValues": {":want": {"N": expected}},
                    }
                }
            ]
        )

    with scratch_table("Conditions") as table:
        before = dict(stats)
        put("1", "0")
        put("2", "1")  # the same expression with another value: parsed anew, then shared
        after = dict(stats)
        with pytest.raises(ClientError) as cancelled:
            put("3", "1")  # the memoized parse of :expected = 1 is evaluated against the new item
        assert dynamodb.get_item(TableName=table, Key=key)["Item"]["v"] == {"N": "2"}
    assert after["misses"] - before["misses"] == 2
    assert after["hits"] - before["hits"] >= 2  # each transaction's later parses
    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["ConditionalCheckFailed"]


def test_a_memoized_condition_is_not_changed_by_the_item_its_values_went_into(stack: Any) -> None:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    unless_same = {
        "ConditionExpression": "attribute_not_exists(s) OR s <> :s",
        "ExpressionAttributeValues": {":s": {"SS": ["x"]}},
        "UpdateExpression": "SET s = :s",
    }
    with scratch_table("Conditions") as table:
        first, second = {"pk": {"S": "a"}, "sk": {"N": "1"}}, {"pk": {"S": "b"}, "sk": {"N": "1"}}
        dynamodb.update_item(TableName=table, Key=first, **unless_same)  # the request's set is now a's
        dynamodb.update_item(  # grows a's set in place (moto)
            TableName=table,
            Key=first,
            UpdateExpression="ADD s :y",
            ExpressionAttributeValues={":y": {"SS": ["y"]}},
        )
        dynamodb.put_item(TableName=table, Item={**second, "s": {"SS": ["x"]}})
        with pytest.raises(ClientError) as refused:  # b's set is {x}: `s <> :s` is false
            dynamodb.update_item(TableName=table, Key=second, **unless_same)
    assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"


def test_finding_clauses_descends_as_moto_does(stack: Any) -> None:
    from moto.dynamodb.parsing import ast_nodes
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    assert "_find_clauses_knowing_classes" in ast_nodes.Node.find_clauses.__qualname__

    def reference(node: Any, clause_types: Any) -> list[Any]:  # moto 5.2.5's find_clauses
        clauses = []
        for child in node.children or []:
            if type(child) in clause_types:
                clauses.append(child)
            elif isinstance(child, (ast_nodes.Expression, ast_nodes.UpdateExpressionFunction)):
                clauses.extend(reference(child, clause_types))
        return clauses

    ast = UpdateExpressionParser.make(EXPRESSION)
    for types in (
        [ast_nodes.UpdateExpressionSetAction],
        [ast_nodes.UpdateExpressionRemoveAction, ast_nodes.UpdateExpressionAddAction],
        [ast_nodes.UpdateExpressionPath],
        [ast_nodes.ExpressionAttributeValue],
    ):
        assert ast.find_clauses(types) == reference(ast, types)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    with scratch_table("Clauses") as table, pytest.raises(ClientError) as twice:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": "c"}, "sk": {"N": "1"}},
            UpdateExpression="SET a = :v SET b = :v",  # two SET clauses, found by find_clauses
            ExpressionAttributeValues={":v": {"S": "x"}},
        )
    assert twice.value.response["Error"]["Code"] == "ValidationException"


def test_a_backend_is_found_at_once_and_a_new_account_still_registered(stack: Any) -> None:
    from moto.core.base_backend import BackendDict

    assert "_find_registered_backends_at_once" in BackendDict.__getitem__.__qualname__
    found = dynamodb_backends[MOTO_ACCOUNT_ID]
    assert found is dict.__getitem__(dynamodb_backends, MOTO_ACCOUNT_ID)
    account = "210987654321"  # an account no request used: created and registered, as moto does
    assert account not in dynamodb_backends
    created = dynamodb_backends[account]
    try:
        assert dynamodb_backends[account] is created
        assert any(known is dynamodb_backends for known in BackendDict._instances)
        assert created[REGION].tables == {}
    finally:
        dict.__delitem__(dynamodb_backends, account)


def test_responses_get_a_request_id_and_xml_bodies_still_carry_it(stack: Any) -> None:
    import re

    assert "_enrich_responses_cheaply" in responses.BaseResponse._enrich_response.__qualname__
    ids = set()
    for body in ('{"Items": []}', "<R><RequestId>old</RequestId></R>", b"<RequestId>x</RequestId>", None):
        headers, enriched = responses.BaseResponse._enrich_response({"status": 201}, body)
        request_id = headers["x-amzn-requestid"]
        assert re.fullmatch(r"[A-Za-z0-9]{52}", request_id)
        assert headers["status"] == "201"
        ids.add(request_id)
        if body == "<R><RequestId>old</RequestId></R>":
            assert enriched == f"<R><RequestId>{request_id}</RequestId></R>"
        else:
            assert enriched == body  # nothing to replace, or not text: as moto leaves it
    assert len(ids) == 4
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    answer = dynamodb.list_tables(Limit=1)["ResponseMetadata"]
    assert re.fullmatch(r"[A-Za-z0-9]{52}", answer["RequestId"])

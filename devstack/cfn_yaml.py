"""Load a CloudFormation/SAM YAML template into plain Python data.

CloudFormation's short-form tags become their long (JSON) form, so callers see exactly what
CloudFormation would:

    !Ref X            -> {"Ref": "X"}
    !GetAtt A.B       -> {"Fn::GetAtt": ["A", "B"]}     (also !GetAtt [A, B])
    !Condition C      -> {"Condition": "C"}
    !Sub "..."        -> {"Fn::Sub": "..."}             (and every other !Fn: {"Fn::Fn": value})

Scalars keep CloudFormation's meaning: dates such as 2010-09-09 stay strings.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

__all__ = ["load_template", "loads_template"]


class _CfnLoader(yaml.SafeLoader):  # type: ignore[misc]  # PyYAML ships no type hints
    """SafeLoader plus CloudFormation short-form tags; no implicit timestamps."""


# CloudFormation keeps "2010-09-09" a string; YAML 1.1 would make it a date.
_CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _node_value(loader: _CfnLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}", node.start_mark)


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict[str, Any]:
    value = _node_value(loader, node)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt":
        if isinstance(value, str):
            resource, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [resource, attribute]}
        return {"Fn::GetAtt": list(value)}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def loads_template(text: str) -> dict[str, Any]:
    """Parse template text (YAML or JSON) into a dict."""
    data = yaml.load(text, Loader=_CfnLoader)  # a SafeLoader subclass: no arbitrary objects
    if not isinstance(data, dict):
        raise ValueError("a CloudFormation template must be a mapping at the top level")
    return data


def load_template(path: str | Path) -> dict[str, Any]:
    """Parse the template file at ``path`` into a dict."""
    return loads_template(Path(path).read_text(encoding="utf-8"))

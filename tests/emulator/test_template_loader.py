"""devstack.template.load_template: template.yaml as SAM reads it (samtranslator's YAML loader), short-form
tags in their long form."""

from pathlib import Path

import pytest

from devstack.template import load_template

TAGS = """\
AWSTemplateFormatVersion: "2010-09-09"
Resources:
  Fn:
    Properties:
      Table: !Ref RunsTable
      Arn: !GetAtt RunsTable.StreamArn
      Listed: !GetAtt [RunsTable, Arn]
      Name: !Sub "${AWS::StackName}-runs"
      Pair: !Sub ["${Prefix}-x", {Prefix: !Ref Env}]
      Joined: !Join ["", [a, !Ref B]]
      When: !Condition IsProd
      Chosen: !If [IsProd, 1, 2]
"""


def test_short_form_tags_become_their_long_form(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(TAGS, encoding="utf-8")
    document = load_template(path)
    assert document["AWSTemplateFormatVersion"] == "2010-09-09"
    assert document["Resources"]["Fn"]["Properties"] == {
        "Table": {"Ref": "RunsTable"},
        "Arn": {"Fn::GetAtt": ["RunsTable", "StreamArn"]},
        "Listed": {"Fn::GetAtt": ["RunsTable", "Arn"]},
        "Name": {"Fn::Sub": "${AWS::StackName}-runs"},
        "Pair": {"Fn::Sub": ["${Prefix}-x", {"Prefix": {"Ref": "Env"}}]},
        "Joined": {"Fn::Join": ["", ["a", {"Ref": "B"}]]},
        "When": {"Condition": "IsProd"},
        "Chosen": {"Fn::If": ["IsProd", 1, 2]},
    }


def test_a_template_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text("- a list\n", encoding="utf-8")
    with pytest.raises(ValueError, match="mapping"):
        load_template(path)

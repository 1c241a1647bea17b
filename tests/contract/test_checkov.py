"""checkov on template.yaml: no failed check. It runs from its own virtualenv (.venv-checkov/, which
`make test` makes from requirements-checkov.lock), through tests/contract/checkov_run.py (checkov's
entry point with its JSONPath parser built once); .checkov.yaml and resources' Metadata say what is skipped
and why."""

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

CHECKOV_PYTHON = REPO_ROOT / ".venv-checkov" / "bin" / "python"
CHECKOV_RUN = Path(__file__).resolve().parent / "checkov_run.py"


@pytest.fixture(scope="module")
def checkov_python() -> Path:
    if not CHECKOV_PYTHON.exists():
        missing = CHECKOV_PYTHON.relative_to(REPO_ROOT)
        pytest.fail(f"{missing} is missing: `make checkov` (or `make test`) makes it")
    return CHECKOV_PYTHON


def test_checkov_passes_the_template(checkov_python: Path) -> None:
    result = subprocess.run(
        [
            str(checkov_python),
            str(CHECKOV_RUN),
            *("--config-file", ".checkov.yaml", "--skip-download"),
            "--output",
            "json",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert summary["parsing_errors"] == 0, result.stdout
    assert summary["passed"] > 50 and summary["resource_count"] > 50, summary  # it read the whole template
    assert result.returncode == 0, result.stderr


# JSONPaths of the shapes checkov's graph and its checks parse, and one that does not parse; each is
# parsed by a fresh parser first, then through checkov_run's cached ones.
PARSES_AS_FRESH = """
import ply.yacc
from bc_jsonpath_ng import JSONPath, parse
from bc_jsonpath_ng.ext import parse as ext_parse

PATHS = ["Properties.Environment.Variables.TABLE", "Resources.*.Properties", "Properties.Layers[0]",
         "$..Ref", "a[*].b", "a.`parent`", "a | b", "a where b", "a[1:3]", "a..b", "(a).b",
         "Properties[?(@.Type == 'AWS::Serverless::Function')]", "a.[", "Tags[?Key = 'x'].Value"]

def tree(node):
    if isinstance(node, JSONPath):
        return type(node).__name__, {name: tree(value) for name, value in sorted(vars(node).items())}
    if isinstance(node, (list, tuple)):
        return [tree(value) for value in node]
    return repr(node)

def parsed(parser, path):
    try:
        return tree(parser(path))
    except Exception as error:
        return type(error).__name__

fresh = {parser: [parsed(parser, path) for path in PATHS] for parser in (parse, ext_parse)}
import checkov_run  # noqa: E402
builds = []
real = ply.yacc.yacc
ply.yacc.yacc = lambda **options: builds.append(options["module"]) or real(**options)
for parser in (parse, ext_parse):
    for _ in range(2):
        cached = [parsed(parser, path) for path in PATHS]
        assert cached == fresh[parser], (fresh[parser], cached)
assert len(builds) == 2, builds  # once per parser class, not once per path
print(sum(not isinstance(result, str) for results in fresh.values() for result in results), "parsed")
"""


def test_the_cached_jsonpath_parser_parses_as_a_fresh_one(checkov_python: Path) -> None:
    """checkov_run.py's patch is in place (one table build per parser class) and changes no parse."""
    result = subprocess.run(
        [str(checkov_python), "-c", PARSES_AS_FRESH],
        cwd=CHECKOV_RUN.parent,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.split()[0]) >= 20, result.stdout  # the paths parse (but the broken one)

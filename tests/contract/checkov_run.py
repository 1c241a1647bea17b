"""checkov's own entry point (what .venv-checkov/bin/checkov runs), with its JSONPath parser built once.

Run by tests/contract/test_checkov.py with .venv-checkov's Python (checkov's dependencies only, no others).

- What checkov does: bc_jsonpath_ng (checkov's fork of jsonpath-ng) builds its LALR parse tables with
  `ply.yacc.yacc(..., write_tables=0)` on every JSONPath it parses ("we regenerate the parse table every
  time; it doesn't actually take that long!"), and checkov's CloudFormation graph parses one for each
  attribute it renders: 218 table builds for template.yaml.
- What it costs: about half of checkov's CPU on template.yaml (cProfile: 26 s of 54 s profiled; 20.8 s →
  12.5 s of CPU unprofiled, `/usr/bin/time` on the command test_checkov.py runs).
- What we do instead: the tables for a parser class and start symbol are built once per thread and the
  parser reused. ply's LRParser keeps no state between parse() calls, and the grammar's p_* methods use
  nothing of the instance they are bound to, so each parse gives what a fresh parser gives; the report is
  the same (tests/contract/test_checkov.py::test_the_cached_jsonpath_parser_parses_as_a_fresh_one).
- If bc_jsonpath_ng changes the code this relies on, importing this module raises: drop or redo the patch.
"""

import inspect
import sys
import threading
import warnings
from types import SimpleNamespace
from typing import Any

import bc_jsonpath_ng.parser
import ply.yacc

EXPECTED = ("new_parser = ply.yacc.yacc(", "module=self,", "debug=self.debug,", "start=start_symbol,")


def install() -> None:
    source = inspect.getsource(bc_jsonpath_ng.parser.JsonPathParser.parse_token_stream)
    missing = [text for text in EXPECTED if text not in source]
    uses_ply = bc_jsonpath_ng.parser.ply is sys.modules["ply"] and "yacc" not in vars(bc_jsonpath_ng.parser)
    if missing or not uses_ply:
        raise RuntimeError(f"bc_jsonpath_ng.parser changed ({missing}): redo tests/contract/checkov_run.py")
    built = threading.local()

    def yacc(*, module: Any, start: str, debug: bool, **options: Any) -> Any:
        parsers = built.__dict__.setdefault("parsers", {})
        key = (type(module), start, debug)
        if key not in parsers:
            parsers[key] = ply.yacc.yacc(module=module, start=start, debug=debug, **options)
        return parsers[key]

    # Only bc_jsonpath_ng.parser's name `ply` changes: other users of ply see the real one.
    bc_jsonpath_ng.parser.ply = SimpleNamespace(yacc=SimpleNamespace(yacc=yacc))  # type: ignore[attr-defined]


install()

if __name__ == "__main__":
    from checkov.main import Checkov

    with warnings.catch_warnings():  # as .venv-checkov/bin/checkov does
        warnings.simplefilter("ignore", category=SyntaxWarning)
        sys.exit(Checkov().run())

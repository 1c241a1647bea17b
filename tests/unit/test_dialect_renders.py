"""The 405 catch-all's map of dialect base paths (renders.DIALECT_MODULES) is written out so that it need
not import every dialect: it must name each dialect module's own BASE, or a 405 there would be rendered in
/v1's problem+json instead of the dialect's error shape."""

import pkgutil
from importlib import import_module

import pytest

from runs_core import dialects
from runs_core.api.problems import from_error
from runs_core.dialects import renders


def _dialects_with_their_own_errors() -> dict[str, str]:
    """{BASE: module} of every dialect module that defines a RENDER other than /v1's."""
    found = {}
    for info in pkgutil.iter_modules(dialects.__path__):
        module = import_module(f"runs_core.dialects.{info.name}")
        render = getattr(module, "RENDER", None)
        if hasattr(module, "BASE") and render is not None and render is not from_error:
            found[module.BASE] = info.name
    return found


def test_the_map_names_every_dialect_base_and_module():
    assert _dialects_with_their_own_errors() == renders.DIALECT_MODULES


@pytest.mark.parametrize(("base", "module"), sorted(renders.DIALECT_MODULES.items()))
def test_a_path_under_a_dialect_gets_that_dialects_render(base, module):
    assert renders.render_for(f"{base}/anything") is import_module(f"runs_core.dialects.{module}").RENDER


def test_a_path_elsewhere_gets_problem_json():
    assert renders.render_for("/v1/runs") is from_error
    assert renders.render_for("/dialects/unknown/x") is from_error

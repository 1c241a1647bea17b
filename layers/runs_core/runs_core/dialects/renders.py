"""Which error body a path gets outside its dialect's own resolver (the 405 catch-all,
MethodNotAllowedFunction): its dialect's RENDER under /dialects/<name>, else /v1's problem+json.

The dialect's module is imported only when one of its paths is answered: the 405 function's cold start
stays free of the dialects' routers and models (lazy, for cold start)."""

from importlib import import_module

from runs_core.api.problems import Render, from_error

# base path → module in runs_core.dialects that defines BASE and RENDER (tr answers in /v1's problem+json).
DIALECT_MODULES = {
    "/dialects/ziet/v1": "ziet",
    "/dialects/kognitos/v2": "kognitos",
    "/dialects/roe": "roe",
    "/dialects/appstrate": "appstrate",
    "/dialects/openai/v1": "openai_responses",
    "/dialects/langgraph": "langgraph",
}


def render_for(path: str) -> Render:
    """How errors on `path` are rendered: its dialect's way, else problem+json."""
    for base, module in DIALECT_MODULES.items():
        if path.startswith(base + "/"):
            render: Render = import_module(f"runs_core.dialects.{module}").RENDER
            return render
    return from_error

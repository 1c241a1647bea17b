"""The Agent Protocol / LangGraph dialect (docs/api.md §8, /dialects/langgraph): a thin handler over
runs_core; the routes and the `{detail}` error bodies live in runs_core.dialects.langgraph.

Deployed, like EventsFunction, the function runs behind the AWS Lambda Web Adapter (Handler `run.sh`): its
web server (runs_core.api.lwa_server) calls `stream_handler`, so `runs.stream` and `runs.join_stream` are
written part by part through API Gateway's STREAM transfer mode, and `wait`/`join` may wait past 29 s.
The local stack calls `stream_handler` too; `lambda_handler` buffers (at most 25 s).
"""

from runs_core.api.app import create_app, make_handler
from runs_core.api.sse import make_stream_handler
from runs_core.dialects.langgraph import RENDER, router

app = create_app(router, render=RENDER)
lambda_handler = make_handler(app, RENDER)
stream_handler = make_stream_handler(lambda_handler)

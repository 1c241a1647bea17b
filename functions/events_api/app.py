"""Run events (docs/api.md §6): polling and SSE over the event log; the routes live in
runs_core.api.routes.events.

Deployed, the function runs behind the AWS Lambda Web Adapter (Handler `run.sh`, see template.yaml):
its web server (runs_core.api.lwa_server) calls `stream_handler` for every request, so an SSE body is
the live frames iterator, written as it is produced through API Gateway's STREAM transfer mode; JSON
polling answers in one piece the same way. The local stack's server calls `stream_handler` too.
`lambda_handler` is the same handler with the SSE body buffered (long-poll SSE, `wait` ≤ 25 s).
"""

from runs_core.api.app import create_app, make_handler
from runs_core.api.routes.events import router
from runs_core.api.sse import make_stream_handler

app = create_app(router)
lambda_handler = make_handler(app)
stream_handler = make_stream_handler(lambda_handler)

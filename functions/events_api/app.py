"""Run events (API.md §6): polling and SSE over the event log; the routes live in runs_core.api.routes_events.

`stream_handler` is the same handler for hosts that can stream a response (the local server): its SSE
body is the live frames iterator. Lambda uses `lambda_handler`, whose SSE body is buffered.
"""

from runs_core.api.app import create_app, make_handler
from runs_core.api.routes_events import router
from runs_core.api.sse import make_stream_handler

app = create_app(router)
lambda_handler = make_handler(app)
stream_handler = make_stream_handler(lambda_handler)

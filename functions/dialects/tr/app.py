"""The threads/runs dialect (docs/api.md §8, /dialects/tr/v1): a thin handler over runs_core; the routes
live in runs_core.dialects.tr. Its SSE route streams live where the host can (the local stack calls
`stream_handler`); deployed, `lambda_handler` answers it as long-poll SSE (`wait` ≤ 25 s)."""

from runs_core.api.app import create_app, make_handler
from runs_core.api.sse import make_stream_handler
from runs_core.dialects.tr import router

app = create_app(router)
lambda_handler = make_handler(app)
stream_handler = make_stream_handler(lambda_handler)

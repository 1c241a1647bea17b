"""The OpenAI Responses dialect (docs/api.md §8, /dialects/openai/v1): a thin handler over runs_core; the
routes and OpenAI's error bodies live in runs_core.dialects.openai_responses.

Deployed, like EventsFunction, the function runs behind the AWS Lambda Web Adapter (Handler `run.sh`): its
web server (runs_core.api.lwa_server) calls `stream_handler`, so a response created or read with
`stream` is written event by event through API Gateway's STREAM transfer mode. The local stack calls
`stream_handler` too; `lambda_handler` buffers a stream (at most 25 s of it).
"""

from runs_core.api.app import create_app, make_handler
from runs_core.api.sse import make_stream_handler
from runs_core.dialects.openai_responses import RENDER, router

app = create_app(router, render=RENDER)
lambda_handler = make_handler(app, RENDER)
stream_handler = make_stream_handler(lambda_handler)

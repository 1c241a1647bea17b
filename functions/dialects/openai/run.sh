#!/bin/bash
# OpenAIDialectFunction's startup script, as functions/events_api/run.sh. The AWS Lambda Web Adapter
# layer's /opt/bootstrap (the function's AWS_LAMBDA_EXEC_WRAPPER) runs "$LAMBDA_TASK_ROOT/$_HANDLER", i.e.
# this file, instead of the Python runtime's handler loop: it starts the web server LWA forwards each
# invocation to, which calls app.stream_handler and writes SSE frames as they are produced
# (runs_core/api/lwa_server.py).
set -euo pipefail
# The import path the Python runtime would give a handler: the function, then the layers (runs_core and
# its pinned dependencies), then the runtime's own packages (boto3).
export PYTHONPATH="${LAMBDA_TASK_ROOT}:/opt/python/lib/python3.12/site-packages:/opt/python:${LAMBDA_RUNTIME_DIR:-/var/runtime}${PYTHONPATH:+:${PYTHONPATH}}"
export PYTHONUNBUFFERED=1 # log lines reach CloudWatch as they are written
exec python3 -m runs_core.api.lwa_server app:stream_handler

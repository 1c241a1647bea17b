"""The one Logger, Tracer and Metrics of the service (Powertools). Correlation id = API request id.

Tracer and Metrics are made on first use: Tracer imports the X-Ray SDK (~200 ms of cold start), which
the authorizer, for one, never needs.
"""

from typing import Any

from aws_lambda_powertools import Logger

SERVICE = "runs-api"
logger = Logger(service=SERVICE)
_lazy: dict[str, Any] = {}


def __getattr__(name: str) -> Any:
    if name not in ("tracer", "metrics"):
        raise AttributeError(name)
    if name not in _lazy:
        from aws_lambda_powertools import Metrics, Tracer

        _lazy[name] = (
            Tracer(service=SERVICE) if name == "tracer" else Metrics(namespace="RunsApi", service=SERVICE)
        )
    return _lazy[name]

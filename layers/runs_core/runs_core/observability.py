"""The one Logger, Tracer and Metrics of the service (Powertools). Correlation id = API request id."""

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="runs-api")
tracer = Tracer(service="runs-api")
metrics = Metrics(namespace="RunsApi", service="runs-api")

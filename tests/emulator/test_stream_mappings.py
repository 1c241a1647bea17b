"""devstack.streams: a DynamoDB event source of the template runs as a poller that invokes the handler with
real-shaped stream events, honours BatchSize, FilterCriteria and partial batch failures, and sends what
still fails after MaximumRetryAttempts to the OnFailure queue."""

import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import boto3

from devstack.dynamodb import create_tables
from devstack.lambdas import LocalFunction
from devstack.streams import StreamMappings, create_buses_and_queues
from devstack.template import REGION, Template

TEMPLATE = """
Resources:
  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: .
      Handler: app.handler
      Events:
        Probe:
          Type: DynamoDB
          Properties:
            Stream: !GetAtt {table}.StreamArn
            StartingPosition: TRIM_HORIZON
            BatchSize: 3
            MaximumRetryAttempts: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
            FilterCriteria:
              Filters:
                - Pattern: '{{"eventName": ["INSERT"]}}'
            DestinationConfig:
              OnFailure:
                Type: SQS
                Destination: !GetAtt {queue}.Arn
  {queue}:
    Type: AWS::SQS::Queue
  {table}:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: id, AttributeType: N}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: NEW_IMAGE}}
"""


def test_poller_batches_filters_retries_and_dead_letters(stack: Any, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:8]
    table, queue = f"ProbeTable{suffix}", f"ProbeDlq{suffix}"
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE.format(table=table, queue=queue))
    template = Template(path)
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    sqs = boto3.client("sqs", region_name=REGION)
    create_tables(template, dynamodb)
    create_buses_and_queues(template, boto3.client("events", region_name=REGION), sqs)

    batches: list[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        with lock:
            batches.append(event["Records"])
        failures = [
            {"itemIdentifier": r["dynamodb"]["SequenceNumber"]}
            for r in event["Records"]
            if r["dynamodb"]["NewImage"]["id"]["N"] == "5"
        ]
        return {"batchItemFailures": failures}

    function = LocalFunction("ProbeFunction", "ProbeFunction", handler, 128, 3)
    for item_id in range(1, 7):
        dynamodb.put_item(TableName=table, Item={"id": {"N": str(item_id)}})
    dynamodb.update_item(  # a MODIFY: filtered out
        TableName=table,
        Key={"id": {"N": "1"}},
        UpdateExpression="SET x = :x",
        ExpressionAttributeValues={":x": {"S": "y"}},
    )
    mappings = StreamMappings(
        template,
        {"ProbeFunction": function},
        dynamodb=dynamodb,
        streams=boto3.client("dynamodbstreams", region_name=REGION),
        sqs=sqs,
    )
    mappings.start()
    try:
        queue_url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        deadline = time.monotonic() + 20
        messages: list[dict[str, Any]] = []
        while not messages and time.monotonic() < deadline:
            messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=0).get("Messages", [])
            time.sleep(0.05)
    finally:
        mappings.stop()

    assert messages, "nothing reached the on-failure queue"
    info = json.loads(messages[0]["Body"])
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["DDBStreamBatchInfo"]["batchSize"] == 2  # items 5 and 6
    ids = [[int(r["dynamodb"]["NewImage"]["id"]["N"]) for r in batch] for batch in batches]
    # BatchSize 3; the second batch fails at 5 and is retried from there twice (MaximumRetryAttempts 2).
    assert ids == [[1, 2, 3], [4, 5, 6], [5, 6], [5, 6]]
    record = batches[0][0]
    assert record["eventName"] == "INSERT" and record["eventSource"] == "aws:dynamodb"
    assert record["eventSourceARN"].startswith(f"arn:aws:dynamodb:{REGION}:")
    assert set(record["dynamodb"]) >= {"Keys", "NewImage", "SequenceNumber", "StreamViewType"}
    assert isinstance(record["dynamodb"]["ApproximateCreationDateTime"], int)

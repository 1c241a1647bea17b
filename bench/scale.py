"""GET and list latency with 1k vs 100k runs stored for one org, on the local stack.

Runs are seeded straight into moto's Runs table, cloned from a run the API created (same item shape
as storage/runs.py writes, incl. the GSI attributes org_status, org_agent), with fresh time-ordered
ids; 90% completed, 10% failed. Seeding is set-up, not what is measured: each item goes to moto's
backend `put_item` under the moto lock, as moto's own BatchWriteItem does per item, without a
request (botocore's serializing and moto's parsing of 100,000 items would take minutes). The GETs
and lists measured go through the API. The local stack's Query reads its partition
from the start key to its page (devstack.query_index), as DynamoDB does; the DynamoDB calls and items read
per request are what stays constant on real DynamoDB.
"""

import os
import statistics
import time
from typing import Any

import boto3
from ulid import ULID

from bench.endpoints import Client, Request, sample
from devstack.stack import DevStack

SIZES = (1_000, 100_000)
SEED_BUDGET_S = 55.0  # for all seeding; if moto is slower, fewer runs are stored (and reported)
SEED_BATCH = 500  # items put per hold of the moto lock


def _seed(table: str, template: dict[str, Any], count: int, deadline: float) -> int:
    from moto.dynamodb.models import dynamodb_backends

    from devstack.aws import moto_lock
    from devstack.template import MOTO_ACCOUNT_ID, REGION

    backend = dynamodb_backends[MOTO_ACCOUNT_ID][REGION]
    org = template["org_id"]["S"]
    seeded = 0
    while seeded < count and time.monotonic() < deadline:
        batch = []
        for _ in range(min(SEED_BATCH, count - seeded)):
            status = "failed" if (seeded + len(batch)) % 10 == 0 else "completed"
            batch.append(
                {
                    **template,
                    "id": {"S": f"run_{ULID()}"},
                    "status": {"S": status},
                    "org_status": {"S": f"{org}#{status}"},
                }
            )
        with moto_lock():  # like any moto request; released between batches for the stack's own threads
            for item in batch:
                backend.put_item(table, item)
        seeded += len(batch)
    return seeded


def _time(client: Client, request: Request) -> dict[str, Any]:
    status, counts, timings = sample(client, "GET", lambda: request)
    return {
        "status": status,
        "p50": statistics.median(timings),
        "dynamodb_calls": counts.dynamodb,
        "items_read": counts.items_read,
        "by_api": counts.by_api(),
    }


def measure(stack: DevStack, run_id: str) -> list[dict[str, Any]]:
    """[{stored, seed_s, results: {case: {...}}}] for each size (run_id: a run of the dev org to clone)."""
    client = Client(stack, stack.dev_key)
    dynamodb = boto3.client("dynamodb", region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    table = os.environ["RUNS_TABLE"]
    template = dynamodb.get_item(TableName=table, Key={"id": {"S": run_id}})["Item"]
    org = template["org_id"]["S"]
    template = {key: value for key, value in template.items() if key not in ("pending",)}
    deadline = time.monotonic() + SEED_BUDGET_S
    stored = dynamodb.query(
        TableName=table,
        IndexName="by_org",
        KeyConditionExpression="org_id = :o",
        ExpressionAttributeValues={":o": {"S": org}},
        Select="COUNT",
    )["Count"]
    out = []
    for size in SIZES:
        started = time.monotonic()
        if stored < size:
            stored += _seed(table, template, size - stored, deadline)
        seed_s = time.monotonic() - started
        cases = {
            "GET /v1/runs/{id}": Request(f"/v1/runs/{run_id}"),
            "GET /v1/runs?limit=20": Request("/v1/runs", query="limit=20"),
            "GET /v1/runs?status=failed&limit=20": Request("/v1/runs", query="status=failed&limit=20"),
        }
        out.append(
            {
                "stored": stored,
                "seed_s": seed_s,
                "results": {name: _time(client, request) for name, request in cases.items()},
            }
        )
    return out

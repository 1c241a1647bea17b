"""`make bench`: one table of numbers, printed and written to bench/RESULTS.md with the machine and date.

1. cold import: wall time of importing each function's handler module after boto3 (bench.imports)
2. AWS calls per request of every route in template.yaml, with in-process latency (bench.endpoints)
3. state transitions, Lambda invocations and orchestration cost of a 10-decision run (bench.execution)
4. runs completed per minute on the local stack (bench.throughput)
5. RSS and runs/min over 1,000 runs through the API, 4 client threads (bench.soak; BENCH_SOAK_RUNS)
6. GET and list with 1k vs 100k runs stored (bench.scale; last: it leaves moto's tables large)
7. event write → SSE / WebSocket latency, a real local server in a subprocess (bench.latency)
8. live model output: model chunk → SSE / WebSocket client, first chunk → first delta, and the write
   cost of live deltas per 1,000 streamed tokens (bench.streaming)

No pass/fail thresholds. The local stack runs everything in one process on moto: latencies are
in-process and shared with whatever else runs on the machine; the call counts are the real cost.
"""

import math
import os
import sys
import time

# The handlers' INFO lines (one per request, per task) would bury the table: only warnings and errors.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
from pathlib import Path
from typing import Any

from bench import calls, endpoints, execution, imports, latency, scale, soak, streaming, throughput
from bench.table import Table, machine, write_results

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def notes(info: dict[str, str]) -> list[str]:
    """The notes under the table; the core count is this machine's (bench.table.machine)."""
    cores = info.get("cores", "?")
    return [
        f"The machine may be shared ({cores} cores; other test runs may run in parallel): every latency "
        "here is noisy; the call counts, items read, transitions and invocations are deterministic.",
        "Cold import: the wall time of importing the function's handler module after `import boto3` "
        "(Lambda's runtime provides boto3), median of "
        f"{imports.REPEATS} fresh interpreters per function (bench.imports; `python -X importtime` shows "
        "where it goes).",
        "AWS calls: counted on the request's thread by wrapping botocore's `BaseClient._make_api_call` "
        "(every client: DynamoDB, Step Functions, S3), authorizer principal cache warmed by a GET /v1/org "
        "with the same key right before each counted request (a cold authorizer adds GetItem(ApiKeysTable) "
        "and GetItem(OrgsTable)). Latency is in-process (API Gateway emulator + handler + moto), not what "
        f"Lambda would show: p50 and max of the case's samples (≤ {endpoints.SAMPLES}: too few for a "
        "p99). Every authenticated request does one UpdateItem(RateLimitsTable) (run creation two: the "
        "request and the runs-per-minute counters).",
        "Idempotent replay: its conditional PutItem on the idempotency table fails and returns the kept "
        "response, before the handler runs.",
        "1k vs 100k runs: the local stack's Query reads its partition from the start key to its page "
        "(devstack.query_index; unpatched moto reads and sorts the whole table). On DynamoDB a GetItem and a "
        "Query with Limit=20 read the same items at any table size: the calls and items read are the real "
        "cost signal.",
        f"{soak.RUNS:,} runs: three-decision scripted runs (two echo tool calls, then an answer) created "
        f"through the API by {soak.THREADS} threads, each waiting for its run (its status read from moto's "
        f"table, not requested, every {soak.POLL_S:g} s) before the next; RSS of the whole process "
        "(/proc), CPU of all its threads. "
        "Before devstack.retention (moto keeping table copies, stream records and instances), 40 such runs "
        "took RSS from 246 MB to 2,600 MB and the rate from 46 to 15 runs/min.",
        "Orchestration cost: AWS list prices, us-east-1 (Step Functions Standard $0.025 per 1,000 "
        "transitions; Lambda arm64 $0.20 per million requests + $0.0000133334 per GB-s; DynamoDB "
        "on-demand $0.625 per million WRU, $0.125 per million RRU, transactional writes 2 WRU per item); "
        "model tokens not included.",
        "Throughput is measured first, on a fresh stack (earlier measurements: see bench/README.md). "
        "It is a closed loop (each thread starts a run and "
        f"waits for it), so it is bounded by one run's latency on {cores} cores, not by the API.",
        "Event latency: created_at of each event vs its arrival at a client on the same machine, over the "
        "events written after both clients had subscribed; local SSE readers are woken by each write of "
        "their run; WebSocket pushes come from the stream router via the local DynamoDB stream poller; the "
        "moto lock lets these live threads go first (devstack.wakeups).",
    ]


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def main() -> None:
    began = time.monotonic()
    table = Table()
    info = machine()
    print("runs-api bench on " + "; ".join(f"{k} {v}" for k, v in info.items()), flush=True)

    print("[1/7] cold imports …", flush=True)
    table.rows += imports.table(imports.measure(), imports.measure_floor()).rows

    from devstack.stack import DevStack, freeze_start_up

    calls.install()
    stack = DevStack().start()
    try:
        org_id = stack.seed()
        # As `make dev` (python -m devstack) does: the stack measured is the one users run. Without it
        # each full collection walks start-up's ~300,000 objects (bench.soak: ~12% more CPU per run).
        freeze_start_up()
        print("[2/7] throughput …", flush=True)
        tp = throughput.measure(stack, org_id)
        result = tp["high"]
        table.add(
            "throughput",
            f"3-decision runs completed/min, {tp['threads']} threads, closed loop",
            f"{result['per_minute']:.0f}/min",
            f"rate limits raised; {result['completed']} completed in {result['elapsed_s']:.0f} s; "
            f"started {result['started']}, 429s {result['rate_limited']}, "
            f"other terminal {result['other_terminal']}, unfinished at the end {result['unfinished']}",
        )
        burst = tp["burst"]
        table.add(
            "throughput",
            f"burst of {burst['sent']} run creations, a new org's limits",
            f"{burst['accepted']} accepted, {burst['rate_limited']} × 429",
            f"limits {burst['limits']} (from the org creation response); "
            f"Retry-After {burst['retry_after'] or '—'} s",
        )

        print(f"[3/7] {soak.RUNS:,} runs: memory and speed …", flush=True)
        add_soak(table, soak.measure(stack, org_id))

        print("[4/7] AWS calls per request …", flush=True)
        rows = endpoints.measure(stack, org_id)
        for row in rows:
            label = row["route"] + (f" ({row['case']})" if row["case"] else "")
            if "calls" not in row:
                table.add("AWS calls/request", label, "—", row["note"])
                continue
            latency_ms = f"p50 {_ms(row['p50'])}, max {_ms(row['max'])} ({row['samples']} samples)"
            detail = f"{row['status']}; {row['by_api'] or 'no AWS call'}; {latency_ms}"
            if row["note"]:
                detail += f"; {row['note']}"
            table.add("AWS calls/request", label, str(row["calls"]), detail)

        print("[5/7] 10-decision run …", flush=True)
        ex = execution.run_bench(stack)
        section = f"{ex['decisions']}-decision run"
        table.add(
            section,
            "state transitions",
            str(ex["transitions"]),
            f"{ex['transitions'] / ex['step_tasks']:.1f} per Step task",
        )
        table.add(
            section,
            "Lambda invocations",
            str(ex["invocations"]),
            f"{ex['invocations'] / ex['step_tasks']:.1f} per Step task",
        )
        table.add(section, "DynamoDB calls", str(ex["dynamodb_calls"]), ex["dynamodb_by_api"])
        table.add(
            section,
            "DynamoDB units",
            f"{ex['write_units']} W / {ex['read_units']} R",
            "transactional writes 2 WRU per item",
        )
        for name, dollars in ex["cost"].items():
            table.add(section, f"cost: {name}", f"${dollars:.6f}", "")
        table.add(
            section,
            "orchestration cost/run",
            f"${sum(ex['cost'].values()):.6f}",
            ex["assumption"] + "; model tokens not included",
        )

        print("[6/7] 1k vs 100k runs stored …", flush=True)
        sizes = scale.measure(stack, newest_run_id(stack))
        small, large = sizes[0], sizes[-1]
        for case in small["results"]:
            a, b = small["results"][case], large["results"][case]
            table.add(
                f"{small['stored']:,} vs {large['stored']:,} runs",
                case,
                f"{_ms(a['p50'])} → {_ms(b['p50'])} (x{b['p50'] / a['p50']:.1f})",
                f"p50; DynamoDB calls {a['dynamodb_calls']} → {b['dynamodb_calls']}, items read "
                f"{a['items_read']} → {b['items_read']} ({b['by_api']})",
            )
        seeded = large["stored"]
        table.add(
            f"{small['stored']:,} vs {large['stored']:,} runs",
            "seeding (moto backend put_item, as BatchWriteItem)",
            f"{small['seed_s'] + large['seed_s']:.0f} s",
            ""
            if seeded >= scale.SIZES[-1]
            else f"moto too slow: stopped at {seeded:,} of {scale.SIZES[-1]:,}",
        )
    finally:
        stack.stop()

    print("[7/7] event write → SSE / WebSocket …", flush=True)
    lat = latency.run_bench()
    for channel, result in lat.items():
        broken = (
            f"{result['broken_streams']:.0f} streams cut off (server error)"
            if result["broken_streams"]
            else ""
        )
        if not result.get("events"):
            table.add("event latency", channel, "no events", broken)
            continue
        table.add(
            "event latency",
            f"write → {channel} p50 / p99",
            f"{_ms(result['p50'])} / {_ms(result['p99'])}",
            f"{result['events']:.0f} events of one {latency.TURNS}-tool-call run, written while both "
            f"clients watched ({result['before_watching']:.0f} earlier ones not counted); "
            f"max {_ms(result['max'])}" + (f"; {broken}" if broken else ""),
        )
    print("[8] live model output …", flush=True)
    add_streaming(table, streaming.run_bench())
    table.add("bench", "total runtime", f"{time.monotonic() - began:.0f} s", "")
    print()
    print(table.render())
    write_results(RESULTS, table, info, notes(info))
    print(
        f"\nwritten to {RESULTS.relative_to(Path.cwd()) if RESULTS.is_relative_to(Path.cwd()) else RESULTS}"
    )


def add_streaming(table: Table, result: dict[str, Any]) -> None:
    interval_ms = streaming.INTERVAL_S * 1000
    for others, measured in result["passes"].items():
        setting = f"one run of a model streaming {streaming.CHUNKS:,} chunks ({interval_ms:.0f} ms apart)" + (
            f" while {others} other runs execute in the same local process" if others else ", alone"
        )
        for channel in ("SSE", "WebSocket"):
            for measure, label in (("event", "event written"), ("chunk", "model chunk")):
                row = measured[channel][measure]
                value = f"{_ms(row['p50'])} / {_ms(row['p99'])}" if row.get("samples") else "no samples"
                most = f" (max {_ms(row['max'])})" if row.get("samples") else ""
                detail = f"{row['samples']:,} samples{most}; {setting}"
                section = "live output" + (f", {others} runs beside" if others else ", alone")
                table.add(section, f"{label} → {channel} p50 / p99", value, detail)
    first = result["first_delta"]
    table.add(
        "live output",
        "model's first chunk → first delta (SSE) p50 / p99",
        f"{_ms(first['p50'])} / {_ms(first['p99'])}" if first.get("samples") else "no samples",
        f"{first['samples']} short runs, each watched from before it started",
    )
    cost = result["cost"]
    table.add(
        "live output",
        "write cost of live deltas per 1,000 streamed tokens",
        f"{cost['write_units_per_1k_tokens']:.0f} WRU = ${cost['usd_per_1k_tokens']:.6f}",
        f"{cost['flushes']} flushes (one transaction each: run update + event put, 2 WRU per KB) for "
        f"{cost['tokens']:,} tokens; on-demand $0.625 per million WRU",
    )


def add_soak(table: Table, result: dict[str, Any]) -> None:
    section = f"{result['runs']:,} runs"
    quarters = soak.quarters(result)
    by_count = {point["completed"]: point for point in result["points"]}
    table.add(
        section,
        f"3-decision runs through the API, {result['threads']} client threads",
        f"{result['completed']:,} completed",
        f"other terminal {result['other_terminal']}, unfinished {result['unfinished']}; each thread "
        "creates a run and waits for it (closed loop); the process's RSS after that many runs",
    )
    for count in sorted(by_count):
        point = by_count[count]
        table.add(
            section,
            f"RSS after {count:,} runs",
            f"{point['rss_mb']:.0f} MB",
            f"{point['elapsed_s']:.0f} s in",
        )
    growth = soak.growth_per_run(result)
    if growth is not None:
        table.add(
            section,
            f"RSS growth per run after {min(soak.SETTLE, result['runs'] // 4):,} runs",
            f"{growth:.3f} MB",
            "includes the DynamoDB items the runs leave (what DynamoDB keeps)",
        )
    for quarter in quarters:
        table.add(
            section,
            f"runs/min, runs {quarter['from']:,}–{quarter['to']:,}",
            f"{quarter['per_minute']:.0f}/min",
            f"{quarter['seconds']:.0f} s; CPU {quarter['cpu_ms_per_run']:.0f} ms per run (every thread)",
        )
    if quarters:
        total_s = sum(quarter["seconds"] for quarter in quarters)
        done = quarters[-1]["to"] - quarters[0]["from"]
        table.add(
            section,
            "runs/min overall; last quarter vs first",
            f"{done * 60 / total_s:.0f}/min; x{quarters[-1]['per_minute'] / quarters[0]['per_minute']:.2f}",
            f"{done:,} runs in {total_s:.0f} s",
        )


def newest_run_id(stack: Any) -> str:
    """The dev org's newest run (the one seeding clones)."""
    import json

    headers = {"Authorization": f"Bearer {stack.dev_key}"}
    _, _, payload = stack.request("GET", "/v1/runs?limit=1", headers, None)
    return str(json.loads(payload)["items"][0]["id"])


if __name__ == "__main__":
    sys.exit(main())

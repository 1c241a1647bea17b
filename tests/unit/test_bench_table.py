"""The bench's table renderer and RESULTS.md writer, on fake numbers (no timing, no stack)."""

from datetime import UTC, datetime
from pathlib import Path

from bench.imports import parse_importtime
from bench.table import Table, results_markdown, write_results

INFO = {"CPU": "Fake CPU", "cores": "2", "python": "3.12.1", "moto": "5.0.0"}


def fake_table() -> Table:
    table = Table()
    table.add("cold import", "RunsFunction", "321 ms", "functions/runs_api/app.py: 344 modules")
    table.add("AWS calls/request", "GET /v1/runs/{run_id}", "2", "200; GetItem(RunsTable), UpdateItem | x")
    table.add("event latency", "write → WebSocket p50 / p99", "480 ms / 7.0 s")
    return table


def test_render_is_one_aligned_markdown_table():
    lines = fake_table().render().splitlines()
    assert lines[0].startswith("| section") and set(lines[1]) <= {"|", "-"}
    assert len(lines) == 2 + 3
    assert len({len(line) for line in lines}) == 1  # every row padded to the same width
    assert "UpdateItem \\| x" in lines[3]  # a pipe in a cell does not split the row


def test_results_markdown_names_the_machine_and_date(tmp_path: Path):
    text = results_markdown(fake_table(), INFO, datetime(2026, 1, 2, 3, 4, tzinfo=UTC), ["noisy"])
    assert "2026-01-02 03:04 UTC" in text and "CPU Fake CPU" in text and "moto 5.0.0" in text
    assert "| cold import" in text and "- noisy" in text
    written = write_results(tmp_path / "RESULTS.md", fake_table(), INFO, [])
    assert (tmp_path / "RESULTS.md").read_text(encoding="utf-8") == written


def test_importtime_counts_only_modules_after_boto3():
    stderr = "\n".join(
        [
            "import time: self [us] | cumulative | imported package",
            "import time:       500 |        500 |   botocore",
            "import time:      1000 |       1500 | boto3",
            "import time:      2000 |       2000 |   pydantic",
            "import time:       250 |       2250 | app",
        ]
    )
    assert parse_importtime(stderr) == (2.25, 2)

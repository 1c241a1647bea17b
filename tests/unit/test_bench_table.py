"""The bench's table renderer and RESULTS.md writer, on fake numbers (no timing, no stack)."""

from datetime import UTC, datetime
from pathlib import Path

from bench.imports import handler_module, parse_timer
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


def test_the_import_timer_reports_its_last_line():
    assert parse_timer("a warning on stdout\n123.456 42\n") == (123.456, 42)


def test_a_script_handler_is_timed_on_the_module_its_server_imports():
    assert handler_module("app.lambda_handler") == "app"
    assert handler_module("run.sh") == "runs_core.api.lwa_server, app"

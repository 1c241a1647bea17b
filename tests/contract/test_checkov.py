"""checkov on template.yaml: no failed check. It runs from its own virtualenv (.venv-checkov/, which
`make test` makes from requirements-checkov.lock); .checkov.yaml and resources' Metadata say what is
skipped and why."""

import json
import subprocess

import pytest

from tests.conftest import REPO_ROOT

CHECKOV = REPO_ROOT / ".venv-checkov" / "bin" / "checkov"


def test_checkov_passes_the_template() -> None:
    if not CHECKOV.exists():
        pytest.fail(f"{CHECKOV.relative_to(REPO_ROOT)} is missing: `make checkov` (or `make test`) makes it")
    result = subprocess.run(
        [str(CHECKOV), "--config-file", ".checkov.yaml", "--skip-download", "--output", "json"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.stdout.strip(), result.stderr
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = [
        f"{check['check_id']} {check['resource']}: {check['check_name']}"
        for check in report["results"]["failed_checks"]
    ]
    assert not failed, "checkov failed checks:\n" + "\n".join(failed)
    assert summary["parsing_errors"] == 0, result.stdout
    assert summary["passed"] > 50 and summary["resource_count"] > 50, summary  # it read the whole template
    assert result.returncode == 0, result.stderr

"""The README's curl tour works as written, against a running local stack (real HTTP, real curl)."""

import re
import subprocess
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def section_script(title: str) -> str:
    """The shell blocks of a README section, minus the `export` lines whose values the test supplies."""
    section = README.read_text().split(f"## {title}", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert len(blocks) >= 2, f"{title!r} lost its code blocks"
    return "\n".join(line for line in "\n".join(blocks).splitlines() if not line.startswith("export "))


def tour_script() -> str:
    return section_script("A tour of the API")


def test_readme_tour(local_stack):
    env = {
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "API": local_stack.base_url,
        "KEY": local_stack.dev_key,
        "ADMIN_KEY": local_stack.admin_key,
    }
    script = "set -euo pipefail\n" + tour_script()
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr + result.stdout
    out = result.stdout
    assert '{"status":"ok"}' in out
    assert '"name":"invoice-triage"' in out and '"version":"1.1.0-beta.1"' in out
    assert '"status":"queued"' in out and '"status":"cancelled"' in out
    assert '"code": "validation_error"' in out  # the deliberate bad request
    assert '"key":"sk_test_' in out and '"org":{' in out
    for status in ("waiting_approval", "waiting_for_input", "completed"):  # the scripted run unfolds
        assert f'"status":"{status}"' in out, status
    assert '"output":{"decision":"approve"}' in out
    assert "Run-Id: run_" in out and '"data_type":' in out  # the synchronous run's outputs
    assert '"role":"user","content":"Hi, I am Ada."' in out and '"role":"assistant"' in out
    assert '"object":"thread"' in out
    for failure in ("unauthorized", "not_found", "internal_error", "invalid_version_selector"):
        assert failure not in out, failure

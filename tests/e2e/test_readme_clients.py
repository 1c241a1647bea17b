"""The README's official-client examples (OpenAI Responses, LangGraph) run as written against a running
local stack, each Python block in its own interpreter with ORIGIN and KEY set, as the README says."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def blocks() -> list[str]:
    section = README.read_text().split("### The official OpenAI and LangGraph clients", 1)[1]
    return re.findall(r"```python\n(.*?)```", section.split("\n## ", 1)[0], flags=re.S)


@pytest.mark.parametrize("index", range(len(blocks())))
def test_readme_client_example(local_stack, index):
    env = {**os.environ, "ORIGIN": local_stack.origin, "KEY": local_stack.dev_key}
    result = subprocess.run(
        [sys.executable, "-c", blocks()[index]], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert result.stdout.strip(), "the example printed nothing"
    assert "Traceback" not in result.stderr


def test_the_examples_cover_both_clients():
    text = "\n".join(blocks())
    assert "from openai import OpenAI" in text
    assert "from langgraph_sdk import get_sync_client" in text

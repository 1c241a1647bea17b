"""The repository documents itself: nothing in it points at documents outside it (a clone has only
itself). The contract is docs/api.md, the design docs/architecture.md."""

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Built from pieces, so this file does not name what it looks for.
OUTSIDE = re.compile(
    "|".join([re.escape("../" + "shared"), r"(?<![\w/])" + "API" + r"\.md", "DESIGN" + r"\.md"])
)


def _tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60
    ).stdout.decode()
    return [ROOT / name for name in listed.split("\0") if name]


def test_no_file_references_documents_outside_the_repository() -> None:
    offenders = []
    for path in _tracked_files():
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith("docs/") or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        offenders += [
            f"{relative}:{number}: {line.strip()[:100]}"
            for number, line in enumerate(text.splitlines(), 1)
            if OUTSIDE.search(line)
        ]
    assert not offenders, "references outside the repository:\n" + "\n".join(offenders)


def test_the_docs_it_cites_exist_with_their_sections() -> None:
    contract = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    assert (ROOT / "docs" / "architecture.md").is_file()
    cited = set()
    for path in _tracked_files():
        if path.suffix in (".py", ".md", ".yaml") and path.is_file():
            cited |= set(re.findall(r"docs/api\.md §(\d+)", path.read_text(encoding="utf-8")))
    headings = set(re.findall(r"^## (\d+)\. ", contract, flags=re.MULTILINE))
    assert cited and cited <= headings, cited - headings

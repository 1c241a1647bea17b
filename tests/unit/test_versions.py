"""Version selectors follow npm semver (docs/api.md §3): table-driven."""

import pytest

from runs_core.errors import InvalidVersionSelector
from runs_core.logic.versions import select

VERSIONS = ["0.1.0", "1.0.0", "1.2.0", "1.2.5", "1.3.0-beta.1", "2.0.0", "2.1.0-rc.1"]
TAGS = {"latest": "1.2.5", "beta": "1.3.0-beta.1"}


@pytest.mark.parametrize(
    ("selector", "stage", "expected"),
    [
        (None, None, "1.2.5"),  # default: the latest tag
        ("beta", None, "1.3.0-beta.1"),  # dist-tag
        ("1.2.0", None, "1.2.0"),  # exact
        ("^1.2", None, "1.2.5"),  # caret: highest 1.x ≥ 1.2, no pre-releases
        ("~1.2.0", None, "1.2.5"),
        (">=1.0.0 <2.0.0", None, "1.2.5"),
        ("1.x", None, "1.2.5"),
        ("*", None, "2.0.0"),
        ("^1.3.0-beta.0", None, "1.3.0-beta.1"),  # pre-releases only when the range asks for them
        (None, "draft", "2.1.0-rc.1"),  # draft: highest incl. pre-releases
        (None, "published", "1.2.5"),
    ],
)
def test_selects(selector, stage, expected):
    assert select(TAGS, selector, stage, lambda: VERSIONS) == expected


@pytest.mark.parametrize("selector", ["^3", "nightly", ">=5.0.0", "not a range !!"])
def test_no_match_is_invalid_version_selector(selector):
    with pytest.raises(InvalidVersionSelector):
        select(TAGS, selector, None, lambda: VERSIONS)


def test_exact_and_tag_selectors_do_not_list_every_version():
    def listing_forbidden():
        raise AssertionError("listed every version")

    assert select(TAGS, "1.0.0", None, listing_forbidden) == "1.0.0"
    assert select(TAGS, "beta", None, listing_forbidden) == "1.3.0-beta.1"

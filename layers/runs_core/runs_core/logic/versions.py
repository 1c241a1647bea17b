"""Version selectors (docs/api.md §3): exact version, dist-tag, or npm semver range; `stage`
draft/published."""

import re
from collections.abc import Callable

from runs_core.errors import InvalidVersionSelector, ValidationFailed
from runs_core.models.agents import SEMVER_PATTERN, TAG_PATTERN


def is_exact(selector: str) -> bool:
    return re.match(SEMVER_PATTERN, selector) is not None


def highest(versions: list[str], selector: str, include_prerelease: bool = False) -> str | None:
    """npm's maxSatisfying: the highest version in the range; pre-releases only when asked for."""
    import nodesemver  # lazy, for cold start: only ranges and drafts need it, not exact versions or tags

    try:
        return nodesemver.max_satisfying(
            versions, selector, loose=False, include_prerelease=include_prerelease
        )
    except (ValueError, TypeError):
        return None


def select(
    dist_tags: dict[str, str],
    selector: str | None,
    stage: str | None,
    all_versions: Callable[[], list[str]],
) -> str:
    """The version a run should use. `all_versions` is only called when a range needs every version."""
    if stage == "draft":
        chosen = highest(all_versions(), "*", include_prerelease=True)
        if chosen is None:
            raise InvalidVersionSelector("The agent has no versions.")
        return chosen
    if selector is None or stage == "published":
        selector = "latest"
    if is_exact(selector):
        return selector  # the caller loads it, and answers invalid_version_selector if it does not exist
    if re.match(TAG_PATTERN, selector) and selector != "x":
        if selector in dist_tags:
            return dist_tags[selector]
        raise InvalidVersionSelector(f"The agent has no dist-tag {selector!r}.")
    chosen = highest(all_versions(), selector)
    if chosen is None:
        raise InvalidVersionSelector(f"No version of the agent matches {selector!r}.")
    return chosen


def check_tag(tag: str) -> None:
    if not re.match(TAG_PATTERN, tag) or tag == "x":
        raise ValidationFailed(
            f"tag must match {TAG_PATTERN}",
            [{"field": "tag", "code": "pattern", "message": f"must match {TAG_PATTERN}"}],
        )

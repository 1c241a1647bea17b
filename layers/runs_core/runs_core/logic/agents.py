"""Agents and their versions (docs/api.md §3)."""

from typing import Any

from runs_core import clock, ids
from runs_core.context import Caller
from runs_core.errors import InvalidVersionSelector, NameTaken, NotFound, ValidationFailed, VersionExists
from runs_core.logic import versions
from runs_core.models.agents import Agent, AgentVersion, CreateAgent, Definition, MoveTag, PublishVersion
from runs_core.models.common import Page
from runs_core.pages import decode_cursor, encode_cursor
from runs_core.settings import get_settings
from runs_core.storage.agents import AgentMissing, NameClaimed, VersionClaimed
from runs_core.stores import get_stores


def _version_view(item: dict[str, Any], dist_tags: dict[str, str]) -> AgentVersion:
    tags = sorted(tag for tag, version in dist_tags.items() if version == item["version"])
    return AgentVersion(
        agent_id=item["agent_id"],
        version=item["version"],
        definition=item["definition"],
        tags=tags,
        created_at=item["created_at"],
    )


def _agent_view(agent: dict[str, Any], latest: dict[str, Any] | None) -> Agent:
    dist_tags = agent.get("dist_tags", {})
    return Agent(
        id=agent["id"],
        name=agent["name"],
        description=agent.get("description"),
        dist_tags=dist_tags,
        latest=_version_view(latest, dist_tags) if latest else None,
        created_at=agent["created_at"],
        updated_at=agent["updated_at"],
    )


def load_agent(caller: Caller, agent_ref: str) -> dict[str, Any]:
    """The agent record for an id or a name of the caller's org; NotFound otherwise."""
    agents = get_stores().agents
    agent_id = agent_ref if ids.has_prefix(agent_ref, "agt") else agents.id_for_name(caller.org_id, agent_ref)
    agent = agents.get(caller.org_id, agent_id) if agent_id else None
    if agent is None:
        raise NotFound(f"No agent {agent_ref!r}.")
    return agent


def _with_latest(caller: Caller, agent: dict[str, Any]) -> Agent:
    latest_number = agent.get("dist_tags", {}).get("latest")
    latest = (
        get_stores().agents.get_version(caller.org_id, agent["id"], latest_number) if latest_number else None
    )
    return _agent_view(agent, latest)


def _check_secret_scope(caller: Caller, definition: Definition) -> None:
    """A model key must be one of the org's secrets, or a tenant could read (and exfiltrate through a
    base_url of its choosing) the deployment's or another org's secrets."""
    secret = definition.model.api_key_secret
    if secret is None:
        return
    name = secret.split(":secret:", 1)[-1].split(":parameter", 1)[-1].removeprefix("ssm:").lstrip("/")
    allowed = f"{get_settings().secret_prefix}{caller.org_id}/"
    if not name.startswith(allowed):
        message = f"must name a secret or parameter under {allowed}"
        field = "definition.model.api_key_secret"
        raise ValidationFailed(f"{field} {message}", [{"field": field, "code": "scope", "message": message}])


def create_agent(caller: Caller, request: CreateAgent) -> Agent:
    _check_secret_scope(caller, request.definition)
    now = clock.now_iso()
    agent = {
        "id": ids.new_id("agt"),
        "name": request.name,
        "description": request.description,
        "dist_tags": {tag: request.version for tag in request.tags},
        "created_at": now,
        "updated_at": now,
    }
    version = {
        "agent_id": agent["id"],
        "version": request.version,
        "definition": request.definition.model_dump(mode="json", exclude_none=True),
        "created_at": now,
    }
    try:
        get_stores().agents.create(caller.org_id, agent, version)
    except NameClaimed:
        raise NameTaken(f"An agent named {request.name!r} already exists.") from None
    latest = version if "latest" in request.tags else None
    return _agent_view(agent, latest)


def get_agent(caller: Caller, agent_ref: str) -> Agent:
    return _with_latest(caller, load_agent(caller, agent_ref))


def list_agents(caller: Caller, limit: int, cursor: str | None) -> Page[Agent]:
    before = decode_cursor(cursor, caller.org_id, "agents", {}) if cursor else None
    items = get_stores().agents.page(caller.org_id, before, limit + 1)
    page = items[:limit]
    next_cursor = encode_cursor(caller.org_id, "agents", {}, page[-1]["sk"]) if len(items) > limit else None
    return Page[Agent](items=[_agent_view(item, None) for item in page], next_cursor=next_cursor)


def publish_version(caller: Caller, agent_ref: str, request: PublishVersion) -> AgentVersion:
    agent = load_agent(caller, agent_ref)
    tags = (
        request.tags
        if request.tags is not None
        else ([] if "-" in request.version.split("+")[0] else ["latest"])
    )
    now = clock.now_iso()
    version = {
        "agent_id": agent["id"],
        "version": request.version,
        "definition": request.definition.model_dump(mode="json", exclude_none=True),
        "created_at": now,
    }
    try:
        updated = get_stores().agents.publish(caller.org_id, version, tags, now)
    except VersionClaimed:
        raise VersionExists(f"Version {request.version} exists; versions are immutable.") from None
    except AgentMissing:
        raise NotFound(f"No agent {agent_ref!r}.") from None
    return _version_view(version, updated.get("dist_tags", {}))


def list_versions(caller: Caller, agent_ref: str, limit: int, cursor: str | None) -> Page[AgentVersion]:
    agent = load_agent(caller, agent_ref)
    scope = f"versions:{agent['id']}"
    before = decode_cursor(cursor, caller.org_id, scope, {}) if cursor else None
    items = get_stores().agents.list_versions(caller.org_id, agent["id"], before, limit + 1)
    page = items[:limit]
    next_cursor = (
        encode_cursor(caller.org_id, scope, {}, page[-1]["created_sk"]) if len(items) > limit else None
    )
    dist_tags = agent.get("dist_tags", {})
    return Page[AgentVersion](
        items=[_version_view(item, dist_tags) for item in page], next_cursor=next_cursor
    )


def get_version(caller: Caller, agent_ref: str, version: str) -> AgentVersion:
    agent = load_agent(caller, agent_ref)
    item = get_stores().agents.get_version(caller.org_id, agent["id"], version)
    if item is None:
        raise NotFound(f"Agent {agent_ref!r} has no version {version!r}.")
    return _version_view(item, agent.get("dist_tags", {}))


def move_tag(caller: Caller, agent_ref: str, tag: str, request: MoveTag) -> Agent:
    versions.check_tag(tag)
    agent = load_agent(caller, agent_ref)
    if get_stores().agents.get_version(caller.org_id, agent["id"], request.version) is None:
        raise NotFound(f"Agent {agent_ref!r} has no version {request.version!r}.")
    updated = get_stores().agents.move_tag(caller.org_id, agent["id"], tag, request.version, clock.now_iso())
    return _with_latest(caller, updated)


def resolve_version(
    caller: Caller, agent: dict[str, Any], selector: str | None, stage: str | None
) -> dict[str, Any]:
    """The version record a new run uses (docs/api.md §3 version selector)."""
    store = get_stores().agents
    number = versions.select(
        agent.get("dist_tags", {}),
        selector,
        stage,
        lambda: store.all_version_numbers(caller.org_id, agent["id"]),
    )
    item = store.get_version(caller.org_id, agent["id"], number)
    if item is None:
        raise InvalidVersionSelector(f"The agent has no version {number}.")
    return item

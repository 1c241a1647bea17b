"""Agent routes (docs/api.md §3)."""

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from runs_core.api.caller import OrgCaller
from runs_core.api.openapi import Router, errors
from runs_core.logic import agents
from runs_core.models.agents import Agent, AgentVersion, CreateAgent, MoveTag, PublishVersion
from runs_core.models.common import Page
from runs_core.pages import DEFAULT_LIMIT, MAX_LIMIT

router = Router()
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, 1–100.")]
Cursor = Annotated[str | None, Query(max_length=4096, description="`next_cursor` of the previous page.")]
AgentRef = Annotated[str, Path(min_length=1, max_length=64, description="Agent id or name.")]
TAGS = ["Agents"]


@router.post("/v1/agents", status_code=201, tags=TAGS, responses=errors(409, 413, 415))
def create_agent(body: CreateAgent, caller: OrgCaller) -> Agent:
    """Create an agent with its first version."""
    return agents.create_agent(caller, body)


@router.get("/v1/agents", tags=TAGS, responses=errors())
def list_agents(caller: OrgCaller, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[Agent]:
    """List agents, newest first."""
    return agents.list_agents(caller, limit, cursor)


@router.get("/v1/agents/<agent>", tags=TAGS, responses=errors(404))
def get_agent(agent: AgentRef, caller: OrgCaller) -> Agent:
    """An agent with its dist-tags and the version `latest` points at."""
    return agents.get_agent(caller, agent)


@router.post("/v1/agents/<agent>/versions", status_code=201, tags=TAGS, responses=errors(404, 409, 413, 415))
def publish_version(agent: AgentRef, body: PublishVersion, caller: OrgCaller) -> AgentVersion:
    """Publish a new immutable version; an existing version number is 409 version_exists."""
    return agents.publish_version(caller, agent, body)


@router.get("/v1/agents/<agent>/versions", tags=TAGS, responses=errors(404))
def list_versions(
    agent: AgentRef, caller: OrgCaller, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None
) -> Page[AgentVersion]:
    """Versions of an agent, most recently published first."""
    return agents.list_versions(caller, agent, limit, cursor)


@router.get("/v1/agents/<agent>/versions/<version>", tags=TAGS, responses=errors(404))
def get_version(
    agent: AgentRef, version: Annotated[str, Path(max_length=128)], caller: OrgCaller
) -> AgentVersion:
    """One version of an agent."""
    return agents.get_version(caller, agent, version)


@router.put("/v1/agents/<agent>/tags/<tag>", tags=TAGS, responses=errors(404, 413, 415))
def move_tag(
    agent: AgentRef, tag: Annotated[str, Path(max_length=32)], body: MoveTag, caller: OrgCaller
) -> Agent:
    """Point a dist-tag (`latest`, `beta`, …) at an existing version."""
    return agents.move_tag(caller, agent, tag, body)

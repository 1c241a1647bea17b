from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from runs_core.models.bounds import MAX_INTEGER  # re-exported: the models' integers are bounded by it

# An agent's name: a slug, optionally in a scope (`@scope/name`, as Appstrate names agents); ≤ 64 in all.
AGENT_NAME_PATTERN = r"^(@[a-z0-9][a-z0-9-]{0,61}/)?[a-z0-9][a-z0-9-]{0,62}$"

NonNegativeInt = Annotated[int, Field(ge=0, le=MAX_INTEGER)]
PositiveInt = Annotated[int, Field(ge=1, le=MAX_INTEGER)]


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are a 400, never silently ignored; and strict, so a value
    of the wrong JSON type is a 400 too, never coerced (`true` is no integer, `"false"` no boolean; an
    integer still fills a float). Query and path parameters are not models: they are text, parsed to
    their types as usual."""

    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="ignore", defer_build=True)


class Page[T](BaseModel):
    model_config = ConfigDict(defer_build=True)

    object: Literal["list"] = "list"
    items: list[T]
    next_cursor: str | None = Field(
        None, description="Opaque; pass as `cursor` for the next page. Null on the last page."
    )


# Keys 1–40 characters (a stored map key can never be empty), values at most 500.
Metadata = dict[
    Annotated[str, StringConstraints(min_length=1, max_length=40)],
    Annotated[str, StringConstraints(max_length=500)],
]

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# An agent's name: a slug, optionally in a scope (`@scope/name`, as Appstrate names agents); ≤ 64 in all.
AGENT_NAME_PATTERN = r"^(@[a-z0-9][a-z0-9-]{0,61}/)?[a-z0-9][a-z0-9-]{0,62}$"

# Every integer a request carries (query, path or body) is at most this: exact in every JSON parser
# (JavaScript's Number.MAX_SAFE_INTEGER) and far inside DynamoDB's 38 digits, so no integer a client
# sends can fail a write, a query or a conversion deeper in (a 500). NonNegativeInt and PositiveInt carry
# the bound into validation and the published spec; a tighter bound (Field(le=…)) narrows it.
MAX_INTEGER = 2**53 - 1
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

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SLUG_PATTERN = r"^[a-z0-9][a-z0-9-]{0,62}$"


class RequestModel(BaseModel):
    """Base of every request body: unknown fields are a 400, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ResponseModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Page[T](BaseModel):
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

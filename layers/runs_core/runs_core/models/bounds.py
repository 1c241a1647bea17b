"""The largest integer a request may carry, in a module without pydantic: the WebSocket function checks
it too and imports no models (cold start). runs_core.models.common carries it into the models."""

# Every integer a request carries (query, path or body) is at most this: exact in every JSON parser
# (JavaScript's Number.MAX_SAFE_INTEGER) and far inside DynamoDB's 38 digits, so no integer a client
# sends can fail a write, a query or a conversion deeper in (a 500). NonNegativeInt and PositiveInt carry
# the bound into validation and the published spec; a tighter bound (Field(le=…)) narrows it.
MAX_INTEGER = 2**53 - 1

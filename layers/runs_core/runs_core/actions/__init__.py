"""Actions an agent can call (API.md §3 `actions[].kind`): builtin, python, http, lambda."""

"""Actions an agent can call (docs/api.md §3 `actions[].kind`): builtin, python, http, lambda."""

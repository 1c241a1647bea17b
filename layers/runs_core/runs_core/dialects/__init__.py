"""Dialects (docs/api.md §8): the seed APIs' own wire formats under /dialects/<name>, each a thin mapping
onto the same logic as /v1 (runs_core.logic), served by the same handler (runs_core.api.app: auth, tenancy,
idempotency, rate limits) with the dialect's own error body rendered from the same ApiError.

A module per dialect: its router, its error renderer (RENDER) and its mappings. runs_core.dialects.common
holds what they share.
"""

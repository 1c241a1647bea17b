"""runs_core: the shared package of runs-api (models, logic, storage adapters, HTTP glue)."""

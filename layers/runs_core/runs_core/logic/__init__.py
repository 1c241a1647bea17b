"""Business rules. Pure functions over the stores; no HTTP, no boto3."""

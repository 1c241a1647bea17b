"""In-memory stand-ins for what runs_core reaches through its seams, for unit tests without moto."""

"""HTTP surfaces: the online feature server (FastAPI)."""

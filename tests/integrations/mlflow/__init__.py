"""MLflow integration tests: training sets as run inputs, models."""

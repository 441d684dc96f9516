"""The deployable detector: its folder format, scoring files, the MLflow pyfunc model."""

"""MLflow: the store, a run's lifecycle and provenance, the registered detector, the team stack."""

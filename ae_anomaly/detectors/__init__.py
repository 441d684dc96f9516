"""Anomaly detectors with one interface (:class:`~ae_anomaly.detectors.base.AnomalyDetector`):
one estimator family per module, so a stage depends only on the families it fits."""

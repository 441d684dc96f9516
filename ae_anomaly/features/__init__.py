"""What is computed from curves before a detector sees them: per-curve normalisation,
residuals, reconstruction errors and histograms."""

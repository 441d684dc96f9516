"""What stage processes share (arguments, logging, timings, workers), params -> objects,
and evaluate's worker."""

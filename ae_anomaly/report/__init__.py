"""What a reviewer reads: tables (one renderer), figures, written results and summaries."""

"""Training plumbing: fit, distribution strategies, resume state."""

"""The cache store (content-addressed entries, per-branch refs) and agent lookups."""

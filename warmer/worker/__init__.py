"""Running jobs: the runner, per-job heartbeats, and the worker's own components."""

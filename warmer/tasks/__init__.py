"""Celery tasks: thin wrappers that hand the work to the ledger, triggers and runner."""

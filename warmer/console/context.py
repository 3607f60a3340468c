"""What every console handler needs: the ledger, warmer's settings and the Celery app."""

from __future__ import annotations

from dataclasses import dataclass

from celery import Celery

from warmer.ledger.db import Database
from warmer.queues import kombu_queues
from warmer.settings import Settings


@dataclass
class ConsoleContext:
    db: Database
    settings: Settings
    capp: Celery
    # /metrics asks for the console's auth unless this is set (`warmer console --open-metrics`).
    open_metrics: bool = False

    @property
    def broker_url(self) -> str:
        return str(self.capp.conf.broker_url or self.settings.broker_url)

    def queue_names(self) -> list[str]:
        """The broker queues warmer publishes to, most urgent first."""
        return [queue.name for queue in kombu_queues(self.broker_url) if queue.name]

    def coverage_types(self) -> list[str]:
        """The artifact types a repository's coverage is reported for: the baseline ones first."""
        warmers = self.settings.warmers
        return list(dict.fromkeys([*warmers.on_connect.artifacts, *warmers.on_commit.artifacts]))

"""What warmer needs to know about the broker beyond Celery: is it up, and did it lose its data."""

from __future__ import annotations

import redis
from kombu import Connection

from warmer.queues import is_amqp


class BrokerProbe:
    def __init__(self, broker_url: str) -> None:
        self.url = broker_url

    def ping(self, timeout: float = 2.0) -> None:
        """Raise if the broker does not answer within `timeout` seconds."""
        if self.url.startswith(("redis://", "rediss://")):
            client = redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout)
            try:
                client.ping()
            finally:
                client.close()
            return
        with Connection(self.url, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)

    def server_run_id(self) -> str | None:
        """Redis's run_id changes on every restart; a restarted Redis without persistence
        has lost every queued message. None for brokers that keep messages (RabbitMQ)."""
        if is_amqp(self.url) or not self.url.startswith(("redis://", "rediss://")):
            return None
        client = redis.Redis.from_url(self.url, socket_timeout=2, socket_connect_timeout=2)
        try:
            info = client.info("server")
        finally:
            client.close()
        # Even a Redis with persistence is treated as having lost its messages on a
        # restart: that costs duplicate messages, which the ledger turns into no-ops,
        # while missing a loss would leave queued jobs with no message, stuck.
        return str(info["run_id"])

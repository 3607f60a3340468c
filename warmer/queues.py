"""Queues and priorities: commit > connect (and manual) > miss.

On Redis, kombu keeps one list per priority step and the worker's BRPOP lists
them step-major, so *message* priority is strict across queues while queue
order alone is not (see NOTES.md). Every warmer message therefore carries an
explicit priority, computed here for the broker in use: on Redis 0 is the
most urgent, on RabbitMQ the highest number is.
"""

from __future__ import annotations

from kombu import Exchange, Queue

from warmer.ledger.models import Trigger

COMMIT_QUEUE = "warmer.commit"
CONNECT_QUEUE = "warmer.connect"
MISS_QUEUE = "warmer.miss"
ALL_QUEUES = (COMMIT_QUEUE, CONNECT_QUEUE, MISS_QUEUE)

# Broker-neutral rank stored in the ledger: 0 is the most urgent.
_RANK = {Trigger.COMMIT: 0, Trigger.CONNECT: 1, Trigger.MANUAL: 1, Trigger.MISS: 2}
_QUEUE = {
    Trigger.COMMIT: COMMIT_QUEUE,
    Trigger.CONNECT: CONNECT_QUEUE,
    Trigger.MANUAL: CONNECT_QUEUE,
    Trigger.MISS: MISS_QUEUE,
}
# kombu's default Redis priority steps are [0, 3, 6, 9]: one step per rank.
_REDIS_PRIORITY = {0: 0, 1: 3, 2: 6}
# RabbitMQ: x-max-priority 10, higher first.
_AMQP_PRIORITY = {0: 9, 1: 6, 2: 3}
AMQP_MAX_PRIORITY = 10


def priority_for(trigger: Trigger) -> int:
    """The ledger's rank for a trigger (0 = most urgent)."""
    return _RANK[trigger]


def queue_for(trigger: Trigger) -> str:
    return _QUEUE[trigger]


def is_amqp(broker_url: str) -> bool:
    return broker_url.split("://", 1)[0] in {"amqp", "amqps", "pyamqp", "librabbitmq"}


def message_priority(rank: int, broker_url: str) -> int:
    """The number to put on the message so that the broker serves rank 0 first."""
    return (_AMQP_PRIORITY if is_amqp(broker_url) else _REDIS_PRIORITY)[rank]


def kombu_queues(broker_url: str) -> tuple[Queue, ...]:
    exchange = Exchange("warmer", type="direct")
    arguments = {"x-max-priority": AMQP_MAX_PRIORITY} if is_amqp(broker_url) else None
    return tuple(Queue(name, exchange, routing_key=name, queue_arguments=arguments) for name in ALL_QUEUES)

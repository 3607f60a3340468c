"""Queues and priorities: commit > connect (and manual) > miss.

On Redis, kombu keeps one list per priority step and the worker's BRPOP lists
them step-major, so *message* priority is strict across the three queues
while queue order alone is not (see NOTES.md). On RabbitMQ, priority
(`x-max-priority`) orders messages only within one queue: a consumer of
several queues takes from each in turn. So on RabbitMQ every trigger's
messages go to one priority queue, `warmer.jobs`, and the trigger's priority
alone orders them. Every warmer message carries an explicit priority, computed
here for the broker in use: on Redis 0 is the most urgent, on RabbitMQ the
highest number is.
"""

from __future__ import annotations

from kombu import Exchange, Queue

from warmer.ledger.models import Trigger

COMMIT_QUEUE = "warmer.commit"
CONNECT_QUEUE = "warmer.connect"
MISS_QUEUE = "warmer.miss"
ALL_QUEUES = (COMMIT_QUEUE, CONNECT_QUEUE, MISS_QUEUE)
AMQP_QUEUE = "warmer.jobs"  # RabbitMQ: one priority queue for all triggers

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


def queue_for(trigger: Trigger, broker_url: str) -> str:
    return AMQP_QUEUE if is_amqp(broker_url) else _QUEUE[trigger]


def is_amqp(broker_url: str) -> bool:
    return broker_url.split("://", 1)[0] in {"amqp", "amqps", "pyamqp", "librabbitmq"}


def message_priority(rank: int, broker_url: str) -> int:
    """The number to put on the message so that the broker serves rank 0 first."""
    return (_AMQP_PRIORITY if is_amqp(broker_url) else _REDIS_PRIORITY)[rank]


def default_queue(broker_url: str) -> str:
    """Where a message without a route goes (e.g. `celery call warmer.full_warming`)."""
    return queue_for(Trigger.CONNECT, broker_url)


def kombu_queues(broker_url: str) -> tuple[Queue, ...]:
    exchange = Exchange("warmer", type="direct")
    if is_amqp(broker_url):
        arguments = {"x-max-priority": AMQP_MAX_PRIORITY}
        return (Queue(AMQP_QUEUE, exchange, routing_key=AMQP_QUEUE, queue_arguments=arguments),)
    return tuple(Queue(name, exchange, routing_key=name) for name in ALL_QUEUES)

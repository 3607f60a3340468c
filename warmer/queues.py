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
# Redis: two priority steps per rank, consumed in this order. A re-published message (a job
# reclaimed from a dead worker, whose message the broker lost, or whose retry backoff ended) was
# due before everything published after it, so it waits in its rank's first lane, ahead of the
# rank's new messages, oldest job first (broker.merge_into_lanes). Pushing it to the front of the
# rank's one list served later re-publications first (after a FLUSHALL, a job reclaimed before
# the flushed backlog was published again ran last); a plain first-in-first-out lane served a job
# reclaimed just after a FLUSHALL behind the whole, younger, flushed backlog (bench/chaos.py).
REDIS_PRIORITY_STEPS = [0, 1, 3, 4, 6, 7]
_REDIS_REPUBLISHED = {0: 0, 1: 3, 2: 6}
_REDIS_PRIORITY = {0: 1, 1: 4, 2: 7}
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


def message_priority(rank: int, broker_url: str, *, republished: bool = False) -> int:
    """The number to put on the message so that the broker serves rank 0 first (and, on Redis, a
    rank's re-published messages before its new ones; RabbitMQ returns a dead consumer's
    messages itself, so there a re-publication is a new message)."""
    if is_amqp(broker_url):
        return _AMQP_PRIORITY[rank]
    return (_REDIS_REPUBLISHED if republished else _REDIS_PRIORITY)[rank]


def message_priorities(rank: int, broker_url: str) -> tuple[int, ...]:
    """Every number a message of this rank may carry."""
    return tuple(dict.fromkeys(message_priority(rank, broker_url, republished=r) for r in (True, False)))


def default_queue(broker_url: str) -> str:
    """Where a message without a route goes (e.g. `celery call warmer.full_warming`)."""
    return queue_for(Trigger.CONNECT, broker_url)


def kombu_queues(broker_url: str) -> tuple[Queue, ...]:
    exchange = Exchange("warmer", type="direct")
    if is_amqp(broker_url):
        arguments = {"x-max-priority": AMQP_MAX_PRIORITY}
        return (Queue(AMQP_QUEUE, exchange, routing_key=AMQP_QUEUE, queue_arguments=arguments),)
    return tuple(Queue(name, exchange, routing_key=name) for name in ALL_QUEUES)

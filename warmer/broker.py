"""What warmer needs to know about the broker beyond Celery: is it up, and which jobs it holds messages for.

The ledger decides what must run; the broker only delivers. To reconcile the
two, the leader reads, without consuming anything, which job ids the broker
still holds a message for: on Redis, kombu's lists (one per queue and priority
step) and its `unacked` hash (messages a consumer has taken and not yet acked,
with the time each was taken, in `unacked_index`). RabbitMQ cannot be read
without consuming; it tells how many messages wait in a queue.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import redis
from celery import Celery
from kombu import Connection
from kombu.utils.json import dumps

from warmer.ledger.models import Trigger
from warmer.queues import is_amqp, message_priorities, queue_for

GENERATE_TASK = "warmer.generate_artifact"
# Celery's protocol 2 envelope names the task and shows the arguments: enough to find the job id
# without decoding the body (measured: 6 µs a message against 20 µs for the full decode).
_TASK = re.compile(rb'"task": "([^"]+)"')
_ARGS = re.compile(rb'"argsrepr": "\[(\d+)\]"')
_SCAN_CHUNK = 1000


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


def job_id_of(raw: bytes | dict[str, Any]) -> int | None:
    """The job id a warmer.generate_artifact message carries, or None for any other message."""
    if isinstance(raw, bytes):
        task, args = _TASK.search(raw), _ARGS.search(raw)
        if task is not None and args is not None:
            return int(args.group(1)) if task.group(1) == GENERATE_TASK.encode() else None
        try:
            raw = json.loads(raw)
        except ValueError:
            return None
    try:
        if raw["headers"].get("task") != GENERATE_TASK:
            return None
        body = raw["body"]
        if raw["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        return int(json.loads(body)[0][0])
    except (KeyError, TypeError, ValueError, IndexError, AttributeError):
        return None


@dataclass(frozen=True)
class Taken:
    """A message a consumer took from a list and has not acked (kombu's `unacked` hash)."""

    tag: str
    job_id: int | None
    taken_at: float  # the consumer's clock, seconds since the epoch


class RedisMessages:
    """Reads and repairs kombu's Redis structures for warmer's queues, through kombu's own channel
    (its key names, priority steps and key prefix), without consuming a message."""

    def __init__(self, app: Celery, queues: Sequence[str]) -> None:
        self.app = app
        self.queues = list(queues)
        self._layout: dict[tuple[str, int], str] | None = None

    @contextlib.contextmanager
    def _channel(self) -> Iterator[Any]:
        with self.app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1)
            channel = conn.default_channel
            if self._layout is None:  # kombu's key for each queue and message priority, once
                self._layout = {
                    (queue, priority): str(channel._q_for_pri(queue, priority))
                    for queue in self.queues
                    for priority in range(10)
                }
            yield channel

    def _keys(self) -> list[str]:
        assert self._layout is not None
        return list(dict.fromkeys(self._layout.values()))

    def lanes_of(self, trigger: object, rank: object) -> tuple[str, ...] | None:
        """The lists a job's message may wait in (its rank's re-published and new lanes); None if
        no queue takes its trigger and priority."""
        url = self.app.conf.broker_url
        try:
            queue, priorities = queue_for(Trigger(trigger), url), message_priorities(rank, url)  # type: ignore[arg-type]
        except (KeyError, ValueError, TypeError):
            return None
        if self._layout is None:
            with self._channel():
                pass
        assert self._layout is not None
        return tuple(dict.fromkeys(self._layout[(queue, p)] for p in priorities))

    def lengths(self) -> dict[str, int]:
        """Messages waiting in each list (one per queue and priority step)."""
        with self._channel() as channel, channel.conn_or_acquire() as client:
            keys = self._keys()
            pipe = client.pipeline(transaction=False)
            for key in keys:
                pipe.llen(key)
            return dict(zip(keys, (int(n) for n in pipe.execute()), strict=True))

    def waiting(self) -> dict[int, int]:
        """Job id → number of messages for it waiting in the lists (read in chunks, not consumed)."""
        found: dict[int, int] = {}
        with self._channel() as channel, channel.conn_or_acquire() as client:
            for key in self._keys():
                start = 0
                while True:
                    chunk = client.lrange(key, start, start + _SCAN_CHUNK - 1)
                    for raw in chunk:
                        job_id = job_id_of(raw)
                        if job_id is not None:
                            found[job_id] = found.get(job_id, 0) + 1
                    if len(chunk) < _SCAN_CHUNK:
                        break
                    start += _SCAN_CHUNK
        return found

    def taken(self) -> list[Taken]:
        """Every message taken by some consumer and not acked yet, with its job and when it was taken."""
        with self._channel() as channel, channel.conn_or_acquire() as client:
            index = dict(client.zrange(channel.unacked_index_key, 0, -1, withscores=True))
            entries = client.hgetall(channel.unacked_key)
        taken = []
        for tag, raw in entries.items():
            try:
                message = json.loads(raw)[0]
            except (ValueError, IndexError, TypeError, KeyError):
                message = {}
            taken.append(Taken(_text(tag), job_id_of(message), float(index.get(tag, 0.0))))
        return taken

    def drop_taken(self, tags: Sequence[str]) -> None:
        """Forget taken messages whose consumer is gone or whose job is done: kombu would otherwise
        put them back after its visibility timeout, as duplicates."""
        if not tags:
            return
        with self._channel() as channel, channel.conn_or_acquire() as client:
            pipe = client.pipeline(transaction=False)
            pipe.zrem(channel.unacked_index_key, *tags)
            pipe.hdel(channel.unacked_key, *tags)
            pipe.execute()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


# Merge messages into a re-published lane, oldest job first (the lane's right end, where BRPOP
# takes), atomically: consumers pop the lane meanwhile, so a read-sort-write from the client would
# race them. The job id is read as job_id_of reads it, from the envelope's `argsrepr`.
_MERGE_INTO_LANE = """
local function job_of(raw)
  local id = string.match(raw, '"argsrepr": "%[(%d+)%]"')
  return tonumber(id) or 0
end
local all = {}
for _, raw in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do all[#all + 1] = {job_of(raw), raw} end
for i = 1, #ARGV do all[#all + 1] = {job_of(ARGV[i]), ARGV[i]} end
table.sort(all, function(a, b) return a[1] > b[1] end)
redis.call('DEL', KEYS[1])
for start = 1, #all, 1000 do
  local chunk = {}
  for i = start, math.min(start + 999, #all) do chunk[#chunk + 1] = all[i][2] end
  redis.call('RPUSH', KEYS[1], unpack(chunk))
end
return #all
"""


@contextlib.contextmanager
def collecting(channel: Any) -> Iterator[list[tuple[str, str]]]:
    """Make a kombu Redis channel collect the (list key, payload) of what it would publish instead
    of pushing it: Celery builds the messages as usual; `merge_into_lanes` stores them."""
    collected: list[tuple[str, str]] = []

    def _put(self: Any, queue: str, message: dict[str, Any], **_kwargs: Any) -> None:
        priority = self._get_message_priority(message, reverse=False)
        collected.append((self._q_for_pri(queue, priority), dumps(message)))

    original = channel._put
    channel._put = types.MethodType(_put, channel)
    try:
        yield collected
    finally:
        channel._put = original


def merge_into_lanes(channel: Any, collected: Sequence[tuple[str, str]]) -> None:
    """Store re-published messages in their lanes so that the lowest job id is taken first: a job
    published again is served by age among the jobs published again, whichever tick sent it."""
    by_key: dict[str, list[str]] = {}
    for key, payload in collected:
        by_key.setdefault(key, []).append(payload)
    with channel.conn_or_acquire() as client:
        merge = client.register_script(_MERGE_INTO_LANE)
        for key, payloads in by_key.items():
            merge(keys=[key], args=payloads)


def amqp_ready(app: Celery, queue: str) -> int:
    """Messages waiting in a RabbitMQ queue (not counting those consumers hold unacked)."""
    with app.connection_for_write() as conn:
        _name, count, _consumers = conn.default_channel.queue_declare(queue=queue, passive=True)
        return int(count)


def supports_scan(broker_url: str) -> bool:
    """Whether the broker's waiting messages can be read without consuming them (Redis)."""
    return broker_url.startswith(("redis://", "rediss://")) and not is_amqp(broker_url)

"""The ledger decides what must run: a queued job whose message the broker lost gets a new one,
and a job whose message is still waiting gets none. Real Postgres, real Redis (this run's db) and
RabbitMQ (this run's vhost); messages are taken by a real kombu consumer that then dies."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import time
from collections.abc import Iterator

import kombu.pools
import pytest
import redis
from celery import Celery
from kombu import Connection

from tests.support import services
from tests.support.factories import add_job, add_repo, job
from warmer import broker, publisher
from warmer.ledger.db import Database
from warmer.ledger.models import ClusterState, JobStatus, Trigger
from warmer.queues import kombu_queues, priority_for
from warmer.worker.redelivery import DELIVERY_KEY, LostMessageRescuer

AMQP_URL = os.environ.get("WARMER_TEST_AMQP", "amqp://guest:guest@127.0.0.1:5672//")


def _app(url: str) -> Celery:
    app = Celery("redelivery-tests")
    app.config_from_object("warmer.celery_defaults")
    app.conf.broker_url = url
    app.conf.task_queues = kombu_queues(url)
    return app


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    yield database
    database.dispose()


@pytest.fixture
def app() -> Iterator[Celery]:
    services.flush_redis()
    yield _app(services.REDIS_TEST_URL)
    services.flush_redis()


def _jobs(db: Database, n: int, trigger: Trigger = Trigger.CONNECT) -> list[int]:
    repo = add_repo(db, name=f"r-{trigger.value}")
    return [
        add_job(db, repo, commit=f"{i:040x}", trigger=trigger, artifact_type="test_noop") for i in range(n)
    ]


def _publish(app: Celery, db: Database, ids: list[int], trigger: Trigger = Trigger.CONNECT) -> None:
    publisher.publish(app, db, [(i, trigger, priority_for(trigger)) for i in ids])


def _rescuer(app: Celery, db: Database, grace: float = 10.0) -> LostMessageRescuer:
    return LostMessageRescuer(app, db, poll_interval_secs=0.5, taken_grace_secs=grace)


def _waiting(app: Celery) -> dict[int, int]:
    from warmer.queues import ALL_QUEUES

    return broker.RedisMessages(app, ALL_QUEUES).waiting()


def _next_delivered(app: Celery, queue: str) -> int | None:
    """Take the next message of `queue` as a consumer would (and ack it); its job id."""
    with app.connection_for_write() as conn:
        message = conn.default_channel.basic_get(queue=queue, no_ack=True)
    return None if message is None else broker.job_id_of(message._raw)


def test_a_flushed_broker_s_jobs_are_published_again(app: Celery, db: Database) -> None:
    ids = _jobs(db, 300)
    _publish(app, db, ids)
    assert sum(_waiting(app).values()) == 300
    services.flush_redis()  # the same server, the same run_id: nothing says it restarted
    check = _rescuer(app, db).run_once()
    assert (check.published, check.lost, check.scanned) == (300, 300, True)
    assert all(job(db, i).published_at is None for i in ids)
    assert publisher.publish_due(app, db) == 300
    assert _waiting(app) == dict.fromkeys(ids, 1)  # one message each, no more
    with db.session() as session:
        recorded = json.loads(session.get(ClusterState, DELIVERY_KEY).value)  # type: ignore[union-attr]
    assert recorded["lost"] == 300


def test_a_backlog_waiting_on_the_broker_gets_no_duplicate(app: Celery, db: Database) -> None:
    ids = _jobs(db, 500)
    _publish(app, db, ids)
    rescuer = _rescuer(app, db)
    checks = [rescuer.run_once() for _ in range(3)]
    assert [c.lost for c in checks] == [0, 0, 0] and checks[0].scanned
    assert _waiting(app) == dict.fromkeys(ids, 1)
    assert publisher.publish_due(app, db) == 0


def test_a_lost_job_is_published_again_ahead_of_the_backlog(app: Celery, db: Database) -> None:
    backlog = _jobs(db, 50)
    _publish(app, db, backlog)
    lost = _jobs(db, 1, Trigger.MANUAL)[0]  # connect's queue and priority
    _publish(app, db, [lost], Trigger.MANUAL)
    new_lane = broker.RedisMessages(app, ["warmer.connect"]).lanes_of(Trigger.MANUAL, 1)[-1]  # type: ignore[index]
    client = redis.Redis.from_url(services.REDIS_TEST_URL)
    assert client.lpop(new_lane) is not None  # its message, the newest, vanishes
    assert _rescuer(app, db).run_once().lost == 1
    assert publisher.publish_due(app, db) == 1
    assert _next_delivered(app, "warmer.connect") == lost  # next, not after the 50 waiting
    assert _next_delivered(app, "warmer.connect") == backlog[0]


def test_jobs_published_again_are_served_oldest_first_whichever_tick_sent_them(
    app: Celery, db: Database
) -> None:
    """A flushed backlog published again, then an older job reclaimed a tick later, then an even
    older one: served oldest first (a later re-publication used to go in front of the earlier
    ones, or behind all of them), and all before new messages."""
    oldest, older, (*flushed, fresh) = (
        _jobs(db, 1)[0],
        _jobs(db, 1, Trigger.MISS)[0],
        _jobs(db, 21, Trigger.MANUAL),
    )
    publisher.publish(app, db, [(i, Trigger.MANUAL, 1) for i in reversed(flushed)], republished=True)
    publisher.publish(app, db, [(fresh, Trigger.MANUAL, 1)])
    publisher.publish(app, db, [(older, Trigger.CONNECT, 1)], republished=True)  # connect's queue, rank 1
    publisher.publish(app, db, [(oldest, Trigger.CONNECT, 1)], republished=True)
    served = [_next_delivered(app, "warmer.connect") for _ in range(23)]
    assert served == [oldest, older, *flushed, fresh]
    assert _waiting(app) == {}


def _take_and_die(url: str) -> None:
    """A consumer that takes one message (kombu records it in `unacked`) and is killed."""
    with _app(url).connection_for_write() as conn:
        conn.default_channel.basic_get(queue="warmer.connect", no_ack=False)
        os.kill(os.getpid(), signal.SIGKILL)


def _killed_consumer() -> None:
    child = multiprocessing.get_context("fork").Process(target=_take_and_die, args=(services.REDIS_TEST_URL,))
    child.start()
    child.join(30)
    assert child.exitcode == -signal.SIGKILL


def test_a_message_taken_by_a_dead_consumer_is_published_again_after_the_grace(
    app: Celery, db: Database
) -> None:
    (job_id,) = _jobs(db, 1)
    _publish(app, db, [job_id])
    _killed_consumer()
    [taken] = broker.RedisMessages(app, ["warmer.connect"]).taken()
    assert taken.job_id == job_id and _waiting(app) == {}
    rescuer = _rescuer(app, db, grace=1.0)
    assert rescuer.run_once().lost == 0  # a live consumer would be claiming it right now
    time.sleep(1.2)
    check = rescuer.run_once()
    assert (check.lost, check.dead_takers) == (1, 1)
    assert broker.RedisMessages(app, ["warmer.connect"]).taken() == []  # kombu will not restore it later
    assert publisher.publish_due(app, db) == 1
    assert _waiting(app) == {job_id: 1}
    assert rescuer.run_once().lost == 0


def test_a_taken_message_of_a_finished_job_is_dropped(app: Celery, db: Database) -> None:
    from tests.support.factories import force

    (job_id,) = _jobs(db, 1)
    _publish(app, db, [job_id])
    _killed_consumer()
    force(db, job_id, status=JobStatus.COMPLETED, claim_token=None, finished_at=db.now())
    time.sleep(1.2)
    assert _rescuer(app, db, grace=1.0).run_once().lost == 0
    assert broker.RedisMessages(app, ["warmer.connect"]).taken() == []


def test_no_published_jobs_no_reading_of_the_lists(app: Celery, db: Database) -> None:
    check = _rescuer(app, db).run_once()
    assert (check.published, check.lost, check.scanned) == (0, 0, False)


def test_job_ids_are_read_from_real_messages() -> None:
    assert broker.job_id_of(b'{"headers": {"task": "warmer.full_warming", "argsrepr": "[3]"}}') is None
    envelope = {
        "body": "W1sxMjNdLCB7fSwge31d",  # base64 of [[123], {}, {}]
        "headers": {"task": "warmer.generate_artifact", "argsrepr": "['123']"},
        "properties": {"body_encoding": "base64"},
    }
    assert broker.job_id_of(json.dumps(envelope).encode()) == 123  # the full decode, not the shortcut
    assert broker.job_id_of(b"not json") is None


@pytest.fixture
def amqp_app() -> Iterator[Celery]:
    def purge() -> None:
        with Connection(AMQP_URL, connect_timeout=5) as conn:
            for queue in kombu_queues(AMQP_URL):
                queue.bind(conn.default_channel).declare()
                queue.bind(conn.default_channel).purge()

    # Celery's producers come from kombu's process-wide pools, keyed by the broker URL: a connection
    # an earlier test left idle there for minutes was reset by the broker when this test reused it.
    kombu.pools.reset()
    purge()
    yield _app(AMQP_URL)
    purge()
    kombu.pools.reset()


def test_on_rabbitmq_the_missing_messages_are_published_again(amqp_app: Celery, db: Database) -> None:
    ids = _jobs(db, 20)
    _publish(amqp_app, db, ids)
    rescuer = _rescuer(amqp_app, db, grace=0.0)
    assert rescuer.run_once().lost == 0
    with Connection(AMQP_URL, connect_timeout=5) as conn:
        for _ in range(5):  # five messages consumed and acked by a consumer that never claimed their jobs
            assert conn.default_channel.basic_get(queue="warmer.jobs", no_ack=True) is not None
    check = rescuer.run_once()
    assert check.lost == 5
    assert publisher.publish_due(amqp_app, db) == 5
    assert broker.amqp_ready(amqp_app, "warmer.jobs") == 20
    assert rescuer.run_once().lost == 0

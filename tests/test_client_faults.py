"""The client against a real server through faults (issue 9 acceptance).

Fault test: ``league_api.client`` (0.5 s timeout) drives keyed writes over every Idem endpoint
through a loopback proxy that drops 20% of the answers after the server sent them, resets 5%
of the connections mid-request and holds 5% past the client's timeout, while gunicorn workers
are SIGKILLed at random. Every operation's side effect lands exactly once (counted in the
database) and every call returns the original answer (its replay is byte for byte the same).

Rate limits: 4 threads making 200 calls against a server limited to 5 requests/s finish every
call by waiting as told, with no error raised.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

import pytest
from fault_proxy import FaultProxy
from reliability import (
    Answer,
    Client,
    Job,
    Killer,
    count_effects,
    count_rows,
    plan_jobs,
    run_in_threads,
    send_until_answered,
    size,
    summary,
)

from league_api.client import Answer as ClientAnswer
from league_api.client import LeagueClient
from league_api.client.operations import find

OPERATIONS = size(1000, 5000)
THREADS = 8
KILL_EVERY = (15, 60)  # a random worker is SIGKILLed after every 15-60 proxied requests
TIMEOUT_S = 0.5
DELAY_S = 0.7  # past the client's timeout


def call_operation(clients: dict[str, LeagueClient], job: Job) -> ClientAnswer:
    """The job through its operation's own client method (``client.<area>.<name>(...)``)."""
    operation, arguments = find("POST", job.operation.path)
    area = getattr(clients[job.endpoint.who], operation.area)
    return getattr(area, operation.name)(*arguments, **job.operation.body)


class RetryLog(logging.Handler):
    """Counts the client's retries by failure (its INFO records on ``league_api.client``)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.failures: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        self.failures[record.failure] += 1

    def __enter__(self) -> RetryLog:
        logger = logging.getLogger("league_api.client")
        self._level = logger.level
        logger.setLevel(logging.INFO)
        logger.addHandler(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        logger = logging.getLogger("league_api.client")
        logger.removeHandler(self)
        logger.setLevel(self._level)


def as_answer(answer: ClientAnswer) -> Answer:
    response = answer.response
    return Answer(
        response.status_code,
        response.content,
        response.headers.get("Content-Type"),
        response.headers.get("Location"),
        answer.replayed,
    )


@pytest.mark.slow
def test_keyed_writes_through_lost_answers_resets_delays_and_killed_workers_land_once(
    live_server, served_world, database_url
):
    begun = time.monotonic()
    server = live_server(workers=4)
    keys = served_world["keys"]
    plain = Client(server.url, keys)
    jobs = plan_jobs(plain.call, served_world, OPERATIONS, prefix="faults")
    killer = Killer(server.process.pid, KILL_EVERY, seed=OPERATIONS)
    proxy = FaultProxy(
        server.port,
        drop=0.20,
        reset=0.05,
        delay=0.05,
        delay_s=DELAY_S,
        seed=OPERATIONS,
        on_connection=killer.tick,
    )
    # Generous retry bounds: the proxy alone fails about 30% of all attempts.
    clients = {
        who: LeagueClient(
            proxy.url,
            keys[who],
            timeout=TIMEOUT_S,
            max_retries=40,
            deadline=80.0,
            backoff_base=0.05,
            backoff_cap=1.0,
        )
        for who in {job.endpoint.who for job in jobs}
    }
    started = time.monotonic()
    try:
        with RetryLog() as retries:
            answers = run_in_threads(THREADS, jobs, lambda job: call_operation(clients, job))
    finally:
        elapsed = time.monotonic() - started
        for client in clients.values():
            client.close()
        proxy.close()

    assert {answer.status for answer in answers} <= {200, 201}
    assert len({answer.idempotency_key for answer in answers}) == len(jobs)
    assert proxy.counts["drop"] > 0 and proxy.counts["reset"] > 0
    assert proxy.counts["delay_request"] + proxy.counts["delay_answer"] > 0
    assert killer.kills >= 5, "the test must really have killed workers"

    effects = count_effects(database_url, jobs)
    assert {token: n for token, n in effects.items() if n != 1} == {}

    # Every call returned the original answer: the key's replay, straight from the server, is
    # byte for byte what the client handed back.
    def replay(pair: tuple[Job, ClientAnswer]) -> Answer:
        job, answer = pair
        same_key = Job(job.endpoint, job.operation, answer.idempotency_key)
        return send_until_answered(plain, same_key).answer

    finals = run_in_threads(THREADS, list(zip(jobs, answers, strict=True)), replay)
    for job, answer, again in zip(jobs, answers, finals, strict=True):
        assert again.replayed and again.same_response(as_answer(answer)), job.operation.token
    plain.close()

    attempts = Counter(answer.attempts for answer in answers)
    summary(
        "client-faults",
        operations=len(jobs),
        requests=sum(answer.attempts for answer in answers),
        max_attempts=max(attempts),
        retried_calls=sum(n for a, n in attempts.items() if a > 1),
        replayed_answers=sum(answer.replayed for answer in answers),
        kills=killer.kills,
        dropped=proxy.counts["drop"],
        dropped_after_2xx=proxy.counts["dropped_200"] + proxy.counts["dropped_201"],
        reset=proxy.counts["reset"],
        delayed=proxy.counts["delay_request"] + proxy.counts["delay_answer"],
        broken_by_kills=proxy.counts["broken"],
        effects=sum(effects.values()),
        retries=dict(sorted(retries.failures.items())),
        seconds=f"{elapsed:.1f}",
        total_seconds=f"{time.monotonic() - begun:.1f}",
    )


# At 5 requests per second the limit is hit at once: 60 calls wait it out for about 12 s.
CALLS = size(60, 200)
RATE_THREADS = 4


@pytest.mark.slow
# The limiter counts in the server process, not in the database: one backend is enough.
@pytest.mark.backend("sqlite")
def test_the_client_waits_out_rate_limits_without_an_error(live_server, served_world, database_url):
    server = live_server(
        workers=1,
        env={
            "FLASK_RATELIMIT_ENABLED": "true",
            "FLASK_RATELIMIT_STORAGE_URI": "memory://",
            "FLASK_RATELIMIT_KEY": "5/second",
            "FLASK_RATELIMIT_IP": "1000/second",
        },
    )
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)
        time.sleep(seconds)  # the client's own wait, as the server told it

    started = time.monotonic()
    with LeagueClient(server.url, served_world["keys"]["alice"], sleep=sleep) as client:
        answers = run_in_threads(
            RATE_THREADS,
            list(range(CALLS)),
            lambda number: client.tickets.create_ticket(
                subject=f"rate {number}", description="rate limit test", category="other"
            ),
        )
    elapsed = time.monotonic() - started

    assert [answer.status for answer in answers] == [201] * CALLS
    assert count_rows(database_url, "support_tickets") == CALLS
    # The client sleeps only before a retry: the limit was hit and waited out.
    assert waits
    summary(
        "client-rate-limited",
        calls=CALLS,
        threads=RATE_THREADS,
        waits=len(waits),
        attempts=dict(sorted(Counter(answer.attempts for answer in answers).items())),
        waited_seconds=f"{sum(waits):.1f}",
        seconds=f"{elapsed:.1f}",
    )

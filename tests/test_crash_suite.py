"""Crash suite (API.md 4 and 6): keyed writes while gunicorn workers are SIGKILLed at random.

The client retries every request that got no answer, or a 409 in_use / 503, with the same key
and body until it is answered. Then: every operation applied exactly once, no acknowledged
write lost, no key stuck (a last retry of every key replays its answer), zero 5xx.
"""

from __future__ import annotations

import time

import pytest
from reliability import (
    Client,
    Killer,
    KillingClient,
    count_effects,
    plan_jobs,
    run_in_threads,
    send_until_answered,
    size,
    summary,
)

OPERATIONS = size(1000, 3000)
THREADS = 8
# A random worker is SIGKILLed after every 15-60 requests sent (retries included).
KILL_EVERY = (15, 60)


@pytest.mark.slow
def test_workers_killed_at_random_neither_lose_nor_double_writes(
    live_server, served_world, database_url
):
    server = live_server(workers=4)
    keys = served_world["keys"]
    plain = Client(server.url, keys)
    jobs = plan_jobs(plain.call, served_world, OPERATIONS, prefix="crash")
    killer = Killer(server.process.pid, KILL_EVERY, seed=OPERATIONS)
    client = KillingClient(server.url, keys, killer)

    started = time.monotonic()
    outcomes = run_in_threads(THREADS, jobs, lambda job: send_until_answered(client, job))
    elapsed = time.monotonic() - started
    client.close()

    answers = [outcome.answer for outcome in outcomes]
    server_errors = [answer for answer in answers if answer.status >= 500]
    assert server_errors == []
    assert {answer.status for answer in answers} <= {200, 201}
    lost = sum(outcome.lost for outcome in outcomes)
    assert killer.kills >= 5 and lost > 0, "the suite must really have killed busy workers"

    effects = count_effects(database_url, jobs)
    assert {token: n for token, n in effects.items() if n != 1} == {}

    # No acknowledged write lost and no key stuck: every key replays what it answered.
    finals = run_in_threads(THREADS, jobs, lambda job: send_until_answered(plain, job).answer)
    for job, answer, again in zip(jobs, answers, finals, strict=True):
        assert again.replayed and again.same_response(answer), job.key
    plain.close()

    summary(
        "crash",
        operations=len(jobs),
        requests=sum(outcome.attempts for outcome in outcomes) + len(jobs),
        kills=killer.kills,
        no_answer=lost,
        in_use_or_503=sum(outcome.waited for outcome in outcomes),
        replayed_first_answers=sum(answer.replayed for answer in answers),
        effects=sum(effects.values()),
        server_errors=len(server_errors),
        seconds=f"{elapsed:.1f}",
        total_seconds=f"{time.monotonic() - started:.1f}",
    )

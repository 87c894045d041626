"""Storm (API.md 4 and 6): K keys x D concurrent duplicates against a 4-worker gunicorn.

Exactly one side effect per key, zero 5xx, and every answer is the original, its
byte-identical replay, or 409 ``error_idempotency_key_in_use`` (with Retry-After).
The "impatient" variant shrinks the claim's lock timeout and SQLite's busy timeout to
1 ms so that the in_use path is taken under load too.
"""

from __future__ import annotations

import functools
import random
import time

import pytest
from reliability import (
    Client,
    count_effects,
    fire_rounds,
    plan_jobs,
    send_until_answered,
    size,
    summary,
)

KEYS = size(100, 200)
DUPLICATES = size(10, 20)
# Keys whose duplicates one barrier releases together (threads = this x DUPLICATES).
KEYS_PER_ROUND = 5
IN_USE = "error_idempotency_key_in_use"

PATIENCE = {
    "patient": {},
    # The tables exist already (served_world): workers skip init-db, whose own write lock
    # would not wait 1 ms for each other at boot.
    "impatient": {
        "FLASK_IDEMPOTENCY_LOCK_TIMEOUT_MS": "1",
        "FLASK_SQLITE_BUSY_TIMEOUT_MS": "1",
        "FLASK_AUTO_INIT_DB": "false",
    },
}


def _send(client: Client, job):
    return job, client.send(
        "POST", job.operation.path, job.endpoint.who, job.operation.body, job.key
    )


def _storm(client: Client, jobs) -> dict[str, list]:
    """Every job DUPLICATES times, KEYS_PER_ROUND keys per barrier release, shuffled."""
    shuffle = random.Random(len(jobs) * DUPLICATES)
    rounds = []
    for start in range(0, len(jobs), KEYS_PER_ROUND):
        calls = [
            functools.partial(_send, client, job)
            for job in jobs[start : start + KEYS_PER_ROUND]
            for _ in range(DUPLICATES)
        ]
        shuffle.shuffle(calls)
        rounds.append(calls)
    answers: dict[str, list] = {job.operation.token: [] for job in jobs}
    for results in fire_rounds(rounds):
        for job, answer in results:
            answers[job.operation.token].append(answer)
    return answers


@pytest.mark.slow
@pytest.mark.parametrize("patience", sorted(PATIENCE))
def test_storm_of_duplicates_applies_each_key_once(
    live_server, served_world, database_url, patience
):
    server = live_server(workers=4, env=PATIENCE[patience])
    client = Client(server.url, served_world["keys"])
    jobs = plan_jobs(client.call, served_world, KEYS, prefix="storm")
    started = time.monotonic()
    answers = _storm(client, jobs)
    elapsed = time.monotonic() - started

    server_errors = [a for found in answers.values() for a in found if a.status >= 500]
    assert server_errors == []
    replays = in_use = 0
    originals = {}
    for job in jobs:
        found = answers[job.operation.token]
        assert len(found) == DUPLICATES
        waited = [a for a in found if a.error == IN_USE]
        assert all(a.status == 409 and a.retry_after for a in waited)
        ran = [a for a in found if a.error != IN_USE and not a.replayed]
        assert len(ran) <= 1, f"{job.operation.token}: {len(ran)} answers ran the view"
        if not ran:
            # Every duplicate was told in_use: the key is free, so a retry runs it now.
            ran = [send_until_answered(client, job).answer]
            assert not ran[0].replayed
        original = originals[job.operation.token] = ran[0]
        assert original.status in (200, 201), original.body
        replayed = [a for a in found if a.replayed]
        assert all(a.same_response(original) for a in replayed)
        replays += len(replayed)
        in_use += len(waited)
    if patience == "patient":
        assert in_use == 0, "a 5 s wait is ample here: nobody should be told in_use"

    effects = count_effects(database_url, jobs)
    assert {token: n for token, n in effects.items() if n != 1} == {}

    # No key is stuck: one more retry of every key replays the original byte for byte.
    for job in jobs:
        again = send_until_answered(client, job).answer
        assert again.replayed and again.same_response(originals[job.operation.token])
    client.close()

    summary(
        f"storm-{patience}",
        keys=len(jobs),
        duplicates=DUPLICATES,
        requests=len(jobs) * (DUPLICATES + 1),
        replays=replays,
        in_use=in_use,
        effects=sum(effects.values()),
        server_errors=len(server_errors),
        seconds=f"{elapsed:.1f}",
    )

"""Simultaneous keyed requests on a real 4-worker gunicorn sharing one database (API.md 4, 6)."""

from __future__ import annotations

import http.client
import json
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import requests
from sqlalchemy import func, select

from league_api import create_app
from league_api.db import db
from league_api.idempotency import IdempotencyRecord
from league_api.models import SupportTicket

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}
IN_USE = "error_idempotency_key_in_use"


def simultaneously(calls: list[Any]) -> list[requests.Response]:
    """Run every call at the same moment: each thread waits at one barrier, then sends."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


def keyed_post(url: str, api_key: str, key: str, body: dict[str, Any] = TICKET):
    headers = {"Authorization": f"Bearer {api_key}", "Idempotency-Key": key}
    return lambda: requests.post(url + "/tickets", json=body, headers=headers, timeout=60)


def database_counts(database_url: str) -> tuple[int, int]:
    """(tickets, idempotency records), read straight from the database the server uses."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "AUTO_INIT_DB": False})
    with app.app_context():
        tickets = db.session.scalar(select(func.count()).select_from(SupportTicket))
        records = db.session.scalar(select(func.count()).select_from(IdempotencyRecord))
        db.session.remove()
        db.engine.dispose()
    return tickets, records


def check_one_operation(responses: list[requests.Response]) -> bytes:
    """One original 201; every other answer is its byte-identical replay or a 409 in_use."""
    assert all(r.status_code < 500 for r in responses), [r.status_code for r in responses]
    originals = [
        r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    ]
    assert len(originals) == 1, [(r.status_code, dict(r.headers)) for r in responses]
    original = originals[0]
    for response in responses:
        if response.status_code == 409:
            assert response.json()["error"] == IN_USE, response.text
            assert response.headers["Retry-After"].isdigit()
        elif response is not original:
            assert response.status_code == 201, response.text
            assert response.headers["Idempotent-Replayed"] == "true"
            assert response.content == original.content
            assert response.headers["Location"] == original.headers["Location"]
            assert response.headers["Content-Type"] == original.headers["Content-Type"]
    return original.content


def test_fifty_simultaneous_identical_requests_make_one_ticket(
    live_server, served_world, database_url
):
    server = live_server(workers=4)
    alice = served_world["keys"]["alice"]
    responses = simultaneously([keyed_post(server.url, alice, "storm-1") for _ in range(50)])
    body = check_one_operation(responses)
    assert database_counts(database_url) == (1, 1)
    # Afterwards the key simply replays.
    late = keyed_post(server.url, alice, "storm-1")()
    assert late.status_code == 201 and late.content == body
    listed = requests.get(
        server.url + "/tickets", headers={"Authorization": f"Bearer {alice}"}, timeout=30
    ).json()
    assert [t["id"] for t in listed["tickets"]] == [json.loads(body)["ticketId"]]


def test_a_hundred_keys_each_sent_three_times_make_a_hundred_tickets(
    live_server, served_world, database_url
):
    server = live_server(workers=4)
    keys = served_world["keys"]
    calls, owners = [], []
    for index in range(100):
        who = ("alice", "bob")[index % 2]
        for _ in range(3):
            calls.append(keyed_post(server.url, keys[who], f"key-{index}"))
            owners.append(index)
    responses = simultaneously(calls)
    by_key: dict[int, list[requests.Response]] = defaultdict(list)
    for index, response in zip(owners, responses, strict=True):
        by_key[index].append(response)
    ticket_ids = set()
    for index, answers in by_key.items():
        body = check_one_operation(answers)
        ticket_ids.add(json.loads(body)["ticketId"])
        assert len(answers) == 3, index
    assert len(ticket_ids) == 100
    assert database_counts(database_url) == (100, 100)


def test_the_real_server_refuses_a_repeated_key_and_an_oversized_chunked_body(
    live_server, served_world, database_url
):
    server = live_server(workers=1)
    alice = served_world["keys"]["alice"]
    parts = urlsplit(server.url)
    # Two Idempotency-Key headers on the wire (gunicorn joins them with a comma).
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    body = json.dumps(TICKET).encode()
    connection.putrequest("POST", parts.path + "/tickets")
    for name, value in (
        ("Authorization", f"Bearer {alice}"),
        ("Content-Type", "application/json"),
        ("Content-Length", str(len(body))),
        ("Idempotency-Key", "twice"),
        ("Idempotency-Key", "twice"),
    ):
        connection.putheader(name, value)
    connection.endheaders(body)
    answer = connection.getresponse()
    assert answer.status == 400
    assert json.loads(answer.read())["error"] == "error_idempotency_key_invalid"
    connection.close()

    # A chunked upload (no Content-Length): valid JSON padded past 1 MiB is a 413, not a
    # body cut at the limit; one just under the limit goes through.
    def chunks(total: int):
        yield body
        padding = total - len(body)
        while padding > 0:
            step = min(padding, 64 * 1024)
            yield b" " * step
            padding -= step

    headers = {
        "Authorization": f"Bearer {alice}",
        "Content-Type": "application/json",
        "Idempotency-Key": "chunked",
    }
    url = server.url + "/tickets"
    too_big = requests.post(url, data=chunks(1024 * 1024 + 1), headers=headers, timeout=30)
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["error"] == "error_payload_too_large"
    fits = requests.post(url, data=chunks(1024 * 1024), headers=headers, timeout=30)
    assert fits.status_code == 201, fits.text
    assert database_counts(database_url) == (1, 1)

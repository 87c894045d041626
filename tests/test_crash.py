"""A gunicorn worker killed (SIGKILL) inside a keyed request, after the view ran and the record
was written, just before commit: there must be neither the ticket nor the record (API.md 4)."""

from __future__ import annotations

import os
import select
import signal
import threading
from pathlib import Path

import requests
from sqlalchemy import func
from sqlalchemy import select as sql_select

from league_api import create_app
from league_api.db import db
from league_api.idempotency import IdempotencyRecord
from league_api.models import SupportTicket

TICKET = {"subject": "Crash", "description": "Killed mid-request", "category": "other"}
REPO_ROOT = Path(__file__).resolve().parents[1]


def database_counts(database_url: str) -> tuple[int, int]:
    """(tickets, idempotency records), read straight from the server's database."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "AUTO_INIT_DB": False})
    with app.app_context():
        tickets = db.session.scalar(sql_select(func.count()).select_from(SupportTicket))
        records = db.session.scalar(sql_select(func.count()).select_from(IdempotencyRecord))
        db.session.remove()
        db.engine.dispose()
    return tickets, records


def read_line(fd: int, timeout: float) -> str:
    """Block on the FIFO until the hook writes its line (bounded by ``timeout``)."""
    data = b""
    while not data.endswith(b"\n"):
        ready, _, _ = select.select([fd], [], [], timeout)
        assert ready, "the held request never reached the commit hook"
        data += os.read(fd, 256)
    return data.decode()


def test_a_worker_killed_before_commit_leaves_nothing_and_the_retry_runs_once(
    live_server, served_world, database_url, tmp_path
):
    fifo = tmp_path / "hold.fifo"
    os.mkfifo(fifo)
    # Read-write: opening never blocks, and select() waits for data rather than seeing EOF.
    fd = os.open(fifo, os.O_RDWR | os.O_NONBLOCK)
    try:
        server = live_server(
            workers=2,
            app_spec="tests.apps.hold_app:create_app()",
            env={
                "LEAGUE_HOLD_FIFO": str(fifo),
                "LEAGUE_HOLD_MARKER": str(tmp_path / "held"),
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])
                ),
            },
        )
        url = server.url + "/tickets"
        headers = {
            "Authorization": f"Bearer {served_world['keys']['alice']}",
            "Idempotency-Key": "crash-1",
        }
        outcome: dict[str, object] = {}

        def first_attempt() -> None:
            try:
                outcome["response"] = requests.post(url, json=TICKET, headers=headers, timeout=60)
            except requests.RequestException as error:
                outcome["error"] = error

        client = threading.Thread(target=first_attempt)
        client.start()
        pid_text, key = read_line(fd, timeout=30).split()
        assert key == "crash-1"
        worker_pid = int(pid_text)
        assert worker_pid != server.process.pid
        os.kill(worker_pid, signal.SIGKILL)
        client.join(timeout=30)
        assert not client.is_alive()
    finally:
        os.close(fd)

    # The client saw the connection die, never an answer.
    assert "response" not in outcome, outcome
    assert isinstance(outcome["error"], requests.ConnectionError)
    # Neither the ticket nor the record survived the crash.
    assert database_counts(database_url) == (0, 0)

    # A retry with the same key runs the operation exactly once...
    retry = requests.post(url, json=TICKET, headers=headers, timeout=60)
    assert retry.status_code == 201, retry.text
    assert "Idempotent-Replayed" not in retry.headers
    assert database_counts(database_url) == (1, 1)
    # ...and a further retry replays it.
    again = requests.post(url, json=TICKET, headers=headers, timeout=60)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.content == retry.content
    assert database_counts(database_url) == (1, 1)

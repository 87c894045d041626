"""league_api with a test hook (tests/commit_hook.py) holding the first keyed write before COMMIT.

For the crash test: ``gunicorn "tests.apps.hold_app:create_app()"`` with

* ``LEAGUE_HOLD_FIFO``: a FIFO the hook writes ``"<worker pid> <key>\\n"`` to, so the test knows
  which worker to kill and that the view ran and the record was written;
* ``LEAGUE_HOLD_MARKER``: a file created atomically by the first held request; later requests
  (the retries) find it and commit normally.
"""

from __future__ import annotations

import os
import threading

from flask import Flask

import league_api
from tests.commit_hook import HOOK


def hold_first_commit(key: str) -> None:
    """Signal the test, then block forever (until the worker is killed)."""
    try:
        marker = os.open(os.environ["LEAGUE_HOLD_MARKER"], os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(marker)
    with open(os.environ["LEAGUE_HOLD_FIFO"], "w") as fifo:
        fifo.write(f"{os.getpid()} {key}\n")
    threading.Event().wait()


def create_app() -> Flask:
    app = league_api.create_app()
    app.config[HOOK] = hold_first_commit
    return app

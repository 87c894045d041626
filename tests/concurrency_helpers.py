"""Racing requests against a live server: a plain client for setting state up, and ``at_once``,
which sends a batch of requests at the same moment.

``at_once`` gives every request its own thread and its own ``requests.Session`` and releases
them all through one ``threading.Barrier``: no sleeps, every wait bounded, loopback only.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

import requests
from reliability import Answer
from sqlalchemy import create_engine, text

TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Call:
    """One request as a demo key (``who``), optionally with an Idempotency-Key."""

    method: str
    path: str
    who: str
    body: Any = None
    key: str | None = None


def body_of(answer: Answer) -> dict[str, Any]:
    return json.loads(answer.body)


class Live:
    """A live server's base URL and demo world, with a session for unraced set-up calls."""

    def __init__(self, base_url: str, world: dict[str, dict[str, str]]) -> None:
        assert base_url.startswith("http://127.0.0.1:"), "races only ever target loopback"
        self.base_url = base_url
        self.world = world
        self.session = requests.Session()

    def send(self, call: Call, session: requests.Session | None = None) -> Answer:
        headers = {"Authorization": f"Bearer {self.world['keys'][call.who]}"}
        if call.key is not None:
            headers["Idempotency-Key"] = call.key
        response = (session or self.session).request(
            call.method,
            self.base_url + call.path,
            json=call.body,
            headers=headers,
            timeout=TIMEOUT_S,
        )
        return Answer(
            response.status_code,
            response.content,
            response.headers.get("Content-Type"),
            response.headers.get("Location"),
            response.headers.get("Idempotent-Replayed") == "true",
            response.headers.get("Retry-After"),
        )

    def ok(self, method: str, path: str, who: str, body: Any = None, status: int = 200) -> dict:
        """A set-up or read call that must answer ``status``; its JSON body."""
        answer = self.send(Call(method, path, who, body))
        assert answer.status == status, (method, path, answer.status, answer.body)
        return body_of(answer)

    def at_once(self, calls: list[Call]) -> list[Answer]:
        """Send every call at the same moment; the answers in call order."""
        barrier = threading.Barrier(len(calls))
        answers: list[Answer | None] = [None] * len(calls)
        errors: list[BaseException] = []

        def run(index: int) -> None:
            with requests.Session() as session:
                try:
                    barrier.wait(timeout=TIMEOUT_S)
                    answers[index] = self.send(calls[index], session)
                except BaseException as error:
                    errors.append(error)
                    barrier.abort()

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(len(calls))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=2 * TIMEOUT_S)
        assert not any(thread.is_alive() for thread in threads), "a racing request never ended"
        if errors:
            raise errors[0]
        assert all(answer is not None for answer in answers)
        return answers  # type: ignore[return-value]

    def at_once_keyed(self, calls: list[Call], attempts: int = 20) -> list[Answer]:
        """``at_once`` for keyed calls, each ``409 in_use`` retried as a client would.

        API.md lets a duplicate that waited too long (a loaded machine) get ``in_use`` with
        ``Retry-After``; its retry must then get the stored answer. Each retry waits on the
        server for the first request, so no client-side pause is needed.
        """
        answers = self.at_once(calls)
        for index, call in enumerate(calls):
            for _ in range(attempts):
                if answers[index].error != "error_idempotency_key_in_use":
                    break
                assert answers[index].retry_after, answers[index]
                answers[index] = self.send(call)
        return answers

    def close(self) -> None:
        self.session.close()


def no_server_error(answers: list[Answer]) -> None:
    """A race may be refused (4xx), never answered by a crash."""
    assert all(answer.status < 500 for answer in answers), [
        (answer.status, answer.body) for answer in answers
    ]


def query(database_url: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows straight from the database the server uses (for facts no endpoint shows)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()

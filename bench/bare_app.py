"""The bare-Flask floor: one view that parses the same JSON body with ``request.get_json()`` and
answers a JSON body of the same size as a ticket creation, with 201 and a ``Location`` header.
No database, no authentication: what Flask and the test client cost on their own."""

from __future__ import annotations

from flask import Flask, jsonify, request

# The size of a ticket creation's answer: {"ticketId", "ticketNumber", "timestamp"}.
ANSWER = {
    "ticketId": "0" * 32,
    "ticketNumber": 1000,
    "timestamp": "2026-11-30T12:00:00.000000Z",
}


def create_bare_app() -> Flask:
    app = Flask(__name__)

    @app.post("/api/v1/tickets")
    def create_ticket():
        data = request.get_json()
        assert isinstance(data, dict)
        reply = jsonify(ANSWER)
        reply.status_code = 201
        reply.headers["Location"] = "/api/v1/tickets/" + ANSWER["ticketId"]
        return reply

    return app

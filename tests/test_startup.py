"""A server whose database is unreachable at start-up comes up, answers 503, and recovers."""

from conftest import make_app, seed_world

from league_api.db import db

TICKET = {"subject": "Lag", "description": "The lobby lags", "category": "technical_bug"}


def test_start_without_database_answers_503_then_creates_tables_on_first_contact(tmp_path):
    volume = tmp_path / "not-mounted-yet"
    app = make_app(f"sqlite:///{volume / 'league.sqlite'}")  # must not raise
    client = app.test_client()

    down = client.post("/api/v1/tickets", json=TICKET, headers={"Idempotency-Key": "k1"})
    assert down.status_code == 503
    assert down.get_json()["error"] == "error_service_unavailable"
    assert down.headers["Retry-After"]

    volume.mkdir()  # the database becomes reachable: the next request sets the tables up
    unauthenticated = client.post("/api/v1/tickets", json=TICKET)
    assert unauthenticated.status_code == 401
    keys = seed_world(app.test_cli_runner())["keys"]
    headers = {"Authorization": f"Bearer {keys['alice']}", "Idempotency-Key": "k1"}
    created = client.post("/api/v1/tickets", json=TICKET, headers=headers)
    assert created.status_code == 201
    with app.app_context():
        db.engine.dispose()

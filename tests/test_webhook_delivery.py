"""Webhook delivery: real worker processes against a real loopback receiver that fails on
purpose, workers SIGKILLed at random; answers by status; leases and fencing; CLI; purge."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from standardwebhooks.webhooks import Webhook
from webhook_receiver import Receiver

from league_api.db import db
from league_api.models import utcnow
from league_api.models.webhooks import (
    WebhookAttempt,
    WebhookDelivery,
    WebhookEvent,
    WebhookSubscription,
)
from league_api.webhooks import delivery

SECRET_KEY = "delivery test passphrase"
LONG = os.environ.get("LEAGUE_API_LONG") == "1"
TICKET = {"subject": "Hi", "description": "Help", "category": "other"}


@pytest.fixture
def app_config():
    return {
        "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": True,
        "WEBHOOKS_SECRET_KEY": SECRET_KEY,
        "WEBHOOKS_TIMEOUT_SECONDS": 1,
        "WEBHOOKS_RETRY_SCHEDULE": [0, 0.2, 0.5, 1],
    }


@pytest.fixture
def receiver():
    found: list[Receiver] = []

    def start(**options) -> Receiver:
        found.append(Receiver(**options))
        return found[-1]

    yield start
    for one in found:
        one.stop()


def subscribe(api, url: str, who: str = "alice", events=("ticket.created",)) -> dict:
    response = api.post("/webhooks", who, {"url": url, "events": list(events)})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def open_tickets(api, count: int, who: str = "alice") -> None:
    for number in range(count):
        body = {**TICKET, "subject": f"Ticket {number}"}
        assert api.post("/tickets", who, body).status_code == 201


def states(app) -> Counter:
    with app.app_context():
        rows = db.session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
        found = Counter({status: count for status, count in rows})
        db.session.rollback()
        return found


# -- under faults, with real worker processes ---------------------------------------------------


class Workers:
    """``flask --app league_api webhooks worker`` processes, killed and restarted at will."""

    def __init__(self, database_url: str, log: Path, timeout: float, schedule: list[float]):
        self.env = {
            **os.environ,
            "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
            "FLASK_WEBHOOKS_SECRET_KEY": SECRET_KEY,
            "FLASK_WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "true",
            "FLASK_WEBHOOKS_TIMEOUT_SECONDS": json.dumps(timeout),
            "FLASK_WEBHOOKS_RETRY_SCHEDULE": json.dumps(schedule),
            "FLASK_WEBHOOKS_POLL_SECONDS": "0.1",
        }
        self.log = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.processes: list[subprocess.Popen] = []
        self.kills = 0

    def start(self) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "league_api", "webhooks", "worker"],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def kill_one(self, rng: random.Random) -> None:
        live = [process for process in self.processes if process.poll() is None]
        victim = rng.choice(live)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.kills += 1
        self.processes.remove(victim)
        self.start()

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.log.close()


def check_intervals(records) -> int:
    """No two requests of one webhook-id overlap on the receiver; the largest count of one."""
    by_id = defaultdict(list)
    for record in records:
        by_id[record.headers["webhook-id"]].append(record)
    for webhook_id, attempts in by_id.items():
        attempts.sort(key=lambda record: record.started)
        for before, after in zip(attempts, attempts[1:], strict=False):
            assert after.started >= before.ended, (webhook_id, before, after)
    return max(len(attempts) for attempts in by_id.values())


def test_delivery_under_faults_loses_nothing_and_never_overlaps(
    app, api, receiver, database_url, tmp_path
):
    events = 200 if LONG else 20
    seed = int(os.environ.get("LEAGUE_API_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    print(f"seed {seed}")
    server = receiver(fault_rate=0.3, seed=seed)
    first = subscribe(api, server.url + "/a")
    second = subscribe(api, server.url + "/b")
    open_tickets(api, events)
    rotated = api.post(f"/webhooks/{second['webhookId']}/rotate-secret", "alice").get_json()
    assert states(app) == Counter({"pending": 2 * events})
    server.secrets = {"/a": [first["secret"]], "/b": [second["secret"], rotated["secret"]]}

    timeout = 1.0
    workers = Workers(database_url, tmp_path / "workers.log", timeout, [0, 0.2, 0.5] + [1.0] * 30)
    began = time.monotonic()
    try:
        workers.start()
        workers.start()
        budget = began + (600 if LONG else 90)
        while states(app)["pending"]:
            assert time.monotonic() < budget, (
                states(app),
                (tmp_path / "workers.log").read_text()[-3000:],
            )
            # Chaos, not a wait for a race: SIGKILL a worker at a random moment, or (half the
            # time) while a request is in flight at the receiver.
            if rng.random() < 0.5:
                server.arrived.clear()
                server.arrived.wait(timeout=2)
                time.sleep(rng.uniform(0, 0.05))
            else:
                time.sleep(rng.uniform(0.3, 1.5))
            if states(app)["pending"]:
                workers.kill_one(rng)
    finally:
        workers.stop()
    elapsed = time.monotonic() - began

    records = server.snapshot()
    with app.app_context():
        rows = {row.webhook_id: row for row in db.session.scalars(select(WebhookDelivery))}
        attempts = db.session.scalar(select(func.count(WebhookAttempt.id)))
        abandoned = db.session.scalar(
            select(func.count(WebhookAttempt.id)).where(WebhookAttempt.finished_at.is_(None))
        )
        db.session.expunge_all()
    # No event missing: every delivery succeeded, and the receiver answered 200 to each.
    assert len(rows) == 2 * events
    assert {row.status for row in rows.values()} == {"succeeded"}
    delivered = {r.headers["webhook-id"] for r in records if r.answer in ("200", "hold_expired")}
    assert delivered == set(rows)
    # Every attempt of one webhook-id carries the identical bytes (the stored body).
    for record in records:
        assert record.body == rows[record.headers["webhook-id"]].body.encode("utf-8")
    # Every signature verified on arrival, with the secret(s) of its subscription.
    for record in records:
        assert len(record.verified) == (1 if record.path == "/a" else 2)
        assert all(record.verified.values()), record
    most = check_intervals(records)
    faults = Counter(record.answer for record in records)
    figures = {
        "database": database_url.split(":", 1)[0],
        "seed": seed,
        "deliveries": len(rows),
        "requests_received": len(records),
        "attempts_leased": attempts,
        "attempts_abandoned_by_a_killed_worker": abandoned,
        "answers": dict(faults),
        "duplicates_after_success": len([r for r in records if r.answer == "200"]) - len(delivered),
        "most_requests_for_one_webhook_id": most,
        "workers_sigkilled": workers.kills,
        "seconds": round(elapsed, 1),
    }
    print(json.dumps(figures))
    out = os.environ.get("LEAGUE_API_WEBHOOK_FIGURES")
    if out:
        with open(out, "a", encoding="utf-8") as file:
            file.write(json.dumps(figures) + "\n")
    assert faults["http_500"] + faults["hold"] + faults["drop"] > 0


# -- answers by status, in-process ------------------------------------------------------------


def drain(app) -> int:
    with app.app_context():
        return delivery.run(drain=True)


@pytest.mark.parametrize(
    ("status", "headers", "final", "error"),
    [
        (200, {}, "succeeded", None),
        (204, {}, "succeeded", None),
        (302, {"Location": "http://127.0.0.1:9/elsewhere"}, "failed", "http_302"),
        (500, {}, "failed", "http_500"),
    ],
)
def test_only_a_2xx_counts_and_redirects_are_not_followed(
    app, api, receiver, status, headers, final, error
):
    server = receiver(fixed=(status, headers))
    webhook = subscribe(api, server.url + "/in")
    open_tickets(api, 1)
    # The schedule has four attempts: the first now, the others 0.2, 0.5 and 1 s later.
    while states(app)["pending"]:
        drain(app)
    assert states(app) == Counter({final: 1})
    expected = 1 if final == "succeeded" else 4
    assert [record.path for record in server.snapshot()] == ["/in"] * expected
    listed = api.get(f"/webhooks/{webhook['webhookId']}/deliveries", "alice").get_json()
    assert len(listed["attempts"]) == expected
    latest = listed["attempts"][0]
    assert (latest["statusCode"], latest["error"], latest["deliveryStatus"]) == (
        status,
        error,
        final,
    )
    assert latest["status"] == ("succeeded" if error is None else "failed")
    assert latest["eventType"] == "ticket.created" and latest["durationMs"] >= 0


def test_410_disables_the_subscription(app, api, receiver):
    server = receiver(fixed=(410, {}))
    webhook = subscribe(api, server.url + "/gone")
    open_tickets(api, 1)
    drain(app)
    assert states(app) == Counter({"failed": 1})
    shown = api.get(f"/webhooks/{webhook['webhookId']}", "alice").get_json()["webhook"]
    assert shown["active"] is False and "410" in shown["disabledReason"]
    open_tickets(api, 1)  # a disabled subscription receives nothing more
    assert states(app) == Counter({"failed": 1})


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(app, api, receiver, status):
    server = receiver(fixed=(status, {"Retry-After": "120"}))
    subscribe(api, server.url + "/slow")
    open_tickets(api, 1)
    before = utcnow()
    assert drain(app) == 1
    with app.app_context():
        row = db.session.scalars(select(WebhookDelivery)).one()
        wait = delivery.aware(row.next_attempt_at) - before
    assert timedelta(seconds=119) < wait < timedelta(seconds=125)
    assert states(app) == Counter({"pending": 1})


def test_a_revoked_keys_subscriptions_stop(app, api, receiver, runner):
    server = receiver()
    subscribe(api, server.url + "/in")
    open_tickets(api, 1)
    with app.app_context():
        from league_api.models import ApiKey

        key = db.session.scalars(select(ApiKey).where(ApiKey.name == "alice")).one()
        key_id = key.id
    assert runner.invoke(args=["keys", "revoke", key_id]).exit_code == 0
    drain(app)
    assert states(app) == Counter({"cancelled": 1}) and server.snapshot() == []


def test_a_worker_that_lost_its_lease_records_nothing(app, api, receiver):
    server = receiver()
    subscribe(api, server.url + "/in")
    open_tickets(api, 1)
    with app.app_context():
        stale = delivery.lease_next()
        # Its lease runs out (the worker hung); another worker takes the delivery over.
        db.session.execute(update(WebhookDelivery).values(lease_expires_at=utcnow()))
        db.session.commit()
        current = delivery.lease_next()
        assert current.token == stale.token + 1 and current.webhook_id == stale.webhook_id
        assert delivery.lease_next() is None  # leased: nobody else takes it
        assert delivery.record(stale, delivery.Outcome(False, 500, "http_500")) is False
        assert delivery.record(current, delivery.Outcome(True, 200)) is True
        row = db.session.scalars(select(WebhookDelivery)).one()
        assert (row.status, row.attempt_count) == ("succeeded", 2)


def test_cli_create_worker_redeliver_and_purge(app, api, receiver, runner, world):
    server = receiver()
    with app.app_context():
        from league_api.models import ApiKey

        key_id = db.session.scalars(select(ApiKey.id).where(ApiKey.name == "alice")).one()
    created = runner.invoke(
        args=[
            "webhooks",
            "create",
            server.url + "/cli",
            "--key",
            key_id,
            "--event",
            "ticket.created",
        ]
    )
    assert created.exit_code == 0, created.output
    secret = created.stdout.strip()
    assert secret.startswith("whsec_")
    refused = runner.invoke(
        args=["webhooks", "create", server.url, "--key", key_id, "--event", "season.created"]
    )
    assert refused.exit_code != 0 and "cannot read" in refused.output
    listed = runner.invoke(args=["webhooks", "list"])
    assert server.url + "/cli" in listed.output and "active" in listed.output
    open_tickets(api, 2)
    drained = runner.invoke(args=["webhooks", "worker", "--drain"])
    assert drained.exit_code == 0 and "Delivered 2" in drained.output
    received = server.snapshot()
    assert len(received) == 2
    for record in received:
        Webhook(secret).verify(record.body, record.headers)

    webhook_id = received[0].headers["webhook-id"]
    again = runner.invoke(args=["webhooks", "redeliver", webhook_id])
    assert again.exit_code == 0, again.output
    runner.invoke(args=["webhooks", "worker", "--drain"])
    repeated = server.snapshot()[2]
    # The same message: same webhook-id and bytes, signed anew.
    assert repeated.headers["webhook-id"] == webhook_id and repeated.body == received[0].body

    assert "Purged 0" in runner.invoke(args=["webhooks", "purge"]).output  # within retention
    purged = runner.invoke(args=["webhooks", "purge", "--older-than", "0"])
    assert "Purged 2" in purged.output
    with app.app_context():
        assert db.session.scalar(select(func.count(WebhookEvent.id))) == 0
        assert db.session.scalar(select(func.count(WebhookAttempt.id))) == 0
        subscription_id = db.session.scalars(select(WebhookSubscription.id)).one()
    deleted = runner.invoke(args=["webhooks", "delete", subscription_id])
    assert deleted.exit_code == 0


def test_purge_keeps_events_still_being_delivered(app, api):
    subscribe(api, "http://127.0.0.1:9/never")
    open_tickets(api, 3)
    with app.app_context():
        assert delivery.purge(0, batch_size=1) == 0
        db.session.execute(update(WebhookDelivery).values(status="failed"))
        db.session.commit()
        assert delivery.purge(0, batch_size=2) == 3


def _self_signed(directory: Path, host: str) -> tuple[Path, Path]:
    """A certificate for ``host`` (its own CA) and its key, as PEM files."""
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.mark.parametrize("trusted", [True, False])
def test_https_goes_to_the_checked_address_with_the_urls_host_for_tls(
    app, receiver, tmp_path, monkeypatch, trusted
):
    """TLS to the pinned address: SNI and the certificate check use the URL's host."""
    import socket
    import ssl

    server = receiver()
    cert, key = _self_signed(tmp_path, "hooks.example")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server_names = []
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    server.server.socket = context.wrap_socket(server.server.socket, server_side=True)
    port = server.server.server_address[1]
    if trusted:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    real = socket.getaddrinfo
    lookups = []

    def getaddrinfo(host, *args, **kwargs):
        lookups.append(host)  # the name once; connecting to a numeric address is no lookup
        return real("127.0.0.1" if host == "hooks.example" else host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    lease = delivery.Lease(
        "d1",
        "msg_d1",
        1,
        1,
        1,
        f"https://hooks.example:{port}/tls",
        "{}",
        ["whsec_MTIz"],
        "s1",
        1e12,
    )
    outcome = delivery.send(lease, timeout=2.0, allow_private=True)
    if trusted:
        assert (outcome.ok, outcome.status_code) == (True, 200)
        assert [record.path for record in server.snapshot()] == ["/tls"]
        assert server.snapshot()[0].headers["Host"] == f"hooks.example:{port}"
    else:
        assert (outcome.ok, outcome.error) == (False, "tls_error")
        assert server.snapshot() == []
    assert server_names == ["hooks.example"]
    assert lookups.count("hooks.example") == 1

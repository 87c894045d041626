"""Hostile input (API.md 2-4) on every Idem endpoint of ``reliability.IDEM_ENDPOINTS``.

Malformed, oversized, deeply nested or oddly typed bodies, odd headers and keys, unknown
routes: always a 4xx with a contract code and a JSON body, never a 5xx; nothing answered
before the view (steps 1-6) is stored, and no refused request leaves a side effect. A hand
list, then hypothesis, then the fingerprint's properties.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import string
from typing import Any
from urllib.parse import quote

import pytest
import requests
from hypothesis import assume, given
from hypothesis import strategies as st
from reliability import (
    IDEM_ENDPOINTS,
    Client,
    count_effects,
    count_rows,
    examples,
    plan_jobs,
    summary,
)
from sqlalchemy import func, literal, select, text

from league_api.db import db
from league_api.idempotency import IdempotencyRecord
from league_api.idempotency.fingerprint import PLAIN_CALLER, fingerprint, scope_hash, scope_tail
from league_api.idempotency.store import scope_in_sql
from league_api.jsonbody import parse_strict_json

CONTRACT_CODES = {
    *"error_invalid_request error_invalid_json error_idempotency_key_invalid".split(),
    "error_team_not_in_match",
    "error_api_key_required",
    "error_api_key_invalid",
    "error_api_key_permission_denied",
    *"error_game_scope_mismatch error_league_scope_mismatch".split(),
    *"error_not_match_participant error_captain_required error_cannot_confirm_own_score".split(),
    *"error_not_found error_match_not_found error_team_not_found error_game_not_found".split(),
    *"error_league_not_found error_season_not_found error_message_not_found".split(),
    "error_ticket_not_found",
    "error_score_not_found",
    "error_method_not_allowed",
    *"error_match_not_in_valid_state error_season_not_in_valid_state error_ticket_closed".split(),
    "error_score_already_submitted_by_game",
    "error_idempotency_key_conflict",
    "error_idempotency_key_in_use",
    "error_payload_too_large",
    "error_unsupported_media_type",
}
LIMIT = 1024 * 1024
MAX_SAFE = 2**53 - 1
_fresh = itertools.count()


def fresh_key(label: str = "h") -> str:
    """A key no earlier request (nor hypothesis example) of this test used."""
    return f"{label}-{next(_fresh)}-{random.getrandbits(32):08x}"


# -- the state every refused request must leave alone ----------------------------------------


def snapshot(app) -> tuple[int, dict[str, int]]:
    """(idempotency records, side effects per Idem endpoint)."""
    with app.app_context():
        records = db.session.scalar(select(func.count()).select_from(IdempotencyRecord))
        effects = {
            endpoint.name: sum(
                n for token, n in db.session.execute(text(endpoint.effects_sql)) if token
            )
            for endpoint in IDEM_ENDPOINTS
        }
    return records, effects


def error_of(response) -> str:
    """The contract code of a JSON error answer, checking its shape on the way."""
    assert response.status_code < 500, response.get_data()[:300]
    assert response.mimetype == "application/json", response.get_data()[:300]
    body = response.get_json()
    assert set(body) == {"error", "details"}, body
    assert body["error"] in CONTRACT_CODES, body
    assert "Traceback" not in response.get_data(as_text=True)
    return body["error"]


@pytest.fixture
def targets(api, world) -> list[tuple[Any, Any]]:
    """One valid (endpoint, operation) per Idem endpoint, prerequisites created."""

    def call(method: str, path: str, who: str, body: Any) -> tuple[int, Any]:
        response = api.call(method, path, who, body)
        return response.status_code, response.get_json()

    jobs = plan_jobs(call, world, len(IDEM_ENDPOINTS), prefix="hostile")
    return [(job.endpoint, job.operation) for job in jobs]


def send(api, endpoint, path: str, data: bytes, content_type: str | None, key: str | None, **kw):
    headers = dict(kw.pop("headers", {}))
    headers["Authorization"] = f"Bearer {api.world['keys'][endpoint.who]}"
    if key is not None:
        headers["Idempotency-Key"] = key
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.client.post("/api/v1" + path, data=data, headers=headers, **kw)


# -- the hand list -----------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    """An object whose total nesting, the object included, is ``depth``."""
    return ('{"a":' + "[" * (depth - 1) + "]" * (depth - 1) + "}").encode()


JSON = "application/json"
# (case, body, Content-Type, status, code): all refused in steps 1-6, so nothing is stored.
REFUSED_BEFORE_THE_VIEW = [
    ("truncated", b'{"a":', JSON, 400, "error_invalid_json"),
    ("not JSON", b"subject=x", JSON, 400, "error_invalid_json"),
    ("single quotes", b"{'a': 1}", JSON, 400, "error_invalid_json"),
    ("two documents", b"{}{}", JSON, 400, "error_invalid_json"),
    ("trailing comma", b'{"a":1,}', JSON, 400, "error_invalid_json"),
    ("comment", b'{"a":1 /* x */}', JSON, 400, "error_invalid_json"),
    ("invalid UTF-8", b'{"a":"\xff\xfe"}', JSON, 400, "error_invalid_json"),
    ("overlong UTF-8", b'{"a":"\xc0\xaf"}', JSON, 400, "error_invalid_json"),
    ("UTF-8 surrogate bytes", b'{"a":"\xed\xa0\x80"}', JSON, 400, "error_invalid_json"),
    ("UTF-16", json.dumps({"a": 1}).encode("utf-16"), JSON, 400, "error_invalid_json"),
    ("lone high surrogate", b'{"a":"\\ud800"}', JSON, 400, "error_invalid_json"),
    ("lone low surrogate", b'{"a":"x\\udfff"}', JSON, 400, "error_invalid_json"),
    ("reversed pair", b'{"a":"\\udc00\\ud800"}', JSON, 400, "error_invalid_json"),
    ("surrogate in a name", b'{"\\ud800":1}', JSON, 400, "error_invalid_json"),
    ("U+0000", b'{"a":"x\\u0000y"}', JSON, 400, "error_invalid_json"),
    ("U+0000 in a name", b'{"\\u0000":1}', JSON, 400, "error_invalid_json"),
    ("65 arrays", nested(65), JSON, 400, "error_invalid_json"),
    ("65 objects", b'{"b":' * 64 + b"{}" + b"}" * 64, JSON, 400, "error_invalid_json"),
    ("100000 arrays", b"[" * 100_000 + b"]" * 100_000, JSON, 400, "error_invalid_json"),
    ("NaN", b'{"a":NaN}', JSON, 400, "error_invalid_json"),
    ("Infinity", b'{"a":[Infinity]}', JSON, 400, "error_invalid_json"),
    ("-Infinity", b'{"a":-Infinity}', JSON, 400, "error_invalid_json"),
    ("2^53", b'{"a":9007199254740992}', JSON, 400, "error_invalid_json"),
    ("-2^53", b'{"a":-9007199254740992}', JSON, 400, "error_invalid_json"),
    ("5000 digits", b'{"a":' + b"9" * 5000 + b"}", JSON, 400, "error_invalid_json"),
    ("1e400", b'{"a":1e400}', JSON, 400, "error_invalid_json"),
    ("-1e400", b'{"a":-1e400}', JSON, 400, "error_invalid_json"),
    ("huge mantissa", b'{"a":' + b"1" * 400 + b".5}", JSON, 400, "error_invalid_json"),
    ("duplicate names", b'{"a":1,"a":1}', JSON, 400, "error_invalid_json"),
    ("nested duplicates", b'{"a":{"b":1,"b":2}}', JSON, 400, "error_invalid_json"),
    ("an array", b"[]", JSON, 400, "error_invalid_request"),
    ("a string", b'"x"', JSON, 400, "error_invalid_request"),
    ("a number", b"1", JSON, 400, "error_invalid_request"),
    ("null", b"null", JSON, 400, "error_invalid_request"),
    ("no Content-Type", b"{}", None, 415, "error_unsupported_media_type"),
    ("text/plain", b"{}", "text/plain", 415, "error_unsupported_media_type"),
    ("a form", b"a=1", "application/x-www-form-urlencoded", 415, "error_unsupported_media_type"),
    ("multipart", b"{}", "multipart/form-data; boundary=x", 415, "error_unsupported_media_type"),
    ("json-ish", b"{}", "application/jsonx", 415, "error_unsupported_media_type"),
    ("text/json", b"{}", "text/json", 415, "error_unsupported_media_type"),
    ("over 1 MiB", b"{}" + b" " * LIMIT, JSON, 413, "error_payload_too_large"),
    ("over 1 MiB, not JSON", b"x" * (LIMIT + 1), "text/plain", 413, "error_payload_too_large"),
]

BAD_KEYS = {
    "empty": "",
    "256 characters": "k" * 256,
    "64 KiB": "k" * 65536,
    "space": "a b",
    "non-ASCII as the wire gives it": "Schlüssel".encode().decode("latin-1"),
    "emoji as the wire gives it": "\U0001f511".encode().decode("latin-1"),
    "DEL": "a\x7f",
    "NUL": "a\x00",
}


def test_refused_bodies_answer_their_code_and_store_nothing(api, app, targets):
    before = snapshot(app)
    tried = 0
    for endpoint, operation in targets:
        for case, body, content_type, status, code in REFUSED_BEFORE_THE_VIEW:
            for key in (fresh_key(), None):
                response = send(api, endpoint, operation.path, body, content_type, key)
                assert (response.status_code, error_of(response)) == (status, code), (
                    endpoint.name,
                    case,
                )
                tried += 1
    assert snapshot(app) == before
    summary("hostile-hand-list", inputs=tried, server_errors=0)


def test_bad_keys_are_refused_before_the_body_and_store_nothing(api, app, targets):
    before = snapshot(app)
    for endpoint, operation in targets:
        valid = json.dumps(operation.body).encode()
        for case, key in BAD_KEYS.items():
            # Step 4 comes before step 5: even a valid body is not looked at.
            for body in (valid, b"{not json"):
                response = send(api, endpoint, operation.path, body, JSON, key)
                assert error_of(response) == "error_idempotency_key_invalid", (endpoint.name, case)
        # Authentication (step 2) comes before the key: no key, a bad key, a 401.
        response = api.client.post(
            "/api/v1" + operation.path, data=valid, headers={"Idempotency-Key": ""}
        )
        assert (response.status_code, error_of(response)) == (401, "error_api_key_required")
    assert snapshot(app) == before


def wrong_values(value: Any) -> list[Any]:
    """JSON values of another type than ``value``, each of which a schema must refuse."""
    others = {
        str: [1, 2.5, True, [], {}, ["x"]],
        bool: ["true", 1, 0, [], {}],
        int: ["1", True, 2.5, [], {}],
        float: ["1.5", True, [], {}],
        list: ["x", 1, {}, True],
        dict: ["x", 1, [], True],
    }
    return others[type(value)]


def test_wrong_types_for_every_field_are_400_stored_and_without_effect(api, app, targets):
    tried = 0
    for endpoint, operation in targets:
        records, effects = snapshot(app)
        keyed = 0
        for field, value in operation.body.items():
            variants = [{**operation.body, field: wrong} for wrong in wrong_values(value)]
            if field not in endpoint.optional:
                variants.append({name: v for name, v in operation.body.items() if name != field})
            for body in variants:
                key = fresh_key("type")
                response = api.post(operation.path, endpoint.who, body, key=key)
                assert error_of(response) == "error_invalid_request", (endpoint.name, body)
                assert field in response.get_json()["details"], (endpoint.name, body)
                # Step 7: the 400 is the stored answer of this key; a retry replays it.
                again = api.post(operation.path, endpoint.who, body, key=key)
                assert again.headers.get("Idempotent-Replayed") == "true"
                assert again.get_data() == response.get_data()
                keyed += 1
        tried += keyed
        assert snapshot(app) == (records + keyed, effects), endpoint.name
    summary("hostile-wrong-types", inputs=tried, server_errors=0)


UNKNOWN_PATHS = [
    "",
    "/",
    "/nope",
    "/TICKETS",
    "/tickets/",
    "/tickets/x/messages/y",
    "/%00",
    "/..%2f..%2fetc%2fpasswd",
    "/api/v1/tickets",
    "/" + "x" * 3000,
    "/%F0%9F%92%A5",
    "//tickets",
    "/tickets//" + "0" * 32,
    "/game//matches/create",
]


def test_unknown_routes_and_wrong_methods_are_json_4xx_and_store_nothing(api, app, targets):
    before = snapshot(app)
    auth = {"Authorization": f"Bearer {api.world['keys']['alice']}", "Idempotency-Key": "route"}
    for path in UNKNOWN_PATHS:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            response = api.client.open("/api/v1" + path, method=method, headers=auth, json={})
            assert (response.status_code, error_of(response)) == (404, "error_not_found"), path
    for _endpoint, operation in targets:
        for method in ("GET", "PUT", "PATCH", "DELETE"):
            response = api.client.open(
                "/api/v1" + operation.path, method=method, headers=auth, json=operation.body
            )
            if response.status_code == 405:
                assert error_of(response) == "error_method_not_allowed"
                assert "POST" in response.headers["Allow"]
            else:
                # A read shares the path (GET /tickets, GET /game/matches/<id> with id
                # "create"): it answers as a read and ignores the key.
                assert method == "GET", (operation.path, method, response.status_code)
                if response.status_code >= 400:
                    error_of(response)
    assert snapshot(app) == before


# -- hypothesis --------------------------------------------------------------------------------

SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
TEXT = st.text(st.characters(exclude_categories=()) | SURROGATES, max_size=12)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)


def containers(keys: st.SearchStrategy[str]):
    """The ``extend`` of st.recursive: arrays and objects of ``children``."""

    def extend(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        return st.lists(children, max_size=4) | st.dictionaries(keys, children, max_size=4)

    return extend


def json_values(keys: st.SearchStrategy[str] = TEXT) -> st.SearchStrategy[Any]:
    return st.recursive(LEAVES, containers(keys), max_leaves=10)


def serialise(value: Any, ascii_only: bool) -> bytes:
    """As a careless client would: lone surrogates go out as escapes or as invalid UTF-8."""
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


def check_outcome(api, app, endpoint, path, body: bytes, key: str, before) -> str:
    """The invariants of one keyed hostile request; returns its code (or 'ok')."""
    response = send(api, endpoint, path, body, JSON, key)
    records, effects = snapshot(app)
    if response.status_code < 300:
        # Exactly one effect per operation is the storm's and crash suite's business; a state
        # endpoint hit again by the fuzz changes its one resource (a new lobby code), so here:
        # the endpoint's own effects did not go down and nothing else changed.
        assert effects[endpoint.name] >= before[1][endpoint.name]
        own = {e.name for e in IDEM_ENDPOINTS if e.effects_sql == endpoint.effects_sql}
        others = {name: n for name, n in effects.items() if name not in own}
        assert others == {name: n for name, n in before[1].items() if name not in own}
        code = "ok"
    else:
        code = error_of(response)
        assert effects == before[1]
    if records == before[0]:
        # Not stored: only a refusal before the view (steps 1-6) may leave no record.
        assert code in {"error_invalid_json", "error_invalid_request"}, code
        if code == "error_invalid_request":
            assert response.get_json()["details"] == "the body must be a JSON object"
    else:
        assert records == before[0] + 1
        again = send(api, endpoint, path, body, JSON, key)
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.get_data() == response.get_data()
    return code


def test_random_bytes_never_reach_a_5xx(api, app, targets):
    seen: dict[str, int] = {}

    @examples(100)
    @given(data=st.binary(max_size=300), target=st.sampled_from(targets))
    def run(data: bytes, target) -> None:
        endpoint, operation = target
        code = check_outcome(api, app, endpoint, operation.path, data, fresh_key(), snapshot(app))
        seen[code] = seen.get(code, 0) + 1

    run()
    summary("hostile-random-bytes", inputs=sum(seen.values()), server_errors=0, codes=seen)


def test_random_json_values_never_reach_a_5xx(api, app, targets):
    seen: dict[str, int] = {}

    @examples(100)
    @given(data=st.data(), target=st.sampled_from(targets), ascii_only=st.booleans())
    def run(data, target, ascii_only: bool) -> None:
        endpoint, operation = target
        # Names are mostly the endpoint's own fields, so the schema is reached and probed.
        names = st.sampled_from(sorted(operation.body)) | TEXT if operation.body else TEXT
        value = data.draw(
            st.one_of(
                json_values(names),
                st.fixed_dictionaries(
                    {}, optional={name: json_values(names) for name in operation.body}
                ),
                st.builds(
                    lambda changes: {**operation.body, **changes},
                    st.dictionaries(names, LEAVES, max_size=2),
                ),
            )
        )
        body = serialise(value, ascii_only)
        before = snapshot(app)
        code = check_outcome(api, app, endpoint, operation.path, body, fresh_key(), before)
        seen[code] = seen.get(code, 0) + 1

    run()
    summary("hostile-random-json", inputs=sum(seen.values()), server_errors=0, codes=seen)


def valid_key(key: str) -> bool:
    """API.md 4, plus the project's rule that a comma means a repeated (joined) header."""
    return 1 <= len(key) <= 255 and all("!" <= c <= "~" for c in key) and "," not in key


VISIBLE = "".join(chr(code) for code in range(0x21, 0x7F))
KEYS = st.one_of(
    st.text(st.sampled_from(VISIBLE), max_size=260),
    st.text(st.sampled_from(string.printable), max_size=40),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=40),
    st.text(st.sampled_from("!~,ab"), min_size=250, max_size=260),
).filter(lambda key: "\r" not in key and "\n" not in key)


def test_random_idempotency_keys_are_valid_or_refused_before_anything_runs(api, app, targets):
    used: set[tuple[str, str]] = set()
    seen = {"valid": 0, "invalid": 0}

    @examples(100)
    @given(key=KEYS)
    def run(key: str) -> None:
        endpoint, operation = targets[len(key) % len(targets)]
        wire = key.encode("utf-8").decode("latin-1")  # how a WSGI server hands the header over
        before = snapshot(app)
        body = json.dumps(operation.body).encode()
        response = send(api, endpoint, operation.path, body, JSON, wire)
        if not valid_key(wire):
            assert error_of(response) == "error_idempotency_key_invalid"
            assert snapshot(app) == before
            seen["invalid"] += 1
            return
        seen["valid"] += 1
        if (endpoint.name, wire) in used:  # hypothesis replays examples: then it is a replay
            assert response.headers.get("Idempotent-Replayed") == "true"
            return
        used.add((endpoint.name, wire))
        # A first use runs the view: its answer (a 409 once a state endpoint's one match has
        # moved on) is stored, never a replay.
        assert response.status_code < 500, response.get_data()
        assert "Idempotent-Replayed" not in response.headers
        assert snapshot(app)[0] == before[0] + 1

    run()
    summary("hostile-random-keys", inputs=sum(seen.values()), server_errors=0, **seen)


def test_the_scope_the_database_computes_is_scope_hash(app):
    """PostgreSQL answers a replay from a record it finds by the scope computed in SQL
    (``record_of_caller``); for any method, path and key it must equal ``scope_hash``. On
    SQLite, the Python identity that SQL relies on."""
    with app.app_context():
        postgres = db.engine.dialect.name == "postgresql"
    callers = st.from_regex(PLAIN_CALLER, fullmatch=True)
    path_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)

    inputs = []

    @examples(100)
    @given(caller=callers, method=path_text, path=path_text, key=st.text(max_size=40))
    def run(caller: str, method: str, path: str, key: str) -> None:
        inputs.append(1)
        expected = scope_hash(caller, method, path, key)
        tail = scope_tail(method, path, key)
        assert hashlib.sha256(('["' + caller + '",' + tail).encode("ascii")).hexdigest() == expected
        if not postgres:
            return
        with app.app_context():
            computed = db.session.execute(
                select(scope_in_sql(literal(caller))), {"scope_tail": tail}
            ).scalar_one()
            db.session.rollback()
        assert computed == expected

    run()
    summary("hostile-sql-scope", inputs=len(inputs), postgres=int(postgres))


PATH_SEGMENTS = st.lists(
    st.text(st.characters(exclude_categories=("Cs",)), max_size=10), min_size=1, max_size=4
)


def test_random_paths_and_methods_under_the_api_store_nothing(api, app):
    before = snapshot(app)

    @examples(100)
    @given(
        segments=PATH_SEGMENTS,
        method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]),
        body=st.binary(max_size=64),
    )
    def run(segments: list[str], method: str, body: bytes) -> None:
        path = "/api/v1/" + "/".join(quote(segment, safe="") for segment in segments)
        # No Authorization: a route that exists answers 401 (step 2) and stores nothing too.
        response = api.client.open(
            path, method=method, data=body, headers={"Idempotency-Key": "p", "Content-Type": JSON}
        )
        if method in ("HEAD", "OPTIONS") and response.status_code < 400:
            return
        if method == "HEAD":
            assert response.status_code in (401, 404, 405)
            return
        assert error_of(response) in {
            "error_not_found",
            "error_method_not_allowed",
            "error_api_key_required",
        }

    run()
    assert snapshot(app) == before


# -- through a real server: chunked bodies and the server's own limits ------------------------


@pytest.mark.slow
@pytest.mark.not_from_the_app(
    400, 414, 431, reason="gunicorn's own plain-text refusals of an oversized header or path"
)
def test_through_gunicorn_oversized_input_is_a_4xx_and_stores_nothing(
    live_server, served_world, database_url
):
    server = live_server(workers=2)
    client = Client(server.url, served_world["keys"])
    jobs = plan_jobs(client.call, served_world, len(IDEM_ENDPOINTS), prefix="wire")
    baseline = count_effects(database_url, jobs)
    session = requests.Session()

    def post(job, data, **headers: str) -> requests.Response:
        headers = {
            "Authorization": f"Bearer {served_world['keys'][job.endpoint.who]}",
            "Content-Type": JSON,
            **headers,
        }
        return session.post(server.url + job.operation.path, data=data, headers=headers)

    def chunks(body: bytes, size: int = 65536):
        for start in range(0, len(body), size):
            yield body[start : start + size]

    for job in jobs:
        valid = json.dumps(job.operation.body).encode()
        # Chunked (no Content-Length): whitespace-padded valid JSON one byte over the limit.
        oversized = valid + b" " * (LIMIT + 1 - len(valid))
        response = None
        for _ in range(3):
            try:
                response = post(job, chunks(oversized), **{"Idempotency-Key": "c"})
                break
            except requests.ConnectionError:
                # The server answered 413 and closed before reading the last chunk: the reset
                # may overtake the answer. Nothing was stored either way (checked below).
                session.close()
        assert response is not None, "every oversized chunked upload was reset"
        assert response.status_code == 413, response.text[:200]
        assert response.json()["error"] == "error_payload_too_large"
        # A header or request line beyond gunicorn's own limits: its 4xx, never a 5xx.
        assert post(job, valid, **{"Idempotency-Key": "k" * 9000}).status_code in (400, 431)
        long_path = session.post(server.url + job.operation.path + "x" * 5000, data=valid)
        assert 400 <= long_path.status_code < 500
    assert count_effects(database_url, jobs) == baseline
    assert count_rows(database_url, "idempotency_records") == 0

    for job in jobs:
        # The same key, now with the valid body chunked: it runs, once.
        valid = json.dumps(job.operation.body).encode()
        response = post(job, chunks(valid, 7), **{"Idempotency-Key": "c"})
        assert response.status_code in (200, 201), response.text[:200]
    assert all(n == baseline[token] + 1 for token, n in count_effects(database_url, jobs).items())
    session.close()
    client.close()


# -- the fingerprint (pure: no database) -------------------------------------------------------

# Strict JSON as the API takes it: no lone surrogates, no U+0000 (refused at step 5).
JSON_TEXT = st.text(
    st.characters(exclude_categories=("Cs",), exclude_characters="\x00"), max_size=10
)
JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(-MAX_SAFE, MAX_SAFE)
    | st.floats(allow_nan=False, allow_infinity=False)
    | JSON_TEXT
)
STRICT_VALUES = st.recursive(JSON_LEAVES, containers(JSON_TEXT), max_leaves=15)


def render(value: Any, rng: random.Random) -> str:
    """Another spelling of the same JSON value: order, white space, escapes, 1 vs 1.0."""

    def space() -> str:
        return rng.choice(["", " ", "\n", "\t", "  \r\n "])

    if isinstance(value, dict):
        items = list(value.items())
        rng.shuffle(items)
        inner = ",".join(
            f"{space()}{render_string(k, rng)}{space()}:{space()}{render(v, rng)}{space()}"
            for k, v in items
        )
        return "{" + inner + space() + "}"
    if isinstance(value, list):
        return "[" + ",".join(space() + render(v, rng) + space() for v in value) + space() + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return rng.choice([str(value), f"{value}.0", f"{value}e0", f"{value}.000E+0"])
    if isinstance(value, float):
        if value.is_integer() and abs(value) <= MAX_SAFE:
            return rng.choice([repr(value), str(int(value)), f"{value:.17g}"])
        # Past 2^53 an integral float must keep its "." or exponent: as digits alone it
        # would be an integer beyond +-2^53-1, which the contract refuses.
        spellings = [repr(value), f"{value:.17E}"]
        if not value.is_integer():
            spellings.append(f"{value:.17g}")
        return rng.choice(spellings)
    return render_string(value, rng)


def render_string(value: str, rng: random.Random) -> str:
    out = []
    for char in value:
        roll = rng.random()
        if char in '"\\' or ord(char) < 0x20 or roll < 0.3:
            if ord(char) > 0xFFFF:  # as a UTF-16 surrogate pair of escapes
                high, low = divmod(ord(char) - 0x10000, 0x400)
                out.append(f"\\u{0xD800 + high:04x}\\u{0xDC00 + low:04X}")
            elif char in '\b\f\n\r\t"\\/' and roll < 0.15:
                out.append(json.dumps(char)[1:-1] if char != "/" else "\\/")
            else:
                out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def strict_fingerprint(raw: str, query: bytes = b"") -> str:
    return fingerprint(parse_strict_json(raw.encode("utf-8")), query)


@examples(200, 5000)
@given(value=STRICT_VALUES, seed=st.integers(0, 2**32))
def test_every_spelling_of_a_value_has_one_fingerprint(value: Any, seed: int) -> None:
    rng = random.Random(seed)
    reference = fingerprint(value, b"")
    for _ in range(3):
        assert strict_fingerprint(render(value, rng)) == reference


def mutate(value: Any, rng: random.Random) -> Any:
    """A JSON value that differs from ``value`` (as a value, not only in spelling)."""
    if isinstance(value, dict):
        if value and rng.random() < 0.7:
            name = rng.choice(sorted(value))
            return {**value, name: mutate(value[name], rng)}
        return {**value, "\x7fnew" + str(len(value)): None}
    if isinstance(value, list):
        if value and rng.random() < 0.7:
            index = rng.randrange(len(value))
            return [*value[:index], mutate(value[index], rng), *value[index + 1 :]]
        return [*value, None]
    if isinstance(value, bool):
        return not value
    if value is None:
        return 0
    if isinstance(value, int | float):
        return str(value)  # the same digits as a string are another value
    return value + "x"


@examples(200, 5000)
@given(value=STRICT_VALUES, seed=st.integers(0, 2**32))
def test_a_changed_value_or_query_changes_the_fingerprint(value: Any, seed: int) -> None:
    rng = random.Random(seed)
    reference = strict_fingerprint(render(value, rng))
    changed = mutate(value, rng)
    assume(changed != value or type(changed) is not type(value))
    assert strict_fingerprint(render(changed, rng)) != reference
    assert strict_fingerprint(render(value, rng), b"a=1") != reference

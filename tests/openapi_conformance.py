"""Drift can't land: every response the suite's clients receive under ``/api/v1`` must be one
the app's OpenAPI document describes (issue 7).

A pytest plugin, registered by conftest.py. Two client doors are watched for every test:

* Flask's test client: ``Flask.test_client_class`` becomes :class:`CheckedClient`, so every
  app a test builds (fixture, host or hand-made) is covered without a hook in production code;
* real HTTP: ``requests.Session.send`` is wrapped, which every ``requests`` call goes through,
  from any thread (the gunicorn tests).

Each exchange is recorded when it arrives and checked after the test body ran (in the main
thread, so concurrency tests keep their timing); a test with any mismatch fails with the list.
A check is: the operation (concrete paths before templated ones, as OpenAPI says), then
openapi-core's response validation (status, documented headers, body against its schema, with
undocumented body properties refused), then what openapi-core does not check: the status must
be listed by itself (not ``2XX``/``default``), an error body's ``error`` must be in the enum of
that status, every non-transport header must be documented on that response, and a path or
method the document lacks must be the contract's JSON 404/405 (with ``Allow`` = the documented
methods). One validator per document, cached.

The only way out is the named marker ``@pytest.mark.not_from_the_app(status, ..., reason=...)``:
non-JSON answers with those statuses, made by gunicorn itself before the app ran, are skipped.
``LEAGUE_API_CONFORMANCE=off`` turns the hook off, for measuring its cost only.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any
from urllib.parse import unquote, urlsplit

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from jsonschema.exceptions import ValidationError
from jsonschema.validators import extend
from jsonschema_path import SchemaPath
from openapi_core import V31ResponseValidator
from openapi_core.casting.schemas import oas31_types_caster
from openapi_core.casting.schemas.factories import SchemaCastersFactory
from openapi_core.templating.paths.finders import APICallPathFinder
from openapi_core.validation.response import V31ResponseHeadersValidator
from openapi_core.validation.schemas import oas31_schema_validators_factory
from openapi_core.validation.schemas.factories import DialectSchemaValidatorsFactory
from werkzeug.datastructures import Headers

API_PREFIX = "/api/v1"
SWITCH = "LEAGUE_API_CONFORMANCE"
LOG = "LEAGUE_API_CONFORMANCE_LOG"  # a file to append every mismatch to (triage)
MARKER = "not_from_the_app"
# Pages under the prefix that are not the JSON API: the docs page (HTML and its static
# assets, served from a pinned package and checked by its own browser test).
NOT_THE_API = ("/api/v1/docs",)
# Headers about the connection or the representation, not the contract.
TRANSPORT_HEADERS = frozenset(
    {"content-type", "content-length", "date", "server", "connection", "transfer-encoding"}
)
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_VARIABLE = re.compile(r"\{([^{}/]+)\}")


@dataclass(frozen=True)
class Exchange:
    """One request/response pair as the client saw it."""

    method: str
    path: str  # decoded, relative to the app's root
    status: int
    headers: Headers
    body: bytes

    @property
    def mimetype(self) -> str:
        return self.headers.get("Content-Type", "").split(";")[0].strip().lower()

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    def label(self) -> str:
        error = self.error_code()
        path = self.path if len(self.path) <= 120 else self.path[:100] + f"...({len(self.path)})"
        return f"{self.method} {path} -> {self.status}" + (f" {error}" if error else "")

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    def error_code(self) -> str | None:
        if self.status < 400 or self.mimetype != "application/json":
            return None
        payload = self.json()
        return payload.get("error") if isinstance(payload, dict) else None


@dataclass
class _OpenAPIRequest:
    """What openapi-core needs to find the operation: the matched template itself."""

    method: str
    path_pattern: str
    host_url: str = "http://localhost"

    @property
    def path(self) -> str:
        return self.path_pattern


@dataclass
class _OpenAPIResponse:
    status_code: int
    data: bytes
    headers: Headers
    content_type: str


@dataclass
class _Route:
    template: str  # the full path, server prefix included
    regex: re.Pattern[str]
    variables: int
    operations: dict[str, Any]  # lower-case method -> operation object


class _StrictCachedValidators(DialectSchemaValidatorsFactory):
    """openapi-core's OAS 3.1 schema validators, built once per schema, a little stricter.

    * openapi-core builds a new jsonschema validator for every value it checks; one per schema
      of the document is enough (several times faster over the suite's ~10k responses).
    * An object schema that lists ``properties`` refuses others unless it says
      ``additionalProperties``: a field added to a response without documenting it is drift.
      A free-form object (no ``properties``, e.g. an error's ``details``) stays open.
    """

    def __init__(self, base: DialectSchemaValidatorsFactory) -> None:
        super().__init__(
            base.schema_validator_cls, base.default_jsonschema_dialect_id, base.format_checker
        )
        self.built: dict[tuple, Any] = {}
        self.strict: dict[type, type] = {}

    def get_validator_cls(self, spec: SchemaPath, schema: SchemaPath) -> type:
        base = super().get_validator_cls(spec, schema)
        if base not in self.strict:
            listed = base.VALIDATORS["properties"]

            def properties(validator: Any, declared: Any, instance: Any, schema: Any):
                yield from listed(validator, declared, instance, schema)
                if validator.is_type(instance, "object") and "additionalProperties" not in schema:
                    extra = sorted(set(instance) - set(declared))
                    if extra:
                        yield ValidationError(f"undocumented properties {extra}")

            self.strict[base] = extend(base, validators={"properties": properties})
        return self.strict[base]

    def create(self, spec: SchemaPath, schema: SchemaPath, **options: Any) -> Any:
        key = (schema.as_uri(), tuple(sorted((k, id(v)) for k, v in options.items())))
        found = self.built.get(key)
        if found is None:
            found = self.built[key] = super().create(spec, schema, **options)
        return found


class _RememberingPathFinder(APICallPathFinder):
    """openapi-core's path finder, asked only for the templates this module matched: their
    answers never change, so each is looked up once (the lookup walks every path)."""

    def __init__(self, spec: SchemaPath, base_url: str | None = None) -> None:
        super().__init__(spec, base_url=base_url)
        self.found: dict[tuple[str, str], Any] = {}

    def find(self, method: str, name: str) -> Any:
        key = (method, name)
        if key not in self.found:
            self.found[key] = super().find(method, name)
        return self.found[key]


class Conformance:
    """The checks for one document; build once, use for every response."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        spec = SchemaPath.from_dict(document)
        factory = _StrictCachedValidators(oas31_schema_validators_factory)
        options = {
            "schema_validators_factory": factory,
            # Header values are cast through validators too: the same remembered ones.
            "schema_casters_factory": SchemaCastersFactory(factory, oas31_types_caster),
            "path_finder_cls": _RememberingPathFinder,
        }
        self.validator = V31ResponseValidator(spec, **options)
        self.headers_validator = V31ResponseHeadersValidator(spec, **options)
        servers = document.get("servers") or [{"url": "/"}]
        base = urlsplit(servers[0]["url"]).path.rstrip("/")
        self.routes: list[_Route] = []
        for key, item in document.get("paths", {}).items():
            template = base + key
            pattern = "".join(
                f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part)
                for index, part in enumerate(_VARIABLE.split(template))
            )
            operations = {m: op for m, op in item.items() if m in HTTP_METHODS}
            self.routes.append(
                _Route(
                    template, re.compile(pattern + r"\Z"), len(_VARIABLE.findall(key)), operations
                )
            )

    # -- finding the operation ----------------------------------------------------------------

    def match(self, path: str) -> list[_Route]:
        """The most concrete routes answering ``path`` (fewest variables), possibly none."""
        found = [route for route in self.routes if route.regex.match(path)]
        if not found:
            return []
        fewest = min(route.variables for route in found)
        return [route for route in found if route.variables == fewest]

    @staticmethod
    def allowed(routes: list[_Route]) -> set[str]:
        methods = {m.upper() for route in routes for m in route.operations}
        if "GET" in methods:
            methods.add("HEAD")
        return methods | {"OPTIONS"}

    # -- the checks ---------------------------------------------------------------------------

    def problems(self, exchange: Exchange) -> list[str]:
        routes = self.match(exchange.path)
        if not routes:
            return self._contract_error(exchange, 404, "error_not_found")
        method = exchange.method.lower()
        if method == "options":
            return self._options(exchange, routes)
        lookup = "get" if method == "head" else method
        for route in routes:
            if lookup in route.operations:
                return self._operation(exchange, route, route.operations[lookup])
        problems = self._contract_error(exchange, 405, "error_method_not_allowed")
        allow = _header_set(exchange.headers.get("Allow", ""))
        if exchange.status == 405 and allow != self.allowed(routes):
            problems.append(f"Allow {sorted(allow)} != documented {sorted(self.allowed(routes))}")
        return problems

    @cached_property
    def global_errors(self) -> set[tuple[int, str]]:
        """(status, code) pairs every operation documents: answered before routing, so a path
        or method no operation has may get them too (e.g. 413, a rate limit, 503)."""
        pairs: set[tuple[int, str]] | None = None
        for route in self.routes:
            for operation in route.operations.values():
                found = {
                    (int(status), code)
                    for status, response in operation.get("responses", {}).items()
                    if status.isdigit() and int(status) >= 400
                    for code in self.error_codes(self._resolve(response)) or ()
                }
                pairs = found if pairs is None else pairs & found
        return pairs or set()

    @cached_property
    def global_headers(self) -> set[str]:
        """Headers every documented response declares (e.g. a request id or rate limits):
        an answer outside every operation may carry them too."""
        names: set[str] | None = None
        for route in self.routes:
            for operation in route.operations.values():
                for response in operation.get("responses", {}).values():
                    declared = {n.lower() for n in self._resolve(response).get("headers", {})}
                    names = declared if names is None else names & declared
        return names or set()

    def _contract_error(self, exchange: Exchange, status: int, code: str) -> list[str]:
        """An answer outside every operation: the contract's own JSON error, nothing else."""
        if exchange.status != status:
            if (exchange.status, exchange.error_code()) in self.global_errors:
                return []
            return [f"undocumented: expected the contract's {status} {code}"]
        allowed = self.global_headers | ({"allow"} if status == 405 else set())
        problems = _undeclared_headers(exchange, allowed)
        if exchange.method == "HEAD":
            return problems
        payload = exchange.json()
        if exchange.mimetype != "application/json" or not isinstance(payload, dict):
            return [*problems, f"{status} without a JSON error body"]
        if payload.get("error") != code:
            problems.append(f"error code {payload.get('error')!r} != {code!r}")
        if set(payload) - {"error", "details"}:
            problems.append(
                f"error body has undocumented fields {sorted(set(payload) - {'error', 'details'})}"
            )
        return problems

    def _options(self, exchange: Exchange, routes: list[_Route]) -> list[str]:
        if exchange.status != 200:
            return [f"OPTIONS answered {exchange.status}, expected 200"]
        if extra := _undeclared_headers(exchange, self.global_headers | {"allow"}):
            return extra
        allow = _header_set(exchange.headers.get("Allow", ""))
        if allow != self.allowed(routes):
            return [f"Allow {sorted(allow)} != documented {sorted(self.allowed(routes))}"]
        return []

    def _operation(self, exchange: Exchange, route: _Route, operation: dict) -> list[str]:
        responses = operation.get("responses", {})
        key = str(exchange.status)
        if key not in responses:
            listed = ", ".join(sorted(responses))
            return [f"status {key} is not documented for this operation (documents {listed})"]
        response = self._resolve(responses[key])
        problems: list[str] = []
        head = exchange.method == "HEAD"
        if head and exchange.body:
            problems.append("HEAD answer has a body")
        # openapi-core: status, declared headers and (except for HEAD) the body's schema.
        request = _OpenAPIRequest("get" if head else exchange.method.lower(), route.template)
        checked = _OpenAPIResponse(
            exchange.status, exchange.body, exchange.headers, exchange.content_type
        )
        validator = self.headers_validator if head else self.validator
        problems += [_describe(error) for error in validator.iter_errors(request, checked)]
        problems += _undeclared_headers(exchange, {n.lower() for n in response.get("headers", {})})
        if not head and exchange.body and "content" not in response:
            problems.append("a body where the document declares none")
        if exchange.status >= 400 and not head:
            code = exchange.error_code()
            codes = self.error_codes(response)
            if codes is None:
                problems.append(f"status {key} lists no enum of error codes")
            elif code not in codes and not any(p.startswith("body invalid") for p in problems):
                problems.append(f"error code {code!r} not in the {key} enum {sorted(codes)}")
        return problems

    def _resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].removeprefix("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def error_codes(self, response: dict) -> set[str] | None:
        """The codes the ``error`` property of a JSON response may carry, None if not listed."""
        content = response.get("content", {}).get("application/json")
        if not content or "schema" not in content:
            return None
        return self._codes(self._resolve(content["schema"]))

    def _codes(self, schema: Any) -> set[str] | None:
        if not isinstance(schema, dict):
            return None
        found: set[str] | None = None
        error = self._resolve(schema.get("properties", {}).get("error"))
        if isinstance(error, dict):
            if "const" in error:
                found = {error["const"]}
            elif "enum" in error:
                found = set(error["enum"])
        for combinator in ("allOf", "oneOf", "anyOf"):
            for branch in schema.get(combinator, []):
                codes = self._codes(self._resolve(branch))
                if codes is not None:
                    found = codes if found is None else found | codes
        return found


def _undeclared_headers(exchange: Exchange, declared: set[str]) -> list[str]:
    extra = {
        name
        for name, _ in exchange.headers.items()
        if name.lower() not in TRANSPORT_HEADERS and name.lower() not in declared
    }
    return [f"undocumented headers {sorted(extra)}"] if extra else []


def _header_set(value: str) -> set[str]:
    return {part.strip().upper() for part in value.split(",") if part.strip()}


def _describe(error: Exception) -> str:
    """openapi-core's error, with the schema errors that say what is wrong (not the value)."""
    details = getattr(error.__cause__, "schema_errors", None) or []
    if details:
        where = (
            "header " + str(getattr(error, "name", ""))
            if "Header" in type(error).__name__
            else "body"
        )
        return f"{where} invalid: " + "; ".join(
            f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message[:200]}"
            for e in details[:3]
        )
    return f"{type(error).__name__}: {error}" + (f" [{error.__cause__}]" if error.__cause__ else "")


# -- which document a response is checked against ------------------------------------------------

_by_signature: dict[tuple, Conformance] = {}
_by_app: weakref.WeakKeyDictionary[Flask, Conformance] = weakref.WeakKeyDictionary()
_reference: list[Conformance] = []


def _signature(app: Flask) -> tuple:
    """The API's rules and their view functions: what the document is generated from."""
    return tuple(
        sorted(
            (rule.rule, tuple(sorted(rule.methods or ())), id(app.view_functions[rule.endpoint]))
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith(API_PREFIX + "/")
        )
    )


def conformance_for(app: Flask) -> Conformance:
    """The checker for ``app``'s own document, shared by every app with the same API rules."""
    checker = _by_app.get(app)
    if checker is None:
        from league_api import openapi

        signature = _signature(app)
        checker = _by_signature.get(signature)
        if checker is None:
            checker = _by_signature[signature] = Conformance(openapi.build(app))
        _by_app[app] = checker
    return checker


def reference_conformance() -> Conformance:
    """The document of ``create_app()``: what every gunicorn server of the suite serves."""
    if not _reference:
        from league_api import create_app

        app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "AUTO_INIT_DB": False})
        _reference.append(conformance_for(app))
    return _reference[0]


# -- recording, per test -----------------------------------------------------------------------


@dataclass
class Recorder:
    """The exchanges of the running test and what checking them found."""

    exempt_statuses: frozenset[int] = frozenset()
    pending: list[tuple[Conformance | None, Exchange]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    checked: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    def add(self, checker: Conformance | None, exchange: Exchange) -> None:
        if exchange.path != API_PREFIX and not exchange.path.startswith(API_PREFIX + "/"):
            return
        if any(exchange.path == p or exchange.path.startswith(p + "/") for p in NOT_THE_API):
            return
        with self.lock:
            self.pending.append((checker, exchange))

    def take(self) -> list[str]:
        """Check what arrived so far; return the mismatches, each once, and forget them."""
        with self.lock:
            pending, self.pending = self.pending, []
        start, cpu_start = time.perf_counter(), time.process_time()
        found: dict[str, None] = {}
        for checker, exchange in pending:
            if exchange.status in self.exempt_statuses and exchange.mimetype != "application/json":
                continue
            problems = (checker or reference_conformance()).problems(exchange)
            if problems:
                found[f"{exchange.label()}: {'; '.join(problems)}"] = None
        self.seconds += time.perf_counter() - start
        self.cpu_seconds += time.process_time() - cpu_start
        self.checked += len(pending)
        return list(found)


_current: list[Recorder] = []


def _record(checker: Conformance | None, exchange: Exchange) -> None:
    if _current:
        _current[-1].add(checker, exchange)


class CheckedClient(FlaskClient):
    """Flask's test client, recording each answer for the conformance check."""

    def open(self, *args: Any, **kwargs: Any):
        response = super().open(*args, **kwargs)
        request = response.request
        _record(
            conformance_for(self.application),
            Exchange(
                request.method,
                request.path,
                response.status_code,
                Headers(response.headers),
                response.get_data(),
            ),
        )
        return response


_original_send = requests.Session.send
_original_client_class = Flask.test_client_class


def _checked_send(self: requests.Session, request: requests.PreparedRequest, **kwargs: Any):
    response = _original_send(self, request, **kwargs)
    if not kwargs.get("stream"):
        for answer in [*response.history, response]:
            sent = answer.request
            _record(
                None,
                Exchange(
                    sent.method or "GET",
                    unquote(urlsplit(sent.url or "").path),
                    answer.status_code,
                    Headers(list(answer.headers.items())),
                    answer.content or b"",
                ),
            )
    return response


# -- the plugin ----------------------------------------------------------------------------------


def enabled() -> bool:
    return os.environ.get(SWITCH, "on").lower() not in {"off", "0", "false", "no"}


class ConformancePlugin:
    """Registered by conftest.py; off with LEAGUE_API_CONFORMANCE=off (measurement only)."""

    def __init__(self) -> None:
        self.enabled = enabled()
        self.checked = 0
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line(
            "markers",
            f"{MARKER}(*statuses, reason): non-JSON answers with these statuses come from the "
            "HTTP server itself, before the app; the OpenAPI conformance check skips them",
        )

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_setup(self, item: pytest.Item):
        if self.enabled:
            marker = item.get_closest_marker(MARKER)
            if marker is not None and not marker.kwargs.get("reason"):
                pytest.fail(f"@{MARKER} needs a reason=", pytrace=False)
            statuses = frozenset(marker.args) if marker else frozenset()
            recorder = Recorder(exempt_statuses=statuses)
            _current.append(recorder)
            item.stash[_RECORDER] = recorder
            self._patch()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_call(self, item: pytest.Item):
        recorder = item.stash.get(_RECORDER, None)
        try:
            result = yield
        except BaseException:
            if recorder is not None:
                recorder.take()  # the test's own failure speaks first
            raise
        if recorder is not None:
            self._fail_on(recorder.take())
        return result

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item):
        result = yield
        recorder = item.stash.get(_RECORDER, None)
        if recorder is not None:
            _current.remove(recorder)
            self._unpatch()
            leftover = recorder.take()  # answers received in fixtures
            self.checked += recorder.checked
            self.seconds += recorder.seconds
            self.cpu_seconds += recorder.cpu_seconds
            self._fail_on(leftover)
        return result

    @staticmethod
    def _fail_on(problems: list[str]) -> None:
        if problems and os.environ.get(LOG):
            with open(os.environ[LOG], "a", encoding="utf-8") as log:
                log.writelines(line + "\n" for line in problems)
        if problems:
            shown = "\n  ".join(problems[:15])
            more = f"\n  ... and {len(problems) - 15} more" if len(problems) > 15 else ""
            pytest.fail(
                f"{len(problems)} response(s) differ from the OpenAPI document:\n  {shown}{more}",
                pytrace=False,
            )

    @staticmethod
    def _patch() -> None:
        Flask.test_client_class = CheckedClient
        requests.Session.send = _checked_send  # type: ignore[method-assign]

    @staticmethod
    def _unpatch() -> None:
        Flask.test_client_class = _original_client_class
        requests.Session.send = _original_send  # type: ignore[method-assign]

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # Under pytest-xdist the checks run in the workers: each hands its totals to the
        # controller, which prints their sum.
        workeroutput = getattr(session.config, "workeroutput", None)
        if workeroutput is not None:
            workeroutput["openapi_conformance"] = (self.checked, self.seconds, self.cpu_seconds)

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:  # noqa: ARG002
        checked, seconds, cpu_seconds = node.workeroutput.get("openapi_conformance", (0, 0, 0))
        self.checked += checked
        self.seconds += seconds
        self.cpu_seconds += cpu_seconds

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.enabled:
            terminalreporter.write_line(
                f"openapi conformance: {self.checked} responses checked in {self.seconds:.2f}s"
                f" ({self.cpu_seconds:.2f}s CPU)"
            )
        else:
            terminalreporter.write_line(f"openapi conformance: OFF ({SWITCH})")


_RECORDER = pytest.StashKey[Recorder]()


def current_recorder() -> Recorder:
    """The running test's recorder (for the tests of the hook itself)."""
    return _current[-1]

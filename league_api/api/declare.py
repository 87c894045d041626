"""What a view takes, answers and raises, declared on the view (as flask-smorest and APIFlask do).

One declaration feeds three things: validation (``@body`` / ``@query`` load the request and pass
the data to the view), serialisation (``@response`` dumps what the view returns through its
schema and adds ``timestamp``, plus ``Location`` on a create) and the OpenAPI document, which reads
``view.declaration`` and keeps no table of its own. Schemas are instances built once per module.

Order on a view, outermost first: the route, ``@require_key``, ``@idempotent`` or
``@transactional``, then these. ``@body`` sits inside ``@idempotent`` on purpose: schema
violations are answered by the view (API.md section 3 step 7), stored and replayed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, jsonify, request, url_for
from marshmallow import Schema
from werkzeug.wrappers import Response

from league_api.errors import APIError
from league_api.models import isoformat, utcnow
from league_api.schemas import load


@dataclass
class Answer:
    """One documented success answer of a view."""

    status: int
    schema: Schema
    description: str
    # The endpoint whose URL goes in ``Location`` (a create) and its arguments taken from
    # the dumped body (the rest come from the request's own path).
    location: str | None = None
    location_args: dict[str, str] = field(default_factory=dict)
    example: dict[str, Any] | None = None


@dataclass
class Declaration:
    """Everything the document needs to know about a view, besides its rule."""

    body: Schema | None = None
    query: Schema | None = None
    answers: dict[int, Answer] = field(default_factory=dict)
    raises: tuple[type[APIError], ...] = ()
    # Cross-field rules JSON Schema cannot state: written into the operation's description.
    rules: tuple[str, ...] = ()
    key_kind: str | None = None
    scope: tuple[str, str] | None = None


def declaration(view: Callable[..., Any]) -> Declaration:
    """The view's declaration, created on first use.

    ``functools.wraps`` copies ``__dict__`` into each wrapper, so the one object is shared by
    the view and every decorator around it, whichever order they were applied in.
    """
    found = view.__dict__.get("declaration")
    if found is None:
        found = view.__dict__["declaration"] = Declaration()
    return found


def body(schema: Schema, *rules: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Load the JSON object body through ``schema``; the view gets the data first."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(load(schema), *args, **kwargs)

        declared = declaration(wrapper)
        declared.body, declared.rules = schema, declared.rules + rules
        return wrapper

    return decorator


def query(schema: Schema) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Load the query string through ``schema``; the view gets the data first."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(load(schema, request.args.to_dict()), *args, **kwargs)

        declaration(wrapper).query = schema
        return wrapper

    return decorator


def raises(*errors: type[APIError]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The view's own errors (lookups, bindings, rules, states): listed in the document."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        declared = declaration(view)
        declared.raises = declared.raises + errors
        return view

    return decorator


def now_iso() -> str:
    return isoformat(utcnow())  # type: ignore[return-value]


def _location(answer: Answer, dumped: dict[str, Any]) -> str:
    rule = next(current_app.url_map.iter_rules(answer.location))
    values = dict(request.view_args or {})
    values.update({name: dumped[source] for name, source in answer.location_args.items()})
    return url_for(answer.location, **{name: values[name] for name in rule.arguments})


def response(
    status: int,
    schema: Schema,
    description: str = "Success",
    *,
    location: str | None = None,
    location_args: dict[str, str] | None = None,
    example: dict[str, Any] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Dump what the view returns through ``schema`` and answer ``status``.

    A view with several answers returns ``(payload, status)`` to pick one. The payload is an
    object or dict the schema reads; ``timestamp`` is added to every answer.
    """
    answer = Answer(status, schema, description, location, location_args or {}, example)

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        declared = declaration(view)
        if declared.answers:
            # A second @response on the same view: the outer wrapper does the dumping.
            declared.answers[status] = answer
            return view

        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            result = view(*args, **kwargs)
            if isinstance(result, Response):
                return result
            payload, chosen = result if isinstance(result, tuple) else (result, None)
            spec = declaration(wrapper).answers[chosen or answer.status]
            dumped = spec.schema.dump(payload)
            dumped["timestamp"] = now_iso()
            reply = jsonify(dumped)
            reply.status_code = spec.status
            if spec.location is not None:
                reply.headers["Location"] = _location(spec, dumped)
            return reply

        declaration(wrapper).answers[status] = answer
        return wrapper

    return decorator

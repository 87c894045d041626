"""The OpenAPI 3.1 document of ``/api/v1``, built with apispec from the url_map and the views'
declarations (``league_api.api.declare``, ``require_key``, ``@idempotent``): no endpoint table.

Errors: each operation lists every status it can answer with the enum of the codes it can
carry there, from the handling order of API.md section 3 (steps 1-6, known from how the view
is decorated) plus the view's own ``@raises``, 503 and 500.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from marshmallow import Schema, fields

from league_api import API_PREFIX, errors
from league_api.api.declare import Answer, Declaration
from league_api.jsonbody import MAX_SAFE_INTEGER
from league_api.schemas import Time, empty_body_schema

EXTENSION = "league_api.openapi"
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
NO_NUL = r"^[^\u0000]*$"
# 1-255 visible ASCII (0x21-0x7E) except the comma: exactly what idempotency.read_key accepts.
IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x2B\x2D-\x7E]{1,255}$"
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Retry-safe key: the first answer is stored and replayed (with `Idempotent-Replayed:"
        " true`) for 24 hours. 1-255 visible ASCII characters, no comma; one header only."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": IDEMPOTENCY_KEY_PATTERN,
    },
}
HEADERS = {
    "Location": {
        "description": "The root-relative URL of the created resource",
        "schema": {"type": "string"},
        "required": True,
    },
    "IdempotentReplayed": {
        "description": "`true` when the answer is the stored one of an earlier request",
        "schema": {"type": "string", "enum": ["true"]},
    },
    "RetryAfter": {
        "description": "Seconds to wait before retrying",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Allow": {"description": "The methods this path answers", "schema": {"type": "string"}},
    "XRequestId": {
        "description": "The request's id in the logs: the caller's own `X-Request-Id` if it is"
        " 1-128 characters of `A-Za-z0-9._:-`, otherwise a new one",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{1,128}$"},
        "required": True,
    },
    "RateLimitPolicy": {
        "description": "While rate limiting is on: every policy that counted this request"
        ' (draft-ietf-httpapi-ratelimit-headers-11), e.g. `"ip-1s";q=100;w=1`',
        "schema": {"type": "string"},
    },
    "RateLimit": {
        "description": "While rate limiting is on: requests left (`r`) and seconds until the"
        ' window ends (`t`) per policy, e.g. `"ip-1s";r=99;t=1`',
        "schema": {"type": "string"},
    },
    "XRateLimitLimit": {
        "description": "While rate limiting is on: the quota of the policy closest to refusing",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "XRateLimitRemaining": {
        "description": "While rate limiting is on: requests that policy has left",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "XRateLimitReset": {
        "description": "While rate limiting is on: when that policy's window ends (Unix seconds)",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
}
# Headers every answer under /api/v1 may carry (docs/API.md section 4): declared on each response.
_EVERYWHERE = {
    "X-Request-Id": "XRequestId",
    "RateLimit-Policy": "RateLimitPolicy",
    "RateLimit": "RateLimit",
    "X-RateLimit-Limit": "XRateLimitLimit",
    "X-RateLimit-Remaining": "XRateLimitRemaining",
    "X-RateLimit-Reset": "XRateLimitReset",
}
_HEADER_REF = {
    "Retry-After": "RetryAfter",
    "Allow": "Allow",
}
_ARGUMENT = re.compile(r"<(?:([^<>:]+):)?([^<>]+)>")
_EXAMPLE_ID = "018f2a3b4c5d6e7f8a9b0c1d"
_EXAMPLE_TIME = "2026-01-01T12:00:00.000Z"


def document(app: Flask) -> dict[str, Any]:
    """The document for ``app``, built on first use and kept in ``app.extensions``."""
    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = build(app)
    return app.extensions[EXTENSION]


def _strict_bounds(
    converter: Any, field: fields.Field, ret: dict[str, Any], **kwargs: Any
) -> dict[str, Any]:
    """The bounds the JSON parser enforces on every value, written into each field."""
    extra: dict[str, Any] = {}
    types = ret.get("type")
    types = types if isinstance(types, list) else [types]
    if "string" in types and "pattern" not in ret and "enum" not in ret:
        extra["pattern"] = NO_NUL  # no U+0000 (PostgreSQL text cannot hold it)
    if "integer" in types:
        extra.setdefault("minimum", ret.get("minimum", -MAX_SAFE_INTEGER))
        extra.setdefault("maximum", ret.get("maximum", MAX_SAFE_INTEGER))
    if field.allow_none and "enum" in ret and None not in ret["enum"]:
        extra["enum"] = [*ret["enum"], None]
    return extra


def build(app: Flask) -> dict[str, Any]:
    """Describe every ``/api/v1`` rule of ``app.url_map`` as an OpenAPI 3.1 document."""
    marshmallow = MarshmallowPlugin()
    spec = APISpec(
        title="league_api",
        version="1",
        openapi_version="3.1.0",
        plugins=[marshmallow],
        security=[{"bearer": []}],
        servers=[{"url": "/", "description": "this server"}],
        info={
            "description": (
                "A league and match API whose every write endpoint is safe to retry. "
                "The contract is docs/API.md in the repository."
            )
        },
    )
    assert marshmallow.converter is not None
    marshmallow.converter.add_attribute_function(_strict_bounds)
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.parameter("IdempotencyKey", "header", IDEMPOTENCY_KEY)
    for name, header in HEADERS.items():
        spec.components.header(name, header)

    # The docs page is HTML for people, not an operation of the API (docs/API.md 9.7).
    rules = [
        rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API_PREFIX + "/")
        and not getattr(app.view_functions[rule.endpoint], "openapi_hidden", False)
    ]
    methods_by_path: dict[str, set[str]] = defaultdict(set)
    for rule in rules:
        methods_by_path[_path(rule.rule)] |= rule.methods - IGNORED_METHODS
    operation_ids = {rule.endpoint: _operation_id(rule.endpoint) for rule in rules}
    paths: dict[str, dict[str, Any]] = defaultdict(dict)
    for rule in rules:
        for method in sorted(rule.methods - IGNORED_METHODS):
            paths[_path(rule.rule)][method.lower()] = _operation(app, rule, method, operation_ids)
    for path, operations in sorted(paths.items()):
        spec.path(path=path, operations=operations)
    # Cross-field rules JSON Schema can state, declared on the schema class itself.
    for key, name in marshmallow.converter.refs.items():
        spec.components.schemas[name].update(getattr(key[0], "OPENAPI_EXTRA", {}))
    document = spec.to_dict()
    _link_sub_resources(document)
    _everywhere_headers(document)
    return document


def _everywhere_headers(document: dict[str, Any]) -> None:
    """Declare on every response the headers the app adds to every answer (request id, limits)."""
    for operations in document["paths"].values():
        for operation in operations.values():
            for answer in operation["responses"].values():
                headers = answer.setdefault("headers", {})
                for name, ref in _EVERYWHERE.items():
                    headers.setdefault(name, {"$ref": f"#/components/headers/{ref}"})


def _link_sub_resources(document: dict[str, Any]) -> None:
    """Beside ``read``, link each create to every operation on what it created (the read's
    path and the paths under it), so a client (or a stateful fuzzer) can follow the ids."""
    by_id = {
        operation["operationId"]: path
        for path, operations in document["paths"].items()
        for operation in operations.values()
    }
    for operations in document["paths"].values():
        for operation in operations.values():
            for answer in operation["responses"].values():
                read = answer.get("links", {}).get("read")
                if read is None:
                    continue
                base = by_id[read["operationId"]]
                for path, targets in document["paths"].items():
                    if path != base and not path.startswith(base + "/"):
                        continue
                    for target in targets.values():
                        if target["operationId"] != read["operationId"]:
                            answer["links"][target["operationId"]] = {
                                **read,
                                "operationId": target["operationId"],
                                "description": "Act on what was created",
                            }
                for link in answer["links"].values():
                    # Only the parameters the target's path takes.
                    wanted = set(re.findall(r"\{(\w+)\}", by_id[link["operationId"]]))
                    link["parameters"] = {
                        name: value for name, value in link["parameters"].items() if name in wanted
                    }


def _path(rule: str) -> str:
    return _ARGUMENT.sub(r"{\2}", rule)


def _operation_id(endpoint: str) -> str:
    """``api.tickets.create_ticket`` -> ``tickets_create_ticket``; API-level routes are ``meta``."""
    parts = endpoint.split(".")
    return f"{parts[1]}_{parts[2]}" if len(parts) > 2 else f"meta_{parts[-1]}"


def _path_parameters(rule) -> list[dict[str, Any]]:
    from league_api.api import RESERVED_WORDS, IdConverter

    parameters = []
    for name in sorted(rule.arguments):
        schema: dict[str, Any] = {"type": "string", "minLength": 1, "pattern": IdConverter.pattern}
        if isinstance(rule._converters[name], IdConverter):  # noqa: SLF001
            schema["not"] = {"enum": list(RESERVED_WORDS)}
        else:  # a slug: dot segments never reach the server as such
            schema["not"] = {"enum": [".", ".."]}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _operation(app: Flask, rule, method: str, operation_ids: dict[str, str]) -> dict[str, Any]:
    view = app.view_functions[rule.endpoint]
    declared: Declaration = getattr(view, "declaration", None) or Declaration()
    idempotent = getattr(view, "idempotent", False)
    requirement = getattr(view, "key_requirement", None)
    parameters: list[Any] = _path_parameters(rule)
    if idempotent:
        parameters.append("IdempotencyKey")
    if declared.query is not None:
        parameters.append({"in": "query", "schema": declared.query})
    area = operation_ids[rule.endpoint].split("_", 1)[0]
    summary, _, more = (view.__doc__ or "").strip().partition("\n")
    operation: dict[str, Any] = {
        "operationId": operation_ids[rule.endpoint],
        "summary": summary.strip(),
        "tags": [area],
        "parameters": parameters,
        "responses": {
            **_successes(declared, idempotent, operation_ids, rule),
            **_errors(declared, rule, idempotent, requirement is not None),
        },
    }
    description = [more.strip()] if more.strip() else []
    if requirement is not None:
        kind, scope, level = requirement
        who = "any kind of key" if kind == "any" else f"a **{kind}** key"
        description.append(f"Needs {who} with the scope `{scope}` ({level}).")
        operation["x-required-key"] = {"kind": kind, "scope": scope, "level": level}
    else:
        operation["security"] = []
        description.append("Public: no key needed.")
    if idempotent:
        description.append("Honours `Idempotency-Key` (an **Idem** endpoint).")
    description.extend(f"Rule: {text}" for text in declared.rules)
    operation["description"] = "\n\n".join(description)
    if declared.body is not None:
        schema = declared.body
        # The empty body schema is an anonymous Schema(): inline it rather than name it.
        body_schema: Any = (
            {"type": "object", "maxProperties": 0} if schema is empty_body_schema else schema
        )
        operation["requestBody"] = {
            # An empty body reads as {}: the body is required only if a field is.
            "required": any(field.required for field in schema.fields.values()),
            "content": {"application/json": {"schema": body_schema}},
        }
    return operation


def _successes(
    declared: Declaration, idempotent: bool, operation_ids: dict[str, str], rule
) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    if not declared.answers:  # the document itself
        return {
            "200": {
                "description": "This document",
                "content": {"application/json": {"schema": {"type": "object"}}},
            }
        }
    for status, answer in sorted(declared.answers.items()):
        entry: dict[str, Any] = {
            "description": answer.description,
            "content": {
                "application/json": {
                    "schema": answer.schema,
                    "example": answer.example or example_of(answer.schema),
                }
            },
        }
        headers: dict[str, Any] = {}
        if answer.location is not None:
            headers["Location"] = {"$ref": "#/components/headers/Location"}
            entry["links"] = {"read": _link(answer, operation_ids, rule)}
        if idempotent:
            headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/IdempotentReplayed"}
        if headers:
            entry["headers"] = headers
        responses[str(status)] = entry
    return responses


def _link(answer: Answer, operation_ids: dict[str, str], rule) -> dict[str, Any]:
    """Where ``Location`` points, as an OpenAPI link to the read operation."""
    target = answer.location
    assert target is not None
    parameters = {name: f"$response.body#/{field}" for name, field in answer.location_args.items()}
    # Only the target's own path arguments: a link naming another is invalid.
    taken = {name for target_rule in rule.map.iter_rules(target) for name in target_rule.arguments}
    for name in rule.arguments & taken:
        parameters.setdefault(name, f"$request.path.{name}")
    return {
        "operationId": operation_ids[target],
        "parameters": parameters,
        "description": "Read what was created (the `Location` URL)",
    }


def _error_classes(
    declared: Declaration, rule, idempotent: bool, authenticated: bool
) -> list[type[errors.APIError]]:
    """Every error the operation can answer, in the handling order of API.md section 3."""
    found: list[type[errors.APIError]] = [errors.IpRateLimited, errors.PayloadTooLarge]
    if authenticated:
        found += [errors.ApiKeyRequired, errors.ApiKeyInvalid, errors.ApiRateLimited]
        found += [errors.PermissionDenied]
    if idempotent:
        found += [errors.IdempotencyKeyInvalid]
    if declared.body is not None:
        found += [errors.UnsupportedMediaType, errors.InvalidJSON, errors.InvalidRequest]
    if declared.query is not None:
        found += [errors.InvalidRequest]
    if idempotent:
        found += [errors.IdempotencyKeyConflict, errors.IdempotencyKeyInUse, errors.InvalidJSON]
    if rule.arguments:
        # A path value no rule takes is no route; one the database refuses is a 400.
        found += [errors.NotFound, errors.InvalidRequest]
    found += [*declared.raises, errors.MethodNotAllowed, errors.InternalError]
    found += [errors.ServiceUnavailable]
    return found


def _errors(declared: Declaration, rule, idempotent: bool, authenticated: bool) -> dict[str, Any]:
    by_status: dict[int, list[type[errors.APIError]]] = defaultdict(list)
    for cls in _error_classes(declared, rule, idempotent, authenticated):
        if cls not in by_status[cls.status]:
            by_status[cls.status].append(cls)
    responses = {}
    for status, classes in sorted(by_status.items()):
        codes = [cls.error_code for cls in classes]
        entry: dict[str, Any] = {
            "description": "; ".join(
                f"`{cls.error_code}`" + (f": {cls.__doc__.strip()}" if cls.__doc__ else "")
                for cls in classes
            ),
            "content": {"application/json": {"schema": _error_schema(codes)}},
        }
        headers = {
            name: {"$ref": f"#/components/headers/{_HEADER_REF[name]}"}
            for cls in classes
            for name in cls.header_names
        }
        if idempotent and status < 500:
            # The view's own 4xx answers are stored and replayed like its successes.
            headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/IdempotentReplayed"}
        if headers:
            entry["headers"] = headers
        responses[str(status)] = entry
    return responses


def _error_schema(codes: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "error": {"type": "string", "enum": codes},
            "details": {
                "description": "a message, or the field messages of a 400",
                "type": ["string", "object"],
            },
        },
        "required": ["error", "details"],
        "additionalProperties": False,
    }


def example_of(schema: Schema) -> dict[str, Any]:
    """An example body made from the schema's own fields (ids, times, enums, nested)."""
    return {name: _example_field(name, field) for name, field in schema.fields.items()}


def _example_field(name: str, field: fields.Field) -> Any:
    if "example" in field.metadata:
        return field.metadata["example"]
    choices = None
    for validator in field.validators:
        choices = getattr(validator, "choices", choices)
    if choices:
        return list(choices)[0]
    if isinstance(field, Time):
        return _EXAMPLE_TIME
    if isinstance(field, fields.Nested):
        nested = field.schema
        return example_of(nested)
    if isinstance(field, fields.List):
        return [_example_field(name, field.inner)]
    if isinstance(field, fields.Boolean):
        return True
    if isinstance(field, fields.Integer):
        return 1
    if isinstance(field, fields.Function):
        kind = field.metadata.get("type")
        if kind == "array":
            return [_EXAMPLE_ID]
        if kind == "object":
            return {}
        return None
    if name == "id" or name.endswith("Id") or name.endswith("By"):
        return _EXAMPLE_ID
    if name == "nextCursor" or name == "cursor":
        return None
    return "text"

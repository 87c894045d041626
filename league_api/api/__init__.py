"""The ``/api/v1`` blueprint: request guards shared by every area, then one module per area."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import BaseConverter

from league_api import docs_page, openapi, ratelimit
from league_api.auth import authenticate, authorize, current_key_id
from league_api.db import ensure_tables, release_read_connection
from league_api.errors import PayloadTooLarge
from league_api.idempotency import answer_early, begin_write_for_view, record_scope_tail

api = Blueprint("api", __name__)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Never an id: the static word that shares a position with an id in some rule
# (``/matches/create`` beside ``/matches/<match_id>``), so each rule answers only its own
# paths; and the dot segments, which clients resolve away before sending.
RESERVED_WORDS = ("create", ".", "..")


class IdConverter(BaseConverter):
    """An opaque id in a path: one segment, no NUL, never a reserved word."""

    regex = r"(?!(?:create|\.|\.\.)$)[^/\x00]+"
    # The same bound in the document: this pattern, and ``not`` one of RESERVED_WORDS.
    pattern = r"^[^/\u0000]+$"


def register_converters(app) -> None:
    """Our routes' ``<api_id:...>``; named so no host app's own converter is replaced."""
    app.url_map.converters["api_id"] = IdConverter


def keep_paths_exact(app, prefix: str, *, whole_map: bool) -> None:
    """A path with doubled slashes names none of our routes: a JSON 404 for every method, not
    Werkzeug's 308 to the merged path (an HTML page, and a write's body sent on to another URL).

    ``whole_map`` (the standalone app, whose map is ours): Werkzeug never merges. Embedded, the
    host's map keeps its setting for the host's routes, and a hook refuses doubled slashes
    under ``prefix`` before routing's answer is used (per-rule settings would still let the
    merged path's other methods answer 405).
    """
    if whole_map:
        app.url_map.merge_slashes = False
        return
    under_prefix = prefix + "/"

    @app.before_request
    def _refuse_doubled_slashes() -> None:
        path = request.path
        if "//" in path and path.startswith(under_prefix):
            raise NotFound()


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"bodies are at most {limit} bytes")


@api.before_request
def guard_request() -> Response | None:
    """API.md 4 up to the view: size, authentication and the key's rate limit, the key's kind
    and scope, then on a keyed write the idempotency steps (a replay or a conflict is answered
    here, before any transaction), then the write lock.

    (The client address was rate-limited before this, app-wide: ``league_api.ratelimit``.)
    """
    # The objects behind Flask's proxies, once: each proxied access costs about 0.5 us.
    app, req = current_app._get_current_object(), request._get_current_object()
    limit = app.config["MAX_BODY_BYTES"]
    # Werkzeug stops a body without Content-Length (chunked) at the limit *silently*, handing
    # back a truncated body; reading one byte more is how an oversized one shows itself.
    req.max_content_length = limit + 1
    if req.content_length is not None and req.content_length > limit:
        raise _too_large(limit)
    ensure_tables()
    if req.method == "OPTIONS":
        # OPTIONS is routed to a write view's endpoint too; it must never take the write lock.
        return
    write = req.method not in SAFE_METHODS
    # Reading now makes a chunked body over the limit a 413 before authentication.
    if write and len(req.get_data(cache=True)) > limit:
        raise _too_large(limit)
    view = app.view_functions.get(req.endpoint)
    if getattr(view, "requires_key", False):
        # Authentication reads before any transaction (``read_row``): no lock, no BEGIN. On
        # PostgreSQL its statement also reads a keyed write's record: a replay's one round trip.
        scope_tail = record_scope_tail(view, current_key_id) if write else None
        ratelimit.check_key(authenticate(scope_tail).id)
        if write:
            authorize(view)
            early = answer_early(view)
            if early is not None:
                return early
    # The view's reads and writes run in the session: its connection may be this one again.
    release_read_connection()
    if write:
        begin_write_for_view(view)


@api.get("/openapi.json")
def openapi_document():
    """The OpenAPI 3.1 document of this API: public, no key needed."""
    return openapi.document(current_app)


def register_areas() -> None:
    from league_api.api import chat, game, leagues, matches, scores, tickets, webhooks

    for module in (game, leagues, matches, scores, chat, tickets, webhooks):
        api.register_blueprint(module.bp)
    api.register_blueprint(docs_page.bp)


register_areas()

"""GET /api/v1/docs: the OpenAPI document rendered by Swagger UI, served by the app itself.

Every asset comes from the pinned ``flask-swagger-ui`` package (only its ``dist/`` files, not its
blueprint, whose page has an inline script); nothing is loaded from another host, so the page
works air-gapped. The Content-Security-Policy lets the page load only from its own origin, plus
``data:`` images, which Swagger UI's stylesheet embeds for its icons.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from flask import Blueprint, Response, abort, send_from_directory, url_for

bp = Blueprint("docs", __name__, url_prefix="/docs")

DIST = Path(str(files("flask_swagger_ui").joinpath("dist")))
ASSETS = frozenset(
    {
        "swagger-ui-bundle.js",
        "swagger-ui.css",
        "index.css",
        "favicon-32x32.png",
        "favicon-16x16.png",
    }
)
CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:"
INIT_SCRIPT = "docs-init.js"

# In its own file, not inline, so that script-src stays 'self'. validatorUrl null: Swagger UI
# would otherwise load a badge from an outside validator service.
_INIT_JS = """\
window.addEventListener("load", function () {
  var node = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: node.dataset.openapiUrl,
    domNode: node,
    presets: [SwaggerUIBundle.presets.apis],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "BaseLayout",
    validatorUrl: null,
    deepLinking: true,
  });
});
"""

_PAGE = """\
<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>league_api: API reference</title>
  <link rel="stylesheet" href="{index_css}">
  <link rel="stylesheet" href="{swagger_css}">
  <link rel="icon" type="image/png" sizes="32x32" href="{icon32}">
  <link rel="icon" type="image/png" sizes="16x16" href="{icon16}">
</head>
<body>
  <div id="swagger-ui" data-openapi-url="{document}"></div>
  <script src="{bundle}"></script>
  <script src="{init}"></script>
</body>
</html>
"""


def _secured(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("")
def page() -> Response:
    """The API reference page: public, no key needed."""

    def asset(name: str) -> str:
        return url_for("api.docs.asset", name=name)

    html = _PAGE.format(
        index_css=asset("index.css"),
        swagger_css=asset("swagger-ui.css"),
        icon32=asset("favicon-32x32.png"),
        icon16=asset("favicon-16x16.png"),
        document=url_for("api.openapi_document"),
        bundle=asset("swagger-ui-bundle.js"),
        init=asset(INIT_SCRIPT),
    )
    return _secured(Response(html, mimetype="text/html"))


@bp.get("/<name>")
def asset(name: str) -> Response:
    """One file of the page: the pinned Swagger UI build, or the script that starts it."""
    if name == INIT_SCRIPT:
        return _secured(Response(_INIT_JS, mimetype="text/javascript"))
    if name not in ASSETS:
        abort(404)
    return _secured(send_from_directory(DIST, name, max_age=3600))


# Not API operations: the OpenAPI document and its response checks leave these two views out.
for _view in (page, asset):
    _view.openapi_hidden = True  # type: ignore[attr-defined]

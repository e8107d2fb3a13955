"""The API's own description: ``GET /v1/openapi.json`` (OpenAPI 3.1, generated from the
code: ``openapi.document``) and ``GET /v1/docs``, Swagger UI served from its PyPI
package's own files (``swagger-ui-py``), so that it works on a machine without internet.
Both are public: a document says nothing an unauthenticated client cannot learn by
trying."""

from __future__ import annotations

import functools
from importlib.resources import files
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, request

from web.http import json_response
from web.openapi.document import build

#: The Swagger UI files the page loads (the package ships more: the editor, maps).
ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "index.css"}
)
_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tasks-service API</title>
<link rel="stylesheet" href="{root}/v1/docs/assets/swagger-ui.css">
<link rel="stylesheet" href="{root}/v1/docs/assets/index.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{root}/v1/docs/assets/swagger-ui-bundle.js"></script>
<script src="{root}/v1/docs/assets/swagger-ui-standalone-preset.js"></script>
<script src="{root}/v1/docs/assets/start.js" data-document="{root}/v1/openapi.json"></script>
</body>
</html>
"""
# In a file of its own, not inline: a Content-Security-Policy without 'unsafe-inline'.
_START = """window.ui = SwaggerUIBundle({
  url: document.currentScript.dataset.document,
  dom_id: "#swagger-ui",
  deepLinking: true,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
});
"""
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self'"
)


@functools.cache
def _asset(name: str) -> bytes:
    return files("swagger_ui").joinpath("static", name).read_bytes()


def register(app: Flask) -> None:
    docs = Blueprint("openapi", __name__)

    @docs.get("/v1/openapi.json")
    def openapi_document() -> Response:
        document: dict[str, Any] = current_app.extensions.get("openapi") or build(current_app)
        current_app.extensions["openapi"] = document  # the app's routes are fixed by now
        return json_response(document)

    @docs.get("/v1/docs")
    def docs_page() -> Response:
        page = _PAGE.replace("{root}", request.script_root)
        return Response(page, mimetype="text/html", headers={"Content-Security-Policy": _CSP})

    @docs.get("/v1/docs/assets/<name>")
    def docs_asset(name: str) -> Response:
        if name == "start.js":
            return Response(_START, mimetype="text/javascript")
        if name not in ASSETS:
            abort(404)
        return Response(
            _asset(name),
            mimetype="text/css" if name.endswith(".css") else "text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.register_blueprint(docs)

"""The Flask application factory."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, request

from tasks_service.commands.outcomes import OutcomeWatcher
from tasks_service.core.logs import configure_logging
from tasks_service.core.settings import Settings, get_settings
from web import box, observe, openapi, ops
from web.auth import authenticate_request
from web.errors import ApiError, register_error_handlers
from web.http import (
    IdConverter,
    refuse_oversized_head,
    refuse_query_on_a_write,
    refuse_unread_query,
)
from web.routes import (
    account,
    assignments,
    calendars,
    escalation_policies,
    feed,
    meta,
    operations,
    people,
    phases,
    tasks,
    teams,
    templates,
    webhooks,
    workflows,
)
from workers.app import Submitter


def create_app(settings: Settings | None = None, submitter: Submitter | None = None) -> Flask:
    settings = settings or get_settings()
    configure_logging(settings)
    app = Flask(__name__)
    app.config["SETTINGS"] = settings
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.url_map.converters["id"] = IdConverter
    app.url_map.strict_slashes = False
    # ``/v1//tasks`` is no resource: a 404 in the JSON shape, not a redirect to a
    # guessed URL (werkzeug would merge the slashes and answer an HTML 308).
    app.url_map.merge_slashes = False
    app.extensions["submitter"] = submitter or Submitter(settings)
    app.extensions["outcomes"] = OutcomeWatcher(settings)
    register_error_handlers(app)
    observe.install(app)  # first: the request id is there for every hook's refusals

    @app.before_request
    def _head_within_limits() -> None:
        refuse_oversized_head(request.environ)

    @app.before_request
    def _no_encoded_slash_in_path() -> None:
        # The server decodes %2F into the path: /v1/tasks%2F1 would be /v1/tasks/1. An
        # id never holds a slash, so such a path names nothing; only a route ending in a
        # path (a label stored before names were declared: "a/b") may take one.
        raw = request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or ""
        rule = request.url_rule.rule if request.url_rule is not None else ""
        if "%2f" in raw.partition("?")[0].lower() and "<path:" not in rule:
            raise ApiError(404, "not_found", "no such resource (an encoded / in the path)")

    @app.before_request
    def _no_nul_in_url() -> None:
        # NUL cannot be stored in PostgreSQL text; refuse it before it reaches a query.
        if "\x00" in request.path:
            raise ApiError(400, "bad_request", "the URL contains a NUL character")
        for name, value in request.args.items(multi=True):
            if "\x00" in name + value:
                raise ApiError(
                    400,
                    "bad_request",
                    "the URL contains a NUL character",
                    [{"field": name, "code": "invalid_character", "message": "contains NUL"}],
                )

    @app.after_request
    def _options_without_a_body(response: Response) -> Response:
        # Flask answers OPTIONS itself with an empty text/html 200: say the same (Allow)
        # without a body that is not JSON.
        if request.method == "OPTIONS" and response.status_code == 200:
            response.status_code = 204
            response.set_data(b"")
            response.headers.pop("Content-Type", None)
        return response

    v1 = Blueprint("v1", __name__, url_prefix="/v1")

    @v1.before_request
    def _authenticate() -> None:
        authenticate_request()
        refuse_query_on_a_write()

    v1.after_request(refuse_unread_query)

    for module in (
        tasks,
        assignments,
        workflows,
        phases,
        people,
        feed,
        teams,
        calendars,
        account,
        escalation_policies,
        webhooks,
        operations,
        templates,
    ):
        v1.register_blueprint(module.bp)
    app.register_blueprint(meta.public)
    app.register_blueprint(v1)
    box.register(app)  # Box's own API under /2.0 (web.box)
    ops.register(app)  # the operator page, /ops (web.ops)
    openapi.register(app)  # its description: /v1/openapi.json, /v1/docs (web.openapi)
    return app

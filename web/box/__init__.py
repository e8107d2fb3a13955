"""Box's own API (003) under ``/2.0``: Box's paths, field names and shapes, so that
Box's SDKs work against this service with only the base URL changed. The bearer token
alone selects the account (``auth``); ids are strings; every error is in Box's shape
(``errors``). The answers come from the same durable commands as ``/v1``'s."""

from __future__ import annotations

from flask import Blueprint, Flask

from web.box import assignments, tasks
from web.box.auth import authenticate_box_request
from web.box.errors import PREFIX, as_box_error
from web.errors import reshape_errors_under
from web.http import refuse_query_on_a_write, refuse_unread_query


def register(app: Flask) -> None:
    """Serve ``/2.0`` on ``app``, its errors in Box's shape."""
    box = Blueprint("box", __name__, url_prefix=PREFIX)

    @box.before_request
    def _authenticate() -> None:
        authenticate_box_request()
        refuse_query_on_a_write()

    box.after_request(refuse_unread_query)
    box.register_blueprint(tasks.bp)
    box.register_blueprint(assignments.bp)
    app.register_blueprint(box)
    reshape_errors_under(app, PREFIX, as_box_error)

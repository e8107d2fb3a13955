"""The operator page (``/ops``): server-rendered HTML for an account's administrators,
signed in with their API token. It shows what needs an operator (queues, timer lag,
stale and failed operations, dead deliveries, disabled webhooks, upcoming escalations:
``tasks_service.ops.overview``) and makes the writes the CLI and REST API make for the
same changes (``views``). No build step and no external assets: inline CSS and SVG,
no script."""

from __future__ import annotations

from flask import Flask

from web.errors import reshape_errors_under
from web.ops import views
from web.ops.queues import DepthReader, depth_reader


def register(app: Flask, queue_depths: DepthReader | None = None) -> None:
    """Serve ``/ops`` on ``app``. ``queue_depths``: where the queues' lengths come from
    (by default the app's submitter). Registering twice changes nothing."""
    if views.bp.name in app.blueprints:
        return
    app.extensions["ops_queue_depths"] = queue_depths or depth_reader(app.extensions["submitter"])
    app.register_blueprint(views.bp)
    reshape_errors_under(app, views.bp.url_prefix or "/ops", views.as_page_error)

"""Fixtures of the REST tests that need the app on a real HTTP port: vendors' own
SDKs (Box's, Xurrent's) talk to it with only their base URL changed."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from werkzeug.serving import make_server

from tests.helpers import ProcessGroup


@pytest.fixture(scope="module")
def base_url(app: Flask, worker: ProcessGroup) -> Iterator[str]:
    """The app served over HTTP on a free port (a thread of this process)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)

"""gunicorn's configuration for the web role (``--config python:web.gunicorn_conf``,
given by ``tasks-service web``): its own lines written as ours (JSON, see
``core.logs``), and the metrics of a web process that ended let go of.

gunicorn reads the settings it knows by name from this module; the roles set
``PROMETHEUS_MULTIPROC_DIR`` before gunicorn starts (``core.metrics``).
"""

from __future__ import annotations

from typing import Any

from tasks_service.core import metrics
from tasks_service.core.logs import gunicorn_logging
from tasks_service.core.settings import Settings

# Settings read afresh, not ``get_settings()``: gunicorn loads this module before it
# applies its ``--env`` (TASKS_PUBLIC_URL), and the web processes it forks would keep
# the cached settings read without it.
logconfig_dict = gunicorn_logging(Settings())


def child_exit(_server: Any, worker: Any) -> None:
    metrics.mark_process_dead(worker.pid)

"""docker-compose.yml describes the production shape (no Docker engine here to run it)."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.helpers import ROOT

COMPOSE = ROOT / "docker-compose.yml"
LONG_RUNNING = {"postgres", "redis", "web", "worker", "beat"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_services_health_checks_and_restarts(compose: dict) -> None:
    services = compose["services"]
    assert set(services) == LONG_RUNNING | {"migrate"}
    for name in LONG_RUNNING:
        service = services[name]
        assert service["healthcheck"]["test"], name
        assert service["restart"] in {"always", "unless-stopped", "on-failure"}, name
    assert services["migrate"]["command"] == ["tasks-service", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"


def test_redis_is_append_only_and_roles_wait_for_migration(compose: dict) -> None:
    services = compose["services"]
    command = services["redis"]["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for role in ("web", "worker", "beat"):
        depends = services[role]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["redis"]["condition"] == "service_healthy"
        env = services[role]["environment"]
        assert env["TASKS_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["TASKS_BROKER_URL"].startswith("redis://")
    assert services["web"]["command"][:2] == ["tasks-service", "web"]
    assert services["worker"]["command"][:2] == ["tasks-service", "worker"]
    assert services["beat"]["command"][:2] == ["tasks-service", "beat"]


def test_compose_client_accepts_the_file() -> None:
    docker = shutil.which("docker")
    probe = docker and subprocess.run(
        [docker, "compose", "version"], capture_output=True, check=False
    )
    if not probe or probe.returncode != 0:
        pytest.skip("no docker compose client on this machine; the checks above stand in")
    subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], check=True)

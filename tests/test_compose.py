"""docker-compose.yml describes the production shape (no Docker engine here to run it)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
import yaml

from tests.helpers import ROOT

COMPOSE = ROOT / "docker-compose.yml"
LONG_RUNNING = {"postgres", "redis", "web", "worker", "beat", "proxy", "flower"}


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


def test_a_reverse_proxy_stands_in_front_of_web(compose: dict) -> None:
    """Only the proxy is published; it waits for a healthy web and buffers requests."""
    services = compose["services"]
    proxy = services["proxy"]
    assert proxy["image"].split(":")[0] == "nginx"  # the official image
    assert [p.split(":")[-1] for p in proxy["ports"]] == ["80"]
    assert proxy["depends_on"]["web"]["condition"] == "service_healthy"
    assert "ports" not in services["web"]
    assert services["web"]["expose"] == ["8000"]
    published = proxy["ports"][0].split(":")[0]
    env = services["web"]["environment"]
    assert env["TASKS_PUBLIC_URL"].endswith(f":{published}}}"), env["TASKS_PUBLIC_URL"]

    source, target = proxy["volumes"][0].split(":")[:2]
    assert target == "/etc/nginx/nginx.conf"
    config = (ROOT / source).read_text()
    directives = dict(re.findall(r"^\s*(\w+)\s+([^;{]+);", config, flags=re.MULTILINE))
    assert "server web:8000" in config
    assert directives["proxy_request_buffering"] == "on"
    assert directives["client_header_timeout"] == "10s"
    assert directives["client_body_timeout"] == "10s"
    assert directives["keepalive_timeout"] == "30s"
    # nginx's own refusals answer in the JSON error shape
    for status in ("400", "404", "408", "413", "414", "503"):
        assert f"/.errors/{status}.json" in config, status
    assert '"code": "payload_too_large"' in config


def test_flower_watches_the_broker_the_workers_send_events_to(compose: dict) -> None:
    """Flower reads the roles' Redis broker; the workers send it their task events."""
    services = compose["services"]
    flower = services["flower"]
    assert flower["image"].split(":")[0] == "mher/flower"  # Flower's own image
    broker = services["worker"]["environment"]["TASKS_BROKER_URL"]
    assert f"--broker={broker}" in flower["command"]
    assert flower["command"][flower["command"].index("flower") + 1 :] == ["--port=5555"]
    assert flower["depends_on"]["redis"]["condition"] == "service_healthy"
    assert [p.rsplit(":", 1)[0] for p in flower["ports"]] == ["127.0.0.1:5555"]
    for role in ("worker", "beat", "web"):
        assert services[role]["environment"]["TASKS_WORKER_EVENTS"] == "true", role


def test_compose_client_accepts_the_file() -> None:
    docker = shutil.which("docker")
    probe = docker and subprocess.run(
        [docker, "compose", "version"], capture_output=True, check=False
    )
    if not probe or probe.returncode != 0:
        pytest.skip("no docker compose client on this machine; the checks above stand in")
    subprocess.run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], check=True)

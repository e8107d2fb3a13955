"""Faults injected into real servers: a TCP proxy in front of PostgreSQL that cuts
connections (at a commit, or all of them), a private redis-server that is killed and
started again, and a real ``tasks-service web`` (gunicorn) serving a stack."""

from __future__ import annotations

import contextlib
import select
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
import requests
import sqlalchemy

from tasks_service.core.settings import Settings
from tests.helpers.processes import ProcessGroup, free_port, settings_env
from tests.helpers.waiting import wait_for


class PgProxy:
    """Forwards 127.0.0.1:``port`` to a PostgreSQL server, and can cut connections.

    ``cut_next_commit()``: the next ``COMMIT`` a client sends after an ``INSERT INTO
    operation`` reaches the server (which commits), then the connection is cut before
    the answer comes back: the client cannot know whether its commit went through.
    ``down()``: every connection is cut and new ones refused until ``up()``.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._lock = threading.Lock()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._cut_commit = False
        self._is_down = False
        self.commits_cut = 0
        threading.Thread(target=self._accept, daemon=True).start()

    @classmethod
    def in_front_of(cls, database_url: str) -> tuple[PgProxy, str]:
        """A proxy for the server of ``database_url``, and the URL through it."""
        url = sqlalchemy.make_url(database_url)
        proxy = cls(url.host or "127.0.0.1", url.port or 5432)
        through = url.set(host="127.0.0.1", port=proxy.port)
        return proxy, through.render_as_string(hide_password=False)

    def cut_next_commit(self) -> None:
        with self._lock:
            self._cut_commit = True

    def down(self) -> None:
        with self._lock:
            self._is_down = True
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            self._close(pair)

    def up(self) -> None:
        with self._lock:
            self._is_down = False

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                refused = self._is_down
            if refused:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._pairs.append((client, server))
            threading.Thread(target=self._pump, args=(client, server), daemon=True).start()

    def _pump(self, client: socket.socket, server: socket.socket) -> None:
        inserted = False
        try:
            while True:
                ready, _, _ = select.select([client, server], [], [], 1.0)
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    if sock is client:
                        inserted = inserted or b"INSERT INTO operation " in data
                        if b"COMMIT" in data:
                            if inserted and self._take_commit_cut():
                                server.sendall(data)  # the server commits...
                                time.sleep(0.3)
                                return  # ...and the client never hears so
                            inserted = False  # the next transaction starts afresh
                        server.sendall(data)
                    else:
                        client.sendall(data)
        except OSError:
            return
        finally:
            self._close((client, server))

    def _take_commit_cut(self) -> bool:
        with self._lock:
            if not self._cut_commit:
                return False
            self._cut_commit = False
            self.commits_cut += 1
            return True

    @staticmethod
    def _close(pair: tuple[socket.socket, socket.socket]) -> None:
        for sock in pair:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def close(self) -> None:
        self.down()
        self._listener.close()


class RedisServer:
    """A private ``redis-server`` on a free port (no persistence), killed and started
    again by the test."""

    def __init__(self, workdir: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, timeout=10, what="redis-server to answer")

    def _answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None


class WebServer:
    """A real ``tasks-service web`` (gunicorn) for ``settings``, with its base URL."""

    def __init__(self, settings: Settings, log_dir: Path, **env: str) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.group = ProcessGroup(settings_env(settings, **env), log_dir)

    def start(self) -> WebServer:
        self.group.start("web", "web", "--port", str(self.port))
        wait_for(self._healthy, timeout=60, interval=0.2, what=f"{self.base}/healthz")
        return self

    def _healthy(self) -> bool:
        if self.group.processes["web"].poll() is not None:
            raise AssertionError(f"web exited:\n{self.group.log('web')[-3000:]}")
        try:
            return requests.get(f"{self.base}/healthz", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def session(self, token: str, slug: str) -> requests.Session:
        http = requests.Session()
        http.headers.update({"Authorization": f"Bearer {token}", "X-Xurrent-Account": slug})
        return http

    def stop(self) -> None:
        self.group.stop_all()

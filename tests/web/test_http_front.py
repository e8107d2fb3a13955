"""The HTTP front, through the real server started as ``tasks-service web`` starts it:
slow and half-open clients hold no worker thread, a body over the limit is a 413
however it is framed, the HTTP layer's own refusals have the JSON error shape, ids are
canonical, links never follow the Host header, and instances keep their files apart."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tasks_service.core.settings import Settings
from tests.helpers import CLI, ROOT, AccountInfo, free_port, settings_env, wait_for
from tests.helpers.processes import ProcessGroup

LIMIT = 1024 * 1024  # settings.max_body_bytes


@dataclass
class Web:
    port: int
    process: subprocess.Popen[bytes]
    data_dir: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _answers(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def start_web(settings: Settings, data_dir: Path, home: Path) -> Web:
    """``tasks-service web`` on a free port, with a home directory of its own (so that
    a file it put there would be seen) and its log in the data dir."""
    port = free_port()
    env = settings_env(settings, HOME=str(home))
    env.pop("XDG_RUNTIME_DIR", None)
    env["TASKS_DATA_DIR"] = str(data_dir)
    env["TASKS_DATABASE_URL"] = settings.effective_database_url
    env["TASKS_BROKER_URL"] = settings.effective_broker_url
    with (data_dir / "web.log").open("ab") as log:
        process = subprocess.Popen(
            [*CLI, "web", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    web = Web(port, process, data_dir)
    wait_for(
        lambda: _answers(web.base) or process.poll() is not None, timeout=60, what="web to serve"
    )
    assert process.poll() is None, (data_dir / "web.log").read_text()
    return web


def stop_web(web: Web) -> None:
    web.process.terminate()
    try:
        web.process.wait(20)
    except subprocess.TimeoutExpired:
        web.process.kill()
        web.process.wait(10)


@pytest.fixture(scope="module")
def web(settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Web]:
    data_dir = tmp_path_factory.mktemp("front")
    server = start_web(settings, data_dir, data_dir)
    yield server
    stop_web(server)


@pytest.fixture
def session(web: Web, account: AccountInfo, worker: ProcessGroup) -> requests.Session:
    client = requests.Session()
    client.headers.update(
        {"Authorization": f"Bearer {account.token}", "X-Xurrent-Account": account.slug}
    )
    return client


def raw(port: int, data: bytes, timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    """Send ``data`` as it is and read one response (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        # refused before it was all sent: the answer is still there to read
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
        received = b""
        while True:
            head_end = received.find(b"\r\n\r\n")
            if head_end >= 0:
                lines = received[:head_end].decode("latin-1").split("\r\n")
                headers = dict(line.split(": ", 1) for line in lines[1:])
                length = int(headers.get("Content-Length", "0"))
                body = received[head_end + 4 :]
                if len(body) >= length:
                    return int(lines[0].split(" ")[1]), headers, body[:length]
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                chunk = b""
            if not chunk:
                raise AssertionError(f"connection closed after {received[:300]!r}")
            received += chunk


def assert_json_error(answer: tuple[int, dict[str, str], bytes], status: int, code: str) -> dict:
    got_status, headers, body = answer
    assert got_status == status, (got_status, body[:300])
    assert headers["Content-Type"].startswith("application/json"), headers
    error = json.loads(body)
    assert set(error) == {"message", "code", "errors"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str)
    assert error["message"]
    assert error["errors"] == [] or all(
        set(e) == {"field", "code", "message"} for e in error["errors"]
    )
    return error


def request_bytes(method: str, target: str, *headers: str, body: bytes = b"") -> bytes:
    head = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def total_tasks(session: requests.Session, web: Web) -> int:
    response = session.get(f"{web.base}/v1/tasks", params={"per_page": 1}, timeout=10)
    assert response.status_code == 200, response.text
    return int(response.headers["X-Pagination-Total-Entries"])


# Slow clients ---------------------------------------------------------------------------


def test_half_open_and_idle_connections_hold_no_thread(web: Web, session: requests.Session) -> None:
    def create() -> requests.Response:
        return session.post(
            f"{web.base}/v1/tasks",
            json={"subject": "Past the slow clients", "category": "implementation"},
            timeout=10,
        )

    for _ in range(3):  # first requests warm every process (imports, pools)
        assert create().status_code == 201
    half_open, idle = [], []
    try:
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", web.port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")  # never ends
            half_open.append(sock)
        for _ in range(200):
            sock = socket.create_connection(("127.0.0.1", web.port), timeout=10)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
            idle.append(sock)  # kept alive, sending nothing more
        time.sleep(0.5)  # every connection is accepted and waiting

        started = time.monotonic()
        health = requests.get(f"{web.base}/healthz", timeout=5)
        assert health.status_code == 200
        assert time.monotonic() - started < 1.0

        started = time.monotonic()
        created = create()
        assert created.status_code == 201, created.text
        assert time.monotonic() - started < 1.0
    finally:
        for sock in half_open + idle:
            sock.close()


# Bodies over the limit ------------------------------------------------------------------


def _task_body(size: int) -> bytes:
    """A valid task body followed by garbage, ``size`` bytes in all: a server that cut
    it at the limit would find a whole JSON document in the first part."""
    valid = json.dumps({"subject": "Cut short", "category": "implementation"}).encode()
    return valid + b" " * (LIMIT - len(valid)) + b"x" * (size - LIMIT)


def _chunked(body: bytes, chunk: int = 64 * 1024) -> bytes:
    out = b""
    for i in range(0, len(body), chunk):
        part = body[i : i + chunk]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


@pytest.mark.parametrize("size", [LIMIT + 1, 5 * LIMIT])
@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_body_over_the_limit_is_413_however_framed(
    web: Web, session: requests.Session, account: AccountInfo, framing: str, size: int
) -> None:
    before = total_tasks(session, web)
    auth = (
        f"Authorization: Bearer {account.token}",
        f"X-Xurrent-Account: {account.slug}",
        "Content-Type: application/json",
    )
    body = _task_body(size)
    if framing == "chunked":
        data = request_bytes(
            "POST", "/v1/tasks", *auth, "Transfer-Encoding: chunked", body=_chunked(body)
        )
    else:
        data = request_bytes("POST", "/v1/tasks", *auth, f"Content-Length: {size}", body=body)
    error = assert_json_error(raw(web.port, data), 413, "payload_too_large")
    assert "1 MiB" in error["message"]
    assert total_tasks(session, web) == before


def test_a_body_at_the_limit_is_taken(
    web: Web, session: requests.Session, account: AccountInfo
) -> None:
    body = _task_body(LIMIT)[:LIMIT].rstrip(b"x")
    body += b" " * (LIMIT - len(body))
    response = session.post(
        f"{web.base}/v1/tasks",
        data=iter([body[: LIMIT // 2], body[LIMIT // 2 :]]),  # chunked
        headers={"Content-Type": "application/json"},
        timeout=20,
    )
    assert response.status_code == 201, response.text


# One error shape ------------------------------------------------------------------------

HTTP_LAYER_REFUSALS = {
    "headers over 8 KiB": (
        request_bytes("GET", "/healthz", "X-Big: " + "a" * 9000),
        431,
        "headers_too_large",
    ),
    "a head over 16 KiB": (
        request_bytes("GET", "/healthz", "X-Big: " + "a" * 20000),
        431,
        "headers_too_large",
    ),
    "a URL over 4 KiB": (request_bytes("GET", "/healthz?q=" + "a" * 5000), 414, "uri_too_long"),
    "a bare CR in a header": (
        b"GET /healthz HTTP/1.1\r\nHost: x\rX-A: 1\r\n\r\n",
        400,
        "bad_request",
    ),
    "a bare CR in the request line": (
        b"GET /healthz\r HTTP/1.1\r\nHost: x\r\n\r\n",
        400,
        "bad_request",
    ),
    "a folded header": (request_bytes("GET", "/healthz", "X-A: 1\r\n  2"), 400, "bad_request"),
    "duplicate Content-Length": (
        request_bytes("POST", "/healthz", "Content-Length: 2", "Content-Length: 2", body=b"{}"),
        400,
        "bad_request",
    ),
    "negative Content-Length": (
        request_bytes("POST", "/healthz", "Content-Length: -1"),
        400,
        "bad_request",
    ),
    "a malformed chunk": (
        request_bytes("POST", "/v1/tasks", "Transfer-Encoding: chunked", body=b"zz\r\n"),
        400,
        "bad_request",
    ),
    "a request line that is no request": (b"hello\r\n\r\n", 400, "bad_request"),
    "an empty path segment": (request_bytes("GET", "/v1//tasks"), 404, "not_found"),
    "an encoded slash in the path": (request_bytes("GET", "/v1/tasks%2F1"), 404, "not_found"),
    "both Content-Length and Transfer-Encoding": (
        request_bytes(
            "POST",
            "/v1/teams",
            "Content-Length: 5",
            "Transfer-Encoding: chunked",
            body=b'f\r\n{"name":"smug"}\r\n0\r\n\r\n',
        ),
        400,
        "bad_request",
    ),
}


@pytest.mark.parametrize("case", list(HTTP_LAYER_REFUSALS))
def test_the_http_layer_refuses_in_the_json_shape(web: Web, case: str) -> None:
    data, status, code = HTTP_LAYER_REFUSALS[case]
    assert_json_error(raw(web.port, data), status, code)


# Ids ------------------------------------------------------------------------------------

ARABIC_INDIC = str.maketrans(
    "0123456789", "\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669"
)
# Forms of an existing id ({id}) that are not its canonical decimal form, and ids out
# of the id columns' range.
NOT_IDS = ["0{id}", "+{id}", "{id}.0", "{arabic}", "0", "-1", str(2**31), str(2**63)]


@pytest.mark.parametrize("template", NOT_IDS)
def test_an_id_not_in_canonical_form_is_404_on_every_method(
    web: Web, session: requests.Session, template: str
) -> None:
    created = session.post(
        f"{web.base}/v1/tasks", json={"subject": "One", "category": "implementation"}, timeout=10
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    me = session.get(f"{web.base}/v1/people/me", timeout=10).json()["id"]
    for method, path, real in [
        ("GET", "/v1/tasks/{}", task_id),
        ("PATCH", "/v1/tasks/{}", task_id),
        ("PUT", "/v1/tasks/{}", task_id),
        ("POST", "/v1/tasks/{}/notes", task_id),
        ("GET", "/v1/tasks/{}/events", task_id),
        ("DELETE", "/v1/tasks/{}/labels/x", task_id),
        ("GET", "/v1/people/{}", me),
        ("PATCH", "/v1/people/{}", me),
        ("GET", "/v1/people/{}/teams", me),
        ("POST", "/v1/webhooks/{}/deliveries/1/retry", task_id),
        ("GET", "/v1/operations/{}", task_id),
    ]:
        not_id = template.format(id=real, arabic=str(real).translate(ARABIC_INDIC))
        url = f"{web.base}{path.format(quote(not_id))}"
        response = session.request(method, url, json={"text": "x"}, timeout=10)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert response.json()["code"] == "not_found"
    assert session.get(f"{web.base}/v1/tasks/{task_id}", timeout=10).status_code == 200


# Links and the Host header --------------------------------------------------------------


def test_links_do_not_follow_the_host_header(web: Web, session: requests.Session) -> None:
    for _ in range(2):
        session.post(
            f"{web.base}/v1/tasks",
            json={"subject": "Paged", "category": "implementation"},
            timeout=10,
        )
    response = session.get(
        f"{web.base}/v1/tasks", params={"per_page": 1}, headers={"Host": "evil.example"}, timeout=10
    )
    assert response.status_code == 200, response.text
    link = response.headers["Link"]
    assert "evil.example" not in link
    targets = [part.split(">")[0].lstrip("<") for part in link.split(", ")]
    assert targets
    assert all(t.startswith(f"{web.base}/v1/tasks?") for t in targets), link


# Instances side by side -----------------------------------------------------------------


def test_two_instances_keep_their_files_in_their_data_dirs(
    settings: Settings, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    dirs = [tmp_path / "one", tmp_path / "two"]
    servers = []
    try:
        for data_dir in dirs:
            data_dir.mkdir()
            servers.append(start_web(settings, data_dir, home))
        for server in servers:
            assert _answers(server.base)
            assert (server.data_dir / "gunicorn.ctl").is_socket()
        assert list(home.iterdir()) == []  # no ~/.gunicorn/gunicorn.ctl shared by both
    finally:
        for server in servers:
            stop_web(server)

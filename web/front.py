"""The HTTP front: gunicorn's arbiter forks and watches the web processes, and in each
process waitress reads the requests.

Why waitress inside each gunicorn worker: waitress reads every connection on one event
loop and hands a request to a worker thread only once its head and its whole body are
in (bodies over the limit are refused as they arrive, however they are framed), and it
closes connections that stay incomplete or idle. A slow or half-open client therefore
holds a file descriptor, never a thread. gunicorn keeps what it does well: several
processes on one port, restarts, graceful stops.

Errors the HTTP layer produces itself (a malformed head, headers too large, a body too
large) are answered in the service's one JSON error shape, like the application's own.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

from gunicorn.workers.base import Worker
from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher

from tasks_service.core.settings import get_settings

# A request head (request line and headers) larger than this is refused by the front
# (431) without being parsed; below it the application enforces its finer limits
# (web.http.refuse_oversized_head: URL 4 KiB -> 414, headers 8 KiB -> 431).
MAX_HEAD_BYTES = 16 * 1024
# The front stops reading a body (413) at this many times settings.max_body_bytes.
BODY_CAP_FACTOR = 2
# A connection with no complete request for this long (half-open, idle keep-alive) is
# closed: it holds only a descriptor meanwhile, this bounds how many pile up.
IDLE_TIMEOUT = 30
# Connections one process keeps open at once (each costs a descriptor, no thread).
CONNECTION_LIMIT = 2_000

_CODES = {
    400: ("bad_request", "the request is malformed: {detail}"),
    413: ("payload_too_large", "the request body is larger than the limit of {limit}"),
    431: ("headers_too_large", "the request headers are larger than the limit of {limit}"),
    501: ("not_implemented", "{detail}"),
}


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n % (1024 * 1024) == 0 else f"{n // 1024} KiB"


class JsonErrorTask(ErrorTask):
    """waitress's own refusals, in the service's JSON error shape."""

    def execute(self) -> None:
        error = self.request.error
        code, template = _CODES.get(error.code, ("bad_request", "{detail}"))
        adj = self.channel.adj
        limit = get_settings().max_body_bytes if error.code == 413 else adj.max_request_header_size
        message = template.format(detail=str(error.body).rstrip("."), limit=_size(limit))
        body = json.dumps({"message": message, "code": code, "errors": []}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


_OBS_FOLD = re.compile(rb"\r\n[ \t]")
_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:", re.IGNORECASE | re.MULTILINE)
_TRANSFER_ENCODING = re.compile(rb"^transfer-encoding[ \t]*:", re.IGNORECASE | re.MULTILINE)


class StrictRequestParser(HTTPRequestParser):
    """waitress's parser, refusing obsolete line folding (a header continued on the
    next line) as RFC 9112 allows, rather than joining the lines: a proxy in front
    that reads the head differently could otherwise be smuggled a request past."""

    def parse_header(self, header_plus: bytes) -> None:
        if _OBS_FOLD.search(header_plus):
            raise ParsingError("a header is folded over several lines (obs-fold)")
        # Both framings at once: RFC 9112 lets a server go by Transfer-Encoding, but a
        # proxy going by Content-Length would see another request boundary (smuggling).
        if _CONTENT_LENGTH.search(header_plus) and _TRANSFER_ENCODING.search(header_plus):
            raise ParsingError("a request has both Content-Length and Transfer-Encoding")
        super().parse_header(header_plus)


class JsonErrorChannel(HTTPChannel):
    parser_class = StrictRequestParser
    error_task_class = JsonErrorTask


class FrontServer(TcpWSGIServer):
    channel_class = JsonErrorChannel


def adjustments(threads: int, max_body_bytes: int) -> Adjustments:
    return Adjustments(
        threads=threads,
        # waitress counts a chunked body as it comes over the wire, chunk framing
        # included, and refuses it as soon as the count reaches this: twice the limit
        # leaves room for the framing; the application refuses (413) any body whose
        # content is over the limit itself (waitress passes its length on).
        max_request_body_size=BODY_CAP_FACTOR * max_body_bytes,
        max_request_header_size=MAX_HEAD_BYTES,
        channel_timeout=IDLE_TIMEOUT,
        cleanup_interval=5,
        connection_limit=CONNECTION_LIMIT,
        asyncore_use_poll=True,  # select() cannot watch descriptors past 1023
        ident="tasks-service",
        expose_tracebacks=False,
    )


class WaitressWorker(Worker):
    """A gunicorn worker process that serves its share of the listening sockets with
    waitress (``--worker-class web.front.WaitressWorker``)."""

    def run(self) -> None:
        adj = adjustments(max(1, self.cfg.threads), get_settings().max_body_bytes)
        socket_map: dict[int, Any] = {}
        dispatcher = ThreadedTaskDispatcher()
        dispatcher.set_thread_count(adj.threads)
        servers = []
        for listener in self.sockets:
            sock = listener.sock
            servers.append(
                FrontServer(
                    self.wsgi,
                    socket_map,
                    _sock=sock,
                    dispatcher=dispatcher,
                    adj=adj,
                    bind_socket=False,
                    sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()),
                )
            )
        while self.alive and os.getppid() == self.ppid:
            self.notify()
            wasyncore.loop(timeout=1.0, map=socket_map, use_poll=True, count=1)
        self._stop(servers, socket_map, dispatcher)

    def _stop(
        self,
        servers: list[FrontServer],
        socket_map: dict[int, Any],
        dispatcher: ThreadedTaskDispatcher,
    ) -> None:
        """Stop accepting, let the requests already taken finish (within the graceful
        timeout), then close everything."""
        for server in servers:
            server.accepting = False
            server.del_channel()  # the listening socket stays open for the others
        deadline = time.monotonic() + self.cfg.graceful_timeout
        while time.monotonic() < deadline and any(
            channel.requests or channel.total_outbufs_len
            for server in servers
            for channel in list(server.active_channels.values())
        ):
            self.notify()
            wasyncore.loop(timeout=0.2, map=socket_map, use_poll=True, count=1)
        dispatcher.shutdown(timeout=max(0.1, deadline - time.monotonic()))
        wasyncore.close_all(socket_map)

"""The guard on where webhooks may go: no loopback, private, link-local, multicast or
reserved addresses (an API user must not reach the service's own network through a
webhook), unless the settings allow private addresses (local setups, tests)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


class UnsafeAddress(Exception):
    """The URI resolves to an address outbound webhooks must not reach."""


def check_address(uri: str, allow_private: bool) -> None:
    """Refuse an address webhooks must not reach, checking every address the name
    resolves to. Raises: UnsafeAddress."""
    parts = urlsplit(uri)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeAddress("the URI must be http(s)://host/...")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise UnsafeAddress(f"{parts.hostname} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if (
            address.is_private
            or address.is_loopback
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        ):
            raise UnsafeAddress(f"{parts.hostname} resolves to {address}, which is not public")

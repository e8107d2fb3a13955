"""The guard on where webhooks may go: only to globally reachable addresses (an API user
must not reach the service's own network through a webhook), unless the settings allow
private addresses (local setups, tests).

What is not public is written out here from IANA's special-purpose address registries
(iana-ipv4-special-registry and iana-ipv6-special-registry, as of 2025), rather than
taken from ``ipaddress``'s ``is_global``: on Python 3.11 that calls 64:ff9b:1::/48,
3fff::/20 (documentation), fec0::/10 (site-local), ff00::/8 (multicast) and 5f00::/16
global, judges 6to4 and IPv4-mapped addresses without looking at the IPv4 address they
carry, and refuses the globally reachable anycast services inside 2001::/23. A table
here says the same on every Python version.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError

from tasks_service.core.validation import HttpUri

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_HTTP_URI: TypeAdapter[str] = TypeAdapter(HttpUri)

#: IPv4 blocks that are not globally reachable ("Globally Reachable: False" in the
#: registry), plus multicast (its own registry; never a webhook receiver) and the
#: deprecated 6to4 relay anycast (RFC 7526: it relays to any IPv6 host).
_V4_NOT_PUBLIC = tuple(
    ipaddress.IPv4Network(block)
    for block in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",  # private
        "100.64.0.0/10",  # shared address space (carrier-grade NAT)
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (cloud metadata services)
        "172.16.0.0/12",  # private
        "192.0.0.0/24",  # IETF protocol assignments (192.0.0.9, .10 excepted below)
        "192.0.2.0/24",  # documentation (TEST-NET-1)
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",  # private
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # documentation (TEST-NET-2)
        "203.0.113.0/24",  # documentation (TEST-NET-3)
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and 255.255.255.255 (limited broadcast)
    )
)
#: Globally reachable entries inside the blocks above: PCP and TURN anycast.
_V4_PUBLIC_INSIDE = tuple(ipaddress.IPv4Network(b) for b in ("192.0.0.9/32", "192.0.0.10/32"))

#: Where public IPv6 unicast lives (RFC 4291 section 2.4, IANA's IPv6 address space):
#: everything outside it is loopback, unspecified, IPv4-compatible, discard (100::/64),
#: SRv6 (5f00::/16), unique-local, link-local, site-local or multicast, or unassigned.
_V6_UNICAST = ipaddress.IPv6Network("2000::/3")
#: Blocks inside 2000::/3 that are not globally reachable.
_V6_NOT_PUBLIC = tuple(
    ipaddress.IPv6Network(block)
    for block in (
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) and benchmarking
        # (2001:2::/48) among them; a Teredo address tunnels to an IPv4 host
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
    )
)
#: Globally reachable entries inside 2001::/23.
_V6_PUBLIC_INSIDE = tuple(
    ipaddress.IPv6Network(block)
    for block in (
        "2001:1::1/128",  # PCP anycast
        "2001:1::2/128",  # TURN anycast
        "2001:1::3/128",  # DNS-SD service registration protocol anycast
        "2001:3::/32",  # AMT
        "2001:4:112::/48",  # AS112-v6
        "2001:20::/28",  # ORCHIDv2
        "2001:30::/28",  # drone remote ID protocol entity tags
    )
)
#: IPv4/IPv6 translation, well-known prefix (RFC 6052): reaches the IPv4 address in its
#: last 32 bits. (The local-use 64:ff9b:1::/48 is outside 2000::/3: refused.)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class UnsafeAddress(Exception):
    """The URI resolves to an address outbound webhooks must not reach."""


class UnresolvedHost(UnsafeAddress):
    """The URI's host name does not resolve (now): nothing can be sent to it."""


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address reaches in the end: IPv4-mapped (::ffff:a.b.c.d),
    6to4 (2002::/16) and NAT64 (64:ff9b::/96) forms."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def is_public(address: IPAddress) -> bool:
    """Whether ``address`` is globally reachable by IANA's special-purpose registries
    (an IPv6 form carrying an IPv4 address is judged by that IPv4 address)."""
    if isinstance(address, ipaddress.IPv4Address):
        if any(address in block for block in _V4_PUBLIC_INSIDE):
            return True
        return not any(address in block for block in _V4_NOT_PUBLIC)
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return is_public(embedded)
    if address not in _V6_UNICAST:
        return False
    if any(address in block for block in _V6_PUBLIC_INSIDE):
        return True
    return not any(address in block for block in _V6_NOT_PUBLIC)


def check_address(uri: str, allow_private: bool) -> None:
    """Refuse an address webhooks must not reach, checking every address the name
    resolves to. Raises: UnsafeAddress."""
    try:  # the input model's rule again: a row stored before it (port 0, a CR/LF) too
        _HTTP_URI.validate_python(uri)
    except ValidationError as exc:
        reason = exc.errors(include_url=False)[0]["msg"]
        raise UnsafeAddress(f"not a valid webhook URI: {reason}") from None
    parts = urlsplit(uri)
    if allow_private:
        return
    try:
        host = parts.hostname or ""
        infos = socket.getaddrinfo(host, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError, ValueError) as exc:
        raise UnresolvedHost(f"{parts.hostname} does not resolve: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).partition("%")[0])
        if not is_public(address):
            raise UnsafeAddress(f"{parts.hostname} resolves to {address}, which is not public")

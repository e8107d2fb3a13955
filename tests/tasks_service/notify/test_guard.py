"""The guard on where webhooks may go, in-process: every address a URI resolves to is
checked, private ranges refused unless allowed; a webhook naming one is a 422 on
``uri``."""

from __future__ import annotations

import ipaddress

import pytest

from tasks_service.core.errors import TaskValidationError
from tasks_service.core.validation import validate
from tasks_service.notify import webhooks
from tasks_service.notify.transport.guard import (
    UnresolvedHost,
    UnsafeAddress,
    check_address,
    is_public,
)
from tasks_service.store.db import session_scope
from tasks_service.store.schemas.messages import WebhookCreate


def _create_webhook(session, settings, uri: str) -> None:
    """As the REST route does: the input model first (it refuses ftp://), then the guard."""
    data = validate(WebhookCreate, {"uri": uri, "events": ["task.alert"]})
    webhooks.do_create_webhook(session, settings, 1, data)


@pytest.mark.parametrize(
    "uri",
    [
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://192.168.0.10/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://224.0.0.1/x",
        "http://0.0.0.0/x",
        "ftp://example.com/x",
    ],
)
def test_unsafe_addresses_are_refused(uri: str, settings) -> None:
    with pytest.raises(UnsafeAddress):
        check_address(uri, allow_private=False)
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with session_scope(settings) as session, pytest.raises(TaskValidationError) as info:
        _create_webhook(session, strict, uri)
    assert info.value.errors[0]["field"] == "uri"
    check_address("http://93.184.216.34/hooks", allow_private=False)  # public: fine


# IANA's special-purpose registries, entry by entry (issue 14: 100.64.0.0/10 was taken
# as public), and the IPv6 forms that carry an IPv4 address, judged by that address.
NOT_PUBLIC = [
    "0.1.2.3",  # this network
    "100.64.0.1",  # shared address space (carrier-grade NAT)
    "100.127.255.254",
    "127.0.0.2",
    "172.16.0.1",
    "192.0.0.1",  # IETF protocol assignments
    "192.0.0.170",  # NAT64/DNS64 discovery
    "192.0.2.1",  # documentation
    "192.88.99.1",  # deprecated 6to4 relay anycast
    "198.18.0.1",  # benchmarking
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "239.255.255.250",  # multicast
    "240.0.0.1",  # reserved
    "255.255.255.255",
    "::",
    "::1",
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:10.0.0.1",
    "::ffff:100.64.0.1",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b:1::1",  # local-use IPv4/IPv6 translation
    "100::1",  # discard-only
    "2001::1",  # Teredo
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "2001:2::1",  # benchmarking
    "2001:10::1",  # deprecated ORCHID
    "2001:db8::1",  # documentation
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "3fff::1",  # documentation
    "5f00::1",  # SRv6 SIDs
    "fc00::1",  # unique local
    "fd12:3456::1",
    "fe80::1",  # link-local
    "fec0::1",  # deprecated site-local
    "ff02::1",  # multicast
    "ff0e::1",
]
PUBLIC = [
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",  # just below 100.64.0.0/10
    "100.128.0.0",  # just above
    "192.0.0.9",  # PCP anycast: globally reachable
    "192.0.0.10",  # TURN anycast
    "192.31.196.1",  # AS112-v4
    "192.52.193.1",  # AMT
    "192.175.48.1",  # direct delegation AS112
    "198.17.255.255",
    "198.20.0.0",
    "2606:4700:4700::1111",
    "2001:1::1",  # PCP anycast
    "2001:3::1",  # AMT
    "2001:4:112::1",  # AS112-v6
    "2001:20::1",  # ORCHIDv2
    "2620:4f:8000::1",  # direct delegation AS112
    "::ffff:8.8.8.8",  # IPv4-mapped public
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_every_special_purpose_range_is_refused(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))
    literal = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeAddress):
        check_address(f"http://{literal}/x", allow_private=False)
    check_address(f"http://{literal}/x", allow_private=True)  # local setups and tests


@pytest.mark.parametrize("address", PUBLIC)
def test_globally_reachable_addresses_are_allowed(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_a_carrier_grade_nat_webhook_is_a_422(settings) -> None:
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with session_scope(settings) as session, pytest.raises(TaskValidationError) as info:
        webhooks.do_create_webhook(
            session, strict, 1, WebhookCreate(uri="http://100.64.0.1/x", events=["task.alert"])
        )
    assert info.value.errors == [
        {
            "field": "uri",
            "code": "unsafe_address",
            "message": "100.64.0.1 resolves to 100.64.0.1, which is not public",
        }
    ]


@pytest.mark.parametrize(
    "uri", ["http://127.0.0.1:0/x", "http://127.0.0.1/x\r\nX-Injected: 1", "http://u:p@127.0.0.1/"]
)
def test_a_uri_stored_before_the_rule_is_refused_at_send(uri: str) -> None:
    """Rows stored before URIs were validated (port 0, CR/LF were taken as given) are
    refused when sent, even where private addresses are allowed."""
    with pytest.raises(UnsafeAddress, match="not a valid webhook URI"):
        check_address(uri, allow_private=True)


def test_a_host_that_does_not_resolve_is_taken_and_refused_at_send(settings, account) -> None:
    """A receiver's DNS often comes after its webhook: the name is taken at create, and
    each send checks it again (``.invalid`` never resolves, RFC 2606)."""
    strict = settings.model_copy(update={"webhook_allow_private": False})
    with session_scope(settings) as session:
        hook = webhooks.do_create_webhook(
            session,
            strict,
            account.account_id,
            WebhookCreate(uri="https://hooks.invalid/tasks", events=["task.alert"]),
        )
        assert hook.uri == "https://hooks.invalid/tasks"
    with pytest.raises(UnresolvedHost, match=r"hooks\.invalid does not resolve"):
        check_address("https://hooks.invalid/tasks", allow_private=False)

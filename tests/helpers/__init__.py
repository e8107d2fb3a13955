"""What the tests share: the REST API as a caller, stacks and accounts, real role
processes, local receivers (HTTP, SMTP), an in-process world with a controlled clock,
a calendar oracle. Test modules import from here, never from one another."""

from tests.helpers.api import Api, assert_error, error_fields, links
from tests.helpers.processes import (
    CLI,
    ROOT,
    ProcessGroup,
    free_port,
    http_ready,
    settings_env,
    start_beats,
    with_own_broker,
)
from tests.helpers.receivers import Receiver
from tests.helpers.smtp import SmtpSink
from tests.helpers.stacks import (
    BASE,
    REQUIRE_SERVICES,
    AccountInfo,
    make_account,
    postgres_database,
    redis_url,
)
from tests.helpers.waiting import wait_for
from tests.helpers.world import MONDAY_10, World, office, utc

__all__ = [
    "BASE",
    "CLI",
    "MONDAY_10",
    "REQUIRE_SERVICES",
    "ROOT",
    "AccountInfo",
    "Api",
    "ProcessGroup",
    "Receiver",
    "SmtpSink",
    "World",
    "assert_error",
    "error_fields",
    "free_port",
    "http_ready",
    "links",
    "make_account",
    "office",
    "postgres_database",
    "redis_url",
    "settings_env",
    "start_beats",
    "utc",
    "wait_for",
    "with_own_broker",
]

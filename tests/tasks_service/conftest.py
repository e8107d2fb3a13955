"""Fixtures of the domain's own tests: an account's world in-process."""

from __future__ import annotations

import pytest

from tasks_service import tasks
from tests.helpers import AccountInfo, World


@pytest.fixture
def world(settings, account: AccountInfo) -> World:
    """The test's account as an in-process world, with the clock controlled."""
    return World(settings, account)


@pytest.fixture
def in_account(settings, account: AccountInfo):
    """The Python API working in the test's account (``tasks.account``)."""
    with tasks.account(account.slug, settings=settings) as ctx:
        yield ctx

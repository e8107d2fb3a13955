"""Fixtures of the domain's own tests: an account's world in-process."""

from __future__ import annotations

import pytest

from tests.helpers import AccountInfo, World


@pytest.fixture
def world(settings, account: AccountInfo) -> World:
    """The test's account as an in-process world, with the clock controlled."""
    return World(settings, account)

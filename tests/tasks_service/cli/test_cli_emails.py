"""``tasks-service token create --email`` finds the person whatever the letters of the
email (issue 14: emails are compared without regard to case)."""

from __future__ import annotations

import subprocess

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import authenticate
from tasks_service.store.db import session_scope
from tests.helpers import CLI, ROOT, AccountInfo, Api, settings_env


def test_a_token_for_an_email_in_other_letters(
    settings: Settings, account: AccountInfo, client
) -> None:
    api = Api(client, account.token, account.slug)
    person = api.create_person("Pat", "p2@demo.example")
    created = subprocess.run(
        [*CLI, "token", "create", account.slug, "--email", "P2@Demo.EXAMPLE"],
        env=settings_env(settings),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    with session_scope(settings, write=False) as session:
        actor = authenticate(session, token, account.slug)
    assert actor is not None
    assert actor.person_id == person["id"]

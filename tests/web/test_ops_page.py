"""The operator page (``/ops``) through Flask's test client, on both backends: signing
in with an admin's token (and nothing else), every section with real rows, its writes
(replay = ``timers retry-dead``, enable = the PATCH's change), CSRF refusals and
account scoping. In a real browser: ``test_ops_browser.py``."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.test import TestResponse

from tasks_service.commands.operations import do_record_operation
from tasks_service.core.settings import Settings
from tasks_service.core.statuses import TimerKind, TimerState
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tasks_service.store.models import Delivery, Operation, Timer, Webhook
from tests.helpers import AccountInfo, Api, make_account, wait_for
from tests.helpers.deliveries import dead_deliveries


@pytest.fixture(scope="module")
def app(settings: Settings) -> Iterator[Flask]:
    """The app with the operator page (``web.ops.register``: a no-op once ``create_app``
    registers it itself)."""
    from web import ops
    from web.app import create_app

    flask_app = create_app(settings)
    ops.register(flask_app)
    flask_app.testing = True
    yield flask_app
    flask_app.extensions["outcomes"].stop()


class Operator:
    """A browser's view of ``/ops`` through the test client (cookies kept)."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def sign_in(self, token: str) -> TestResponse:
        form = self.client.get("/ops/sign-in")
        assert form.status_code == 200
        return self.client.post("/ops/sign-in", data={"token": token, "csrf": _csrf(form.text)})

    def page(self, query: str = "") -> str:
        response = self.client.get(f"/ops{query}")
        assert response.status_code == 200, (response.status_code, response.text[:500])
        return response.text

    def press(self, path: str, csrf: str | None = None) -> TestResponse:
        token = _csrf(self.page()) if csrf is None else csrf
        return self.client.post(path, data={"csrf": token})


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _section(html: str, name: str) -> str:
    found = re.search(rf'<section id="{name}"[^>]*>(.*?)</section>', html, re.S)
    assert found, f"no section {name}"
    return found.group(1)


def _ids(html: str, attribute: str) -> list[int]:
    return [int(i) for i in re.findall(rf'data-{attribute}="(\d+)"', html)]


@pytest.fixture
def operator(client: FlaskClient, account: AccountInfo) -> Operator:
    signed_in = Operator(client)
    assert signed_in.sign_in(account.token).status_code == 303
    return signed_in


def _webhook(api: Api, uri: str = "http://127.0.0.1:9/hooks", **fields: Any) -> int:
    created = api.post("/v1/webhooks", json={"uri": uri, "events": ["task.alert"], **fields})
    assert created.status_code == 201, created.get_json()
    return int(created.get_json()["id"])


def _states(settings: Settings, delivery_ids: list[int]) -> list[str]:
    with session_scope(settings, write=False) as session:
        return [str(session.get(Delivery, i).state) for i in delivery_ids]  # type: ignore[union-attr]


# --- signing in -------------------------------------------------------------------------


def test_signing_in_takes_an_admins_token_and_nothing_else(
    client: FlaskClient, api: Api, settings: Settings, account: AccountInfo
) -> None:
    page = Operator(client)
    assert client.get("/ops").headers["Location"] == "/ops/sign-in"
    form = client.get("/ops/sign-in")
    assert 'type="password"' in form.text
    assert "SameSite=Strict" in form.headers["Set-Cookie"]
    # a form posted without its CSRF token (from another site) is refused
    forged = client.post("/ops/sign-in", data={"token": account.token, "csrf": "x" * 22})
    assert forged.status_code == 403
    assert "ops_session" not in forged.headers.get("Set-Cookie", "")
    # a blank, an unknown and a non-admin's token
    assert page.sign_in("  ").status_code == 400
    unknown = page.sign_in("tsk_not-a-token")
    assert (unknown.status_code, "unknown token" in unknown.text) == (401, True)
    pat = api.create_person("Pat", f"pat-{uuid.uuid4().hex[:6]}@example.com")
    with session_scope(settings) as session:
        pat_token = do_create_token(session, account.account_id, pat["id"])
    not_admin = page.sign_in(pat_token)
    assert (not_admin.status_code, "only administrators" in not_admin.text) == (403, True)
    assert client.get("/ops").status_code == 303  # still signed out
    # the admin's token: a session cookie only the page sees, not scripts
    signed_in = page.sign_in(account.token)
    assert (signed_in.status_code, signed_in.headers["Location"]) == (303, "/ops")
    cookie = next(c for c in signed_in.headers.getlist("Set-Cookie") if "ops_session=" in c)
    assert all(flag in cookie for flag in ("HttpOnly", "SameSite=Strict", "Path=/ops"))
    html = page.page()
    assert account.slug in html
    response = client.get("/ops")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "<script" not in html  # and no external asset at all
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert client.get("/ops/sign-in").headers["Location"] == "/ops"
    # signing out needs the form's CSRF token too
    assert client.post("/ops/sign-out", data={"csrf": "forged"}).status_code == 403
    assert page.press("/ops/sign-out").status_code == 303
    assert client.get("/ops").status_code == 303


def test_a_session_ends_when_its_admin_is_no_longer_one(
    client: FlaskClient, api: Api, settings: Settings, account: AccountInfo
) -> None:
    """The token is authenticated again on every request: no session outlives it."""
    ops_admin = api.create_person("Olga", f"olga-{uuid.uuid4().hex[:6]}@example.com", admin=True)
    with session_scope(settings) as session:
        token = do_create_token(session, account.account_id, ops_admin["id"])
    page = Operator(client)
    assert page.sign_in(token).status_code == 303
    page.page()
    demoted = api.patch(f"/v1/people/{ops_admin['id']}", json={"admin": False})
    assert demoted.status_code == 200, demoted.get_json()
    assert client.get("/ops").headers["Location"] == "/ops/sign-in"
    refused = client.post(f"/ops/webhooks/{_webhook(api)}/replay", data={"csrf": "x"})
    assert refused.status_code == 401


# --- the sections -----------------------------------------------------------------------


def test_every_section_shows_the_accounts_rows(
    operator: Operator, api: Api, settings: Settings, account: AccountInfo
) -> None:
    # a failed operation (applied by the worker), and one never applied (stale)
    task = api.create_task()
    failing = api.patch(
        f"/v1/tasks/{task['id']}", json={"status": "approved"}, headers={"Prefer": "respond-async"}
    )
    assert failing.status_code == 202
    wait_for(
        lambda: api.get(failing.headers["Location"]).get_json()["status"] == "failed",
        what="the operation to fail",
    )
    failed_id = failing.get_json()["id"]
    with session_scope(settings) as session:
        stuck, _ = do_record_operation(
            session, account.account_id, account.admin_id, "task.create", {"data": {}}
        )
        session.flush()
        stuck_id = stuck.id
        long_ago = datetime.now(UTC) - timedelta(seconds=settings.recovery_after + 60)
        session.execute(
            update(Operation)
            .where(Operation.id == stuck_id)  # type: ignore[arg-type]
            .values(created_at=long_ago, updated_at=long_ago)
        )
    # an escalation level ahead: the account's policy, a task due in two hours
    policy = api.post(
        "/v1/escalation_policies",
        json={"name": "Due", "levels": [{"offset_minutes": -30, "relative_to": "due_at"}]},
    )
    assert policy.status_code == 201, policy.get_json()
    assert (
        api.patch("/v1/account", json={"escalation_policy_id": policy.get_json()["id"]}).status_code
        == 200
    )
    due_at = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    escalating = api.create_task(
        subject="Renew the certificate", due_at=due_at.isoformat(), member_id=account.admin_id
    )
    # two timers fired: one on time, one 12 s late
    now = datetime.now(UTC)
    with session_scope(settings) as session:
        for kind, lag in ((TimerKind.alert, 0.4), (TimerKind.due, 12.0)):
            moment = now - timedelta(seconds=30)
            session.add(
                Timer(
                    account_id=account.account_id,
                    task_id=task["id"],
                    kind=kind,
                    fire_at=moment,
                    fired_at=moment + timedelta(seconds=lag),
                    state=TimerState.fired,
                )
            )
    # a dead delivery of a webhook, and a disabled webhook
    hook_id = _webhook(api)
    [dead_id] = dead_deliveries(settings, account, hook_id)
    off_id = _webhook(api, "http://127.0.0.1:9/off", disabled=True)

    html = operator.page()
    queues = _section(html, "queues")
    assert set(re.findall(r'data-queue="(\w+)"', queues)) == {"commands", "maintenance", "timers"}
    assert all(int(d) >= 0 for d in re.findall(r'data-depth="(\d+)"', queues))
    lag = _section(html, "timer-lag")
    assert lag.count("<rect") == 2
    assert lag.count('class="bar late"') == 1  # the 12 s one
    assert "median 0.4 s" in lag
    assert "max 12 s" in lag
    assert _ids(_section(html, "stale-operations"), "operation") == [stuck_id]
    failed = _section(html, "failed-operations")
    assert _ids(failed, "operation") == [failed_id]
    assert "validation_failed" in failed
    assert "status:" in failed  # the field the error names
    dead = _section(html, "dead-deliveries")
    assert (_ids(dead, "webhook"), _ids(dead, "delivery")) == ([hook_id], [dead_id])
    assert "HTTP 410" in dead
    assert _ids(_section(html, "disabled-webhooks"), "webhook") == [off_id]
    escalations = _section(html, "escalations")
    assert "Renew the certificate" in escalations
    assert f'<td class="mono">{escalating["id"]}</td>' in escalations
    assert (due_at - timedelta(minutes=30)).strftime("%Y-%m-%d %H:%M:%S UTC") in escalations


def test_an_empty_account_shows_every_section_empty(operator: Operator) -> None:
    html = operator.page()
    for name in ("stale-operations", "failed-operations", "dead-deliveries"):
        assert 'class="empty"' in _section(html, name), name
    for name in ("timer-lag", "disabled-webhooks", "escalations"):
        assert 'class="empty"' in _section(html, name), name


# --- the writes -------------------------------------------------------------------------


def test_replay_sends_one_webhooks_dead_deliveries_again_then_all(
    operator: Operator, api: Api, settings: Settings, account: AccountInfo
) -> None:
    """As ``tasks-service timers retry-dead SLUG [--webhook ID]``: pending again, due
    now, attempts counted afresh."""
    first, second = _webhook(api), _webhook(api, "http://127.0.0.1:9/second")
    first_dead = dead_deliveries(settings, account, first, count=2)
    second_dead = dead_deliveries(settings, account, second)
    mail_dead = dead_deliveries(settings, account, None)
    replayed = operator.press(f"/ops/webhooks/{first}/replay")
    assert replayed.status_code == 303
    assert replayed.headers["Location"] == f"/ops?replayed=2&webhook={first}"
    assert "2 dead\n  deliveries are pending again (webhook" in operator.page(
        f"?replayed=2&webhook={first}"
    )
    assert _states(settings, first_dead) == ["pending", "pending"]
    assert _states(settings, second_dead + mail_dead) == ["dead", "dead"]
    html = operator.page()
    assert _ids(_section(html, "dead-deliveries"), "webhook") == [second]
    assert "data-email" in _section(html, "dead-deliveries")
    everything = operator.press("/ops/deliveries/replay")
    assert everything.headers["Location"] == "/ops?replayed=2"
    assert _states(settings, second_dead + mail_dead) == ["pending", "pending"]
    with session_scope(settings, write=False) as session:
        replay = session.get(Delivery, second_dead[0])
        assert replay is not None
        assert (replay.attempts, replay.next_attempt_at <= datetime.now(UTC)) == (0, True)
    assert 'class="empty"' in _section(operator.page(), "dead-deliveries")


def test_enable_is_the_change_a_patch_makes(
    operator: Operator, api: Api, settings: Settings
) -> None:
    hook_id = _webhook(api)
    with session_scope(settings) as session:  # as the worker leaves one failing too long
        hook = session.get(Webhook, hook_id)
        assert hook is not None
        hook.disabled, hook.disabled_reason = True, "failing since 2026-12-01T09:00:00Z: HTTP 503"
        hook.failing_since = datetime(2026, 12, 1, 9, tzinfo=UTC)
        session.add(hook)
    assert "HTTP 503" in _section(operator.page(), "disabled-webhooks")
    enabled = operator.press(f"/ops/webhooks/{hook_id}/enable")
    assert enabled.headers["Location"] == f"/ops?enabled={hook_id}"
    shown = api.get(f"/v1/webhooks/{hook_id}").get_json()
    assert (shown["disabled"], shown["disabled_reason"], shown["failing_since"]) == (
        False,
        None,
        None,
    )
    assert 'class="empty"' in _section(operator.page(), "disabled-webhooks")


def test_writes_without_the_sessions_csrf_token_change_nothing(
    operator: Operator,
    client: FlaskClient,
    app: Flask,
    api: Api,
    settings: Settings,
    account: AccountInfo,
) -> None:
    hook_id = _webhook(api, disabled=True)
    dead = dead_deliveries(settings, account, hook_id)
    # another sign-in of the same admin has its own CSRF token
    elsewhere = Operator(app.test_client())
    elsewhere.sign_in(account.token)
    other_csrf = _csrf(elsewhere.page())
    assert other_csrf != _csrf(operator.page())
    for path in (
        f"/ops/webhooks/{hook_id}/replay",
        "/ops/deliveries/replay",
        f"/ops/webhooks/{hook_id}/enable",
        "/ops/sign-out",
    ):
        for forged in ({}, {"csrf": ""}, {"csrf": other_csrf}):
            refused = client.post(path, data=forged)
            assert refused.status_code == 403, (path, forged)
            assert "CSRF" in refused.text
    assert _states(settings, dead) == ["dead"]
    assert api.get(f"/v1/webhooks/{hook_id}").get_json()["disabled"] is True
    operator.page()  # still signed in


def test_another_accounts_rows_are_neither_shown_nor_changed(
    operator: Operator, api: Api, settings: Settings, client: FlaskClient
) -> None:
    other = make_account(settings)
    theirs = api.as_(other.token, other.slug)
    their_hook = _webhook(theirs)
    their_dead = dead_deliveries(settings, other, their_hook)
    their_off = _webhook(theirs, "http://127.0.0.1:9/theirs", disabled=True)
    html = operator.page()
    assert _ids(_section(html, "dead-deliveries"), "delivery") == []
    assert _ids(_section(html, "disabled-webhooks"), "webhook") == []
    assert other.slug not in html
    for path in (
        f"/ops/webhooks/{their_hook}/replay",
        f"/ops/webhooks/{their_off}/enable",
    ):
        refused = operator.press(path)
        assert refused.status_code == 404, path
        assert "no webhook" in refused.text.lower() or "not found" in refused.text.lower()
    assert operator.press("/ops/deliveries/replay").headers["Location"] == "/ops?replayed=0"
    assert _states(settings, their_dead) == ["dead"]
    assert theirs.get(f"/v1/webhooks/{their_off}").get_json()["disabled"] is True


def test_refusals_are_pages_not_tracebacks(operator: Operator, client: FlaskClient) -> None:
    csrf = _csrf(operator.page())
    missing = client.post("/ops/webhooks/2147483647/replay", data={"csrf": csrf})
    assert (missing.status_code, missing.mimetype) == (404, "text/html")
    assert client.post("/ops/webhooks/0/replay", data={"csrf": csrf}).status_code == 404
    assert client.post("/ops/sign-in", data="\x00" * 10).status_code == 403
    assert client.get("/ops?replayed=9999999999999&enabled=x").status_code == 200
    anonymous = Operator(client.application.test_client())
    assert anonymous.client.post("/ops/deliveries/replay").status_code == 401

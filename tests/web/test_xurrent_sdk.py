"""The public Xurrent SDK (``xurrent``) against a live HTTP server of the app, with only
its base URL changed, on both backends and a real worker: approvers of one task each
``approve()`` it with their own token (the SDK's body: status, note, and its own user
as ``member_id``), which records their decision; ``reject()`` rejects it at once."""

from __future__ import annotations

import logging

import pytest
import requests
from xurrent.core import XurrentApiHelper
from xurrent.tasks import Task

from tasks_service.core.settings import Settings
from tasks_service.identity.accounts import do_create_token
from tasks_service.store.db import session_scope
from tests.helpers import AccountInfo, Api


def _sdk(base_url: str, token: str, account: AccountInfo) -> XurrentApiHelper:
    """The SDK as Xurrent documents it, but for the base URL (it looks its user up)."""
    quiet = logging.getLogger("xurrent-test")
    return XurrentApiHelper(f"{base_url}/v1", token, account.slug, logger=quiet)


def _approver(api: Api, settings: Settings, account: AccountInfo, name: str) -> tuple[int, str]:
    person = api.create_person(name, f"{name.lower()}@{account.slug}.example")
    with session_scope(settings) as session:
        return person["id"], do_create_token(session, account.account_id, person["id"])


def test_approvers_approve_and_reject_through_the_sdk(
    base_url: str, api: Api, settings: Settings, account: AccountInfo
) -> None:
    (ann, ann_token), (bob, bob_token), (cid, cid_token) = (
        _approver(api, settings, account, name) for name in ("Ann", "Bob", "Cid")
    )
    created = api.create_task(subject="CAB", category="approval", required_approvals=2)
    for person in (ann, bob, cid):
        added = api.post(f"/v1/tasks/{created['id']}/approvals", json={"approver_id": person})
        assert added.status_code == 201, added.get_json()
    as_ann = _sdk(base_url, ann_token, account)
    assert as_ann.api_user.id == ann  # GET /people/me and its teams, as the SDK does
    task = Task.get_by_id(as_ann, created["id"])  # a GET with the SDK's ?per_page=100
    assert (task.category, task.status) == ("approval", "assigned")
    approved = task.approve("Looks good")
    assert approved.status == "assigned"  # one approval of the two needed
    assert approved.member is None  # the SDK's member_id named the approver: not a member
    done = Task.get_by_id(_sdk(base_url, bob_token, account), created["id"]).approve()
    assert done.status == "approved"
    approvals = api.get(f"/v1/tasks/{created['id']}/approvals").get_json()
    assert [(a["approver"]["id"], a["status"]) for a in approvals] == [
        (ann, "approved"),
        (bob, "approved"),
        (cid, "canceled"),
    ]
    assert approvals[0]["note"] == "Looks good"
    # Cid's approval was canceled by the quorum: the SDK raises on the 409
    late = Task.get_by_id(_sdk(base_url, cid_token, account), created["id"])
    with pytest.raises(requests.HTTPError) as refused:
        late.reject("too late")
    assert refused.value.response.status_code == 409
    # a second task: one rejection rejects it at once
    other = api.create_task(subject="CAB 2", category="approval", required_approvals=2)
    for person in (ann, bob):
        api.post(f"/v1/tasks/{other['id']}/approvals", json={"approver_id": person})
    rejected = Task.get_by_id(as_ann, other["id"]).reject("Not in the freeze")
    assert (rejected.status, rejected.rejection_count) == ("rejected", 1)

"""The durable command path as a client sees it: 202, operations, idempotency."""

from __future__ import annotations

from tasks_service.commands.operations import do_record_operation
from tasks_service.store.db import session_scope
from tests.helpers import AccountInfo, Api, assert_error, wait_for

BODY = {"subject": "Rotate keys", "category": "implementation"}


def test_respond_async_gives_202_and_an_operation(api: Api) -> None:
    response = api.post("/v1/tasks", json=BODY, headers={"Prefer": "respond-async"})
    assert response.status_code == 202, response.get_json()
    location = response.headers["Location"]
    assert location == f"/v1/operations/{response.get_json()['id']}"
    assert response.get_json()["status"] == "pending"
    done = wait_for(
        lambda: (r := api.get(location).get_json())["status"] != "pending" and r, what="operation"
    )
    assert done["status"] == "succeeded"
    assert done["result"]["subject"] == "Rotate keys"
    assert api.get(f"/v1/tasks/{done['result']['id']}").status_code == 200


def test_failed_operation_shows_the_error(api: Api) -> None:
    task = api.create_task()
    response = api.patch(
        f"/v1/tasks/{task['id']}", json={"status": "approved"}, headers={"Prefer": "respond-async"}
    )
    assert response.status_code == 202
    op = wait_for(
        lambda: (r := api.get(response.headers["Location"]).get_json())["status"] != "pending" and r
    )
    assert op["status"] == "failed"
    assert op["error"]["code"] == "validation_failed"
    assert op["error"]["errors"][0]["field"] == "status"


def test_idempotency_key_replays_the_first_response(api: Api) -> None:
    headers = {"Idempotency-Key": "create-rotate-keys-1"}
    first = api.post("/v1/tasks", json=BODY, headers=headers)
    second = api.post("/v1/tasks", json=BODY, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json() == second.get_json()
    assert api.get("/v1/tasks").headers["X-Pagination-Total-Entries"] == "1"
    reused = api.post("/v1/tasks", json={**BODY, "subject": "Other"}, headers=headers)
    assert_error(reused, 422, "idempotency_key_reused")
    assert api.get("/v1/tasks").headers["X-Pagination-Total-Entries"] == "1"


def test_idempotency_key_while_in_flight_is_409(api: Api, account: AccountInfo, settings) -> None:
    from tasks_service.commands.operations import request_fingerprint

    payload = {"data": BODY}
    key = "in-flight-key"
    # An accepted operation that no worker has applied yet (it was never enqueued).
    with session_scope(settings) as session:
        do_record_operation(
            session,
            account.account_id,
            account.admin_id,
            "task.create",
            payload,
            idempotency_key=key,
            fingerprint=request_fingerprint("POST", "/v1/tasks", payload),
        )
    response = api.post("/v1/tasks", json=BODY, headers={"Idempotency-Key": key})
    assert_error(response, 409, "idempotency_request_in_flight")


def test_operations_of_another_account_are_404(api: Api, settings) -> None:
    from tests.helpers import make_account

    response = api.post("/v1/tasks", json=BODY, headers={"Prefer": "respond-async"})
    other = make_account(settings)
    assert_error(
        api.as_(other.token, other.slug).get(response.headers["Location"]), 404, "not_found"
    )


def test_bad_idempotency_key_is_400(api: Api) -> None:
    response = api.post("/v1/tasks", json=BODY, headers={"Idempotency-Key": "k" * 256})
    assert_error(response, 400, "invalid_header", "Idempotency-Key")

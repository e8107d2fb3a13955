"""The OpenAPI document (``web.openapi``): generated from the app, complete, valid, and
served with a docs page that needs no internet."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate

from web.openapi.document import IMPLIED, expand
from web.openapi.table import ROUTES


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    response = app.test_client().get("/v1/openapi.json")
    assert response.status_code == 200
    assert response.content_type == "application/json"
    body: dict[str, Any] = response.get_json()
    return body


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)  # raises on the first violation of the 3.1 schema


def test_every_rule_of_the_app_is_in_the_document(app: Flask, document: dict[str, Any]) -> None:
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for path, _fixed in expand(rule):
            for method in (rule.methods or set()) - IMPLIED:
                if method.lower() not in document["paths"].get(path, {}):
                    missing.append(f"{method} {path}")
    assert missing == []
    # and nothing else: every documented operation is one the app routes
    routed = {
        (path, method.lower())
        for rule in app.url_map.iter_rules()
        for path, _ in expand(rule)
        for method in (rule.methods or set()) - IMPLIED
    }
    documented = {(path, method) for path, item in document["paths"].items() for method in item}
    assert documented - routed == set()
    assert set(ROUTES) - {rule.endpoint for rule in app.url_map.iter_rules()} == set()


def test_predefined_filters_are_paths_of_their_own(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert "/v1/tasks/open" in paths
    assert "/v1/tasks/approval_by_me" in paths
    assert "/v1/tasks/{task_id}/predecessors" in paths
    assert "/v1/tasks/{task_id}" in paths
    assert not [p for p in paths if "<" in p or "any(" in p]
    task_id = paths["/v1/tasks/{task_id}"]["get"]["parameters"][0]
    assert task_id["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}


def test_a_collection_documents_its_filters_sort_fields_and_paging(
    document: dict[str, Any],
) -> None:
    listing = document["paths"]["/v1/tasks"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert {"page", "per_page", "sort", "fields", "search_after"} <= names
    assert {"status", "team", "labels", "due_at", "created_at"} <= names  # 4me's filters
    assert {"due_from", "title", "user", "case", "subject_id"} <= names  # Trackops'
    status = next(p for p in listing["parameters"] if p["name"] == "status")
    pattern = re.compile(status["schema"]["pattern"])
    for taken in ("assigned", "!completed", "assigned,in_progress", "", "!", "needs_action"):
        assert pattern.fullmatch(taken), taken
    for refused in ("nonsense", "assigned,", ">assigned"):
        assert not pattern.fullmatch(refused), refused
    ok = listing["responses"]["200"]
    assert set(ok["headers"]) >= {"Link", "X-Pagination-Total-Entries"}
    assert ok["content"]["application/json"]["schema"]["type"] == "array"


def test_writes_document_their_bodies_statuses_and_the_operation(
    document: dict[str, Any],
) -> None:
    create = document["paths"]["/v1/tasks"]["post"]
    body = create["requestBody"]["content"]["application/json"]["schema"]
    assert "anyOf" in body  # 4me's body, from a template, or wrapped as {"task": {...}}
    answers = create["responses"]
    assert {"201", "202", "400", "401", "403", "409", "413", "415", "422", "503"} <= set(answers)
    assert answers["202"]["headers"]["Location"]["required"] is True
    assert answers["503"]["headers"]["Retry-After"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["message", "code", "errors"]
    # a created task's id leads on to what can be done with it
    links = {link["operationId"] for link in answers["201"]["links"].values()}
    assert {
        "v1.tasks.get_task.get",
        "v1.tasks.update_task.patch",
        "v1.tasks.add_note.post",
        "v1.tasks.add_labels.post",
    } <= links
    assert answers["202"]["links"]["operation"]["operationId"] == "v1.operations.get_operation.get"


def test_security_schemes_and_public_operations(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"]["scheme"] == "bearer"
    assert schemes["account"]["name"] == "X-Xurrent-Account"
    assert document["paths"]["/v1/tasks"]["get"]["security"] == [{"bearer": [], "account": []}]
    assert document["paths"]["/2.0/tasks"]["post"]["security"] == [{"bearer": []}]
    assert document["paths"]["/healthz"]["get"]["security"] == []
    # the operator page: HTML forms, its session a cookie; signed out, the page itself
    # answers with a redirect to its sign-in form (so its session is optional)
    overview = document["paths"]["/ops"]["get"]
    assert overview["security"] == [{"ops_session": []}, {}]
    assert "text/html" in overview["responses"]["200"]["content"]
    assert "303" in overview["responses"]
    replay = document["paths"]["/ops/webhooks/{webhook_id}/replay"]["post"]
    assert replay["security"] == [{"ops_session": []}]
    assert "application/x-www-form-urlencoded" in replay["requestBody"]["content"]


def test_the_docs_page_needs_nothing_from_outside(client: FlaskClient) -> None:
    page = client.get("/v1/docs")
    assert page.status_code == 200
    assert page.content_type.startswith("text/html")
    html = page.get_data(as_text=True)
    assert "http://" not in html
    assert "https://" not in html
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(s.startswith("/v1/docs/assets/") for s in sources)
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        assert len(asset.get_data()) > 0
    bundle = client.get("/v1/docs/assets/swagger-ui-bundle.js").get_data(as_text=True)
    assert "SwaggerUIBundle" in bundle  # Swagger UI's own code, from its package
    assert client.get("/v1/docs/assets/../../pyproject.toml").status_code == 404
    assert client.get("/v1/docs/assets/swagger-editor-bundle.js").status_code == 404

"""The REST API as one caller, and checks of its answers."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask.testing import FlaskClient
from werkzeug.test import TestResponse


class Api:
    """The REST API as one caller (bearer token + account header)."""

    def __init__(self, client: FlaskClient, token: str | None, account: str | None) -> None:
        self.client = client
        self.headers: dict[str, str] = {}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"
        if account:
            self.headers["X-Xurrent-Account"] = account

    def as_(self, token: str, account: str) -> Api:
        return Api(self.client, token, account)

    def request(
        self,
        method: str,
        path: str,
        json: Any = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> TestResponse:
        all_headers = {**self.headers, **(headers or {})}
        return self.client.open(path, method=method, json=json, headers=all_headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("POST", path, json=json, **kwargs)

    def patch(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("PATCH", path, json=json, **kwargs)

    def put(self, path: str, json: Any = None, **kwargs: Any) -> TestResponse:
        return self.request("PUT", path, json=json, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> TestResponse:
        return self.request("DELETE", path, **kwargs)

    def create_task(self, **fields: Any) -> dict[str, Any]:
        body = {"subject": "Check the backups", "category": "implementation", **fields}
        response = self.post("/v1/tasks", json=body)
        assert response.status_code == 201, response.get_json()
        result: dict[str, Any] = response.get_json()
        return result

    def create_team(self, name: str, members: tuple[int, ...] = ()) -> dict[str, Any]:
        response = self.post("/v1/teams", json={"name": name})
        assert response.status_code == 201, response.get_json()
        team: dict[str, Any] = response.get_json()
        for person_id in members:
            added = self.post(f"/v1/teams/{team['id']}/members", json={"person_id": person_id})
            assert added.status_code == 201, added.get_json()
        return team

    def create_person(self, name: str, email: str, admin: bool = False) -> dict[str, Any]:
        response = self.post(
            "/v1/people", json={"name": name, "primary_email": email, "admin": admin}
        )
        assert response.status_code == 201, response.get_json()
        person: dict[str, Any] = response.get_json()
        return person


def links(response: TestResponse) -> dict[str, dict[str, str]]:
    """``{rel: query parameters}`` of a list's Link header, checking its exact form."""
    out = {}
    for part in response.headers["Link"].split(", "):
        match = re.fullmatch(r'<(/v1/[^>]+)>; rel="(first|prev|next|last)"', part)
        assert match, part
        query = urlsplit(match.group(1)).query
        out[match.group(2)] = dict(parse_qsl(query, keep_blank_values=True))
    return out


def assert_error(response: TestResponse, status: int, code: str, field: str | None = None) -> dict:
    """The response is our error shape with this status and code (naming ``field``)."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) >= {"message", "code", "errors"}, body
    assert body["code"] == code, body
    assert isinstance(body["errors"], list)
    if field is not None:
        assert field in {e["field"] for e in body["errors"]}, body
    return body


def error_fields(response: TestResponse) -> list[tuple[str, str]]:
    """The (field, code) pairs of an error response, in order."""
    body = response.get_json()
    return [(e["field"], e["code"]) for e in body["errors"]]

"""People and teams (identity); changes need the admin flag."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from flask import Blueprint, Response

from tasks_service import identity
from tasks_service.db import session_scope
from tasks_service.queries import Page
from tasks_service.schemas import (
    PERSON_READONLY,
    TEAM_READONLY,
    MembershipCreate,
    PersonCreate,
    PersonUpdate,
    TeamCreate,
    TeamUpdate,
)
from tasks_service.serializers import serialize_person, serialize_team
from web.http import actor, json_response, page_request, page_response, parse_body, settings

bp = Blueprint("people", __name__)
T = TypeVar("T")


def _list_response(rows: Sequence[T], serialize: Callable[[T], dict[str, Any]]) -> Response:
    """A page of a small collection (people, teams) held in memory whole.

    Issue 4 moves these onto the shared query layer (filters, sorting, paging in SQL).
    """
    request = page_request()
    start = (request.page - 1) * request.per_page
    page: Page[T] = Page(
        items=list(rows[start : start + request.per_page]),
        total=len(rows),
        page=request.page,
        per_page=request.per_page,
    )
    return page_response(page, [serialize(row) for row in page.items])


@bp.get("/people/me")
def me() -> Response:
    with session_scope(settings(), write=False) as session:
        person = identity.get_person(session, actor().account_id, actor().person_id)
        return json_response(serialize_person(person))


@bp.get("/people")
def list_people() -> Response:
    with session_scope(settings(), write=False) as session:
        return _list_response(identity.list_people(session, actor().account_id), serialize_person)


@bp.post("/people")
def create_person() -> Response:
    identity.require_admin(actor())
    data = parse_body(PersonCreate, PERSON_READONLY, wrapper="person")
    with session_scope(settings()) as session:
        person = identity.do_create_person(session, actor().account_id, data)
        return json_response(serialize_person(person), 201)


@bp.get("/people/<id:person_id>")
def get_person(person_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        return json_response(
            serialize_person(identity.get_person(session, actor().account_id, person_id))
        )


@bp.route("/people/<id:person_id>", methods=["PATCH", "PUT"])
def update_person(person_id: int) -> Response:
    identity.require_admin(actor())
    data = parse_body(PersonUpdate, PERSON_READONLY, wrapper="person")
    with session_scope(settings()) as session:
        person = identity.do_update_person(session, actor().account_id, person_id, data)
        return json_response(serialize_person(person))


@bp.get("/people/<id:person_id>/teams")
def person_teams(person_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        teams = identity.list_person_teams(session, actor().account_id, person_id)
        return _list_response(teams, serialize_team)


@bp.get("/teams")
def list_teams() -> Response:
    with session_scope(settings(), write=False) as session:
        return _list_response(identity.list_teams(session, actor().account_id), serialize_team)


@bp.post("/teams")
def create_team() -> Response:
    identity.require_admin(actor())
    data = parse_body(TeamCreate, TEAM_READONLY, wrapper="team")
    with session_scope(settings()) as session:
        return json_response(
            serialize_team(identity.do_create_team(session, actor().account_id, data)), 201
        )


@bp.get("/teams/<id:team_id>")
def get_team(team_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        return json_response(
            serialize_team(identity.get_team(session, actor().account_id, team_id))
        )


@bp.route("/teams/<id:team_id>", methods=["PATCH", "PUT"])
def update_team(team_id: int) -> Response:
    identity.require_admin(actor())
    data = parse_body(TeamUpdate, TEAM_READONLY, wrapper="team")
    with session_scope(settings()) as session:
        team = identity.do_update_team(session, actor().account_id, team_id, data)
        return json_response(serialize_team(team))


@bp.get("/teams/<id:team_id>/members")
def team_members(team_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        members = identity.list_team_members(session, actor().account_id, team_id)
        return _list_response(members, serialize_person)


@bp.post("/teams/<id:team_id>/members")
def add_member(team_id: int) -> Response:
    identity.require_admin(actor())
    data = parse_body(MembershipCreate)
    with session_scope(settings()) as session:
        person = identity.do_add_team_member(session, actor().account_id, team_id, data.person_id)
        return json_response(serialize_person(person), 201)


@bp.delete("/teams/<id:team_id>/members/<id:person_id>")
def remove_member(team_id: int, person_id: int) -> Response:
    identity.require_admin(actor())
    with session_scope(settings()) as session:
        identity.do_remove_team_member(session, actor().account_id, team_id, person_id)
    return Response(status=204)

"""People and teams (identity); changes need the admin flag."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service import identity, queries, recompute
from tasks_service.db import session_scope
from tasks_service.schemas import (
    PERSON_READONLY,
    TEAM_READONLY,
    MembershipCreate,
    PersonCreate,
    PersonUpdate,
    TeamCreate,
    TeamUpdate,
)
from tasks_service.serializers import serialize_person, serialize_team, serialize_teams
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.routes.calendars import respond_with_recompute

bp = Blueprint("people", __name__)


@bp.get("/people/me")
def me() -> Response:
    with session_scope(settings(), write=False) as session:
        person = identity.get_person(session, actor().account_id, actor().person_id)
        return json_response(serialize_person(person))


@bp.get("/people")
def list_people() -> Response:
    query = list_query(queries.PERSON_QUERY)
    with session_scope(settings(), write=False) as session:
        page = queries.list_people(session, actor().account_id, query)
        return page_response(page, [serialize_person(p) for p in page.items])


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
    query = list_query(queries.TEAM_QUERY)
    with session_scope(settings(), write=False) as session:
        page = queries.list_person_teams(session, actor().account_id, person_id, query)
        return page_response(page, serialize_teams(session, page.items))


@bp.get("/teams")
def list_teams() -> Response:
    query = list_query(queries.TEAM_QUERY)
    with session_scope(settings(), write=False) as session:
        page = queries.list_teams(session, actor().account_id, query)
        return page_response(page, serialize_teams(session, page.items))


@bp.post("/teams")
def create_team() -> Response:
    identity.require_admin(actor())
    data = parse_body(TeamCreate, TEAM_READONLY, wrapper="team")
    with session_scope(settings()) as session:
        team = identity.do_create_team(session, actor().account_id, data)
        return json_response(serialize_team(session, team), 201)


@bp.get("/teams/<id:team_id>")
def get_team(team_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        team = identity.get_team(session, actor().account_id, team_id)
        return json_response(serialize_team(session, team))


@bp.route("/teams/<id:team_id>", methods=["PATCH", "PUT"])
def update_team(team_id: int) -> Response:
    identity.require_admin(actor())
    data = parse_body(TeamUpdate, TEAM_READONLY, wrapper="team")
    who = actor()
    with session_scope(settings()) as session:
        before = recompute.movers(identity.get_team(session, who.account_id, team_id))
        team = identity.do_update_team(session, who.account_id, team_id, data)
        op = recompute.do_request_if_moved(
            session, team, before, who.person_id, {"team_id": team_id}
        )
        body = serialize_team(session, team)
    return respond_with_recompute(body, op)


@bp.get("/teams/<id:team_id>/members")
def team_members(team_id: int) -> Response:
    query = list_query(queries.PERSON_QUERY)
    with session_scope(settings(), write=False) as session:
        page = queries.list_team_members(session, actor().account_id, team_id, query)
        return page_response(page, [serialize_person(p) for p in page.items])


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

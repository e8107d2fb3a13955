"""Teams and their members; changes need the admin flag."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.identity import accounts, directory
from tasks_service.querying import lists, resources
from tasks_service.querying.serializers.directory import (
    serialize_person,
    serialize_team,
    serialize_teams,
)
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Team
from tasks_service.store.schemas.directory import (
    TEAM_READONLY,
    MembershipCreate,
    TeamCreate,
    TeamUpdate,
)
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import idempotent, respond_with_recompute

bp = Blueprint("teams", __name__)


@bp.get("/teams")
def list_teams() -> Response:
    query = list_query(resources.TEAM_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_teams(session, actor().account_id, query)
        return page_response(page, serialize_teams(session, page.items))


@bp.post("/teams")
@idempotent
def create_team() -> Response:
    accounts.require_admin(actor())
    data = parse_body(TeamCreate, TEAM_READONLY, wrapper="team")
    with session_scope(settings()) as session:
        team = directory.do_create_team(session, actor().account_id, data)
        return json_response(serialize_team(session, team), 201)


@bp.get("/teams/<id:team_id>")
def get_team(team_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        team = lookups.get(session, Team, actor().account_id, team_id)
        return json_response(serialize_team(session, team))


@bp.route("/teams/<id:team_id>", methods=["PATCH", "PUT"])
@idempotent
def update_team(team_id: int) -> Response:
    """A new calendar or policy recomputes the team's open tasks in the background."""
    accounts.require_admin(actor())
    data = parse_body(TeamUpdate, TEAM_READONLY, wrapper="team")
    who = actor()
    with session_scope(settings()) as session:
        team, op = directory.do_update_team(session, who.account_id, team_id, data, who.person_id)
        body = serialize_team(session, team)
    return respond_with_recompute(body, op)


@bp.get("/teams/<id:team_id>/members")
def team_members(team_id: int) -> Response:
    query = list_query(resources.PERSON_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_team_members(session, actor().account_id, team_id, query)
        return page_response(page, [serialize_person(p) for p in page.items])


@bp.post("/teams/<id:team_id>/members")
@idempotent
def add_member(team_id: int) -> Response:
    accounts.require_admin(actor())
    data = parse_body(MembershipCreate)
    with session_scope(settings()) as session:
        person = directory.do_add_team_member(session, actor().account_id, team_id, data.person_id)
        return json_response(serialize_person(person), 201)


@bp.delete("/teams/<id:team_id>/members/<id:person_id>")
@idempotent
def remove_member(team_id: int, person_id: int) -> Response:
    accounts.require_admin(actor())
    with session_scope(settings()) as session:
        directory.do_remove_team_member(session, actor().account_id, team_id, person_id)
    return Response(status=204)

"""People (admins change them), the caller's own person (``/people/me``), and the teams
a person is in."""

from __future__ import annotations

from flask import Blueprint, Response

from tasks_service.identity import accounts, directory
from tasks_service.querying import lists, resources
from tasks_service.querying.serializers.directory import serialize_person, serialize_teams
from tasks_service.store import lookups
from tasks_service.store.db import session_scope
from tasks_service.store.models import Person
from tasks_service.store.schemas.directory import (
    ME_READONLY,
    PERSON_READONLY,
    NotificationPreferences,
    PersonCreate,
    PersonUpdate,
)
from web.http import actor, json_response, list_query, page_response, parse_body, settings
from web.submit import idempotent

bp = Blueprint("people", __name__)


@bp.get("/people/me")
def me() -> Response:
    with session_scope(settings(), write=False) as session:
        person = lookups.get(session, Person, actor().account_id, actor().person_id)
        return json_response(serialize_person(person))


@bp.route("/people/me", methods=["PATCH", "PUT"])
@idempotent
def update_me() -> Response:
    """What a person may change about themselves: their notification opt-outs (a PATCH
    without them changes nothing)."""
    data = parse_body(NotificationPreferences, ME_READONLY, wrapper="person")
    who = actor()
    with session_scope(settings()) as session:
        if data.notification_opt_outs is None:
            person = lookups.get(session, Person, who.account_id, who.person_id)
        else:
            person = directory.do_set_opt_outs(session, who.account_id, who.person_id, data)
        return json_response(serialize_person(person))


@bp.get("/people")
def list_people() -> Response:
    query = list_query(resources.PERSON_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_people(session, actor().account_id, query)
        return page_response(page, [serialize_person(p) for p in page.items])


@bp.post("/people")
@idempotent
def create_person() -> Response:
    accounts.require_admin(actor())
    data = parse_body(PersonCreate, PERSON_READONLY, wrapper="person")
    with session_scope(settings()) as session:
        person = directory.do_create_person(session, actor().account_id, data)
        return json_response(serialize_person(person), 201)


@bp.get("/people/<id:person_id>")
def get_person(person_id: int) -> Response:
    with session_scope(settings(), write=False) as session:
        person = lookups.get(session, Person, actor().account_id, person_id)
        return json_response(serialize_person(person))


@bp.route("/people/<id:person_id>", methods=["PATCH", "PUT"])
@idempotent
def update_person(person_id: int) -> Response:
    accounts.require_admin(actor())
    data = parse_body(PersonUpdate, PERSON_READONLY, wrapper="person")
    with session_scope(settings()) as session:
        person = directory.do_update_person(session, actor().account_id, person_id, data)
        return json_response(serialize_person(person))


@bp.get("/people/<id:person_id>/teams")
def person_teams(person_id: int) -> Response:
    query = list_query(resources.TEAM_QUERY)
    with session_scope(settings(), write=False) as session:
        page = lists.list_person_teams(session, actor().account_id, person_id, query)
        return page_response(page, serialize_teams(session, page.items))

"""The directory in-process (issue 14): emails and names unique without regard to case,
in the look-ups, in the checks and in the database itself (migration 0010)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import IntegrityError

from tasks_service.core.errors import TaskValidationError
from tasks_service.identity import directory
from tasks_service.store.db import session_scope
from tasks_service.store.models import Calendar, EscalationPolicy, Person, Team
from tasks_service.store.schemas.directory import PersonCreate
from tests.helpers import AccountInfo


def test_a_person_is_found_by_email_in_any_letters(settings, account: AccountInfo) -> None:
    with session_scope(settings) as session:
        admin = session.get(Person, account.admin_id)
        assert admin is not None
        shouted = admin.primary_email.upper()
        found = directory.find_person_by_email(session, account.account_id, f" {shouted} ")
        assert found is not None
        assert found.id == account.admin_id


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (
            lambda a: Person(account_id=a, name="P", primary_email="p2@demo.example"),
            lambda a: Person(account_id=a, name="Q", primary_email="P2@DEMO.EXAMPLE"),
        ),
        (lambda a: Team(account_id=a, name="Ops"), lambda a: Team(account_id=a, name="ops")),
        (
            lambda a: Calendar(account_id=a, name="Office", time_zone="UTC", hours=[]),
            lambda a: Calendar(account_id=a, name="OFFICE", time_zone="UTC", hours=[]),
        ),
        (
            lambda a: EscalationPolicy(account_id=a, name="Urgent", levels=[]),
            lambda a: EscalationPolicy(account_id=a, name="urgent", levels=[]),
        ),
    ],
)
def test_the_database_refuses_the_same_text_in_other_letters(
    settings, account: AccountInfo, first, second
) -> None:
    with session_scope(settings) as session:
        session.add(first(account.account_id))
        session.flush()
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(second(account.account_id))


def test_a_race_past_the_check_is_the_same_422(settings, account: AccountInfo) -> None:
    """Two creates of one email in other letters at once: the database's unique index
    stops the later one, which gets "another person has this email". (On SQLite writes
    are serialised, so the check alone decides; on PostgreSQL they really overlap.)"""
    first_flushed, first_may_commit = threading.Event(), threading.Event()
    outcome: list[object] = []

    def first() -> None:
        with session_scope(settings) as session:
            data = PersonCreate(name="A", primary_email="race@demo.example")
            directory.do_create_person(session, account.account_id, data)
            first_flushed.set()
            first_may_commit.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert first_flushed.wait(10)

    def second() -> None:
        try:
            with session_scope(settings) as session:
                data = PersonCreate(name="B", primary_email="RACE@demo.example")
                directory.do_create_person(session, account.account_id, data)
        except TaskValidationError as exc:
            outcome.append(exc.errors)
        else:
            outcome.append("stored")

    racer = threading.Thread(target=second)
    racer.start()
    racer.join(0.5)  # it waits for the first's write (lock or index)
    first_may_commit.set()
    thread.join(10)
    racer.join(10)
    assert outcome == [
        [{"field": "primary_email", "code": "taken", "message": "another person has this email"}]
    ]

"""Tables of who works: accounts (tenants), people, teams, memberships, API tokens.

Every row that a client can reach carries ``account_id``: queries are always scoped
to the caller's account.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, Index, UniqueConstraint, func, literal_column
from sqlmodel import Field, SQLModel

from tasks_service.store.models.columns import calendar_ref, created, policy_ref


class Account(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    slug: str = Field(max_length=64, unique=True)
    name: str = Field(max_length=255)
    # The default calendar of the account's tasks; none means 24x7. (The constraint is
    # added after both tables exist: a calendar belongs to an account.)
    calendar_id: int | None = calendar_ref("account", use_alter=True)
    # The default escalation policy of the account's tasks (issue 6); none: no escalation.
    escalation_policy_id: int | None = policy_ref("account")
    created_at: datetime = created()


def unique_without_case(table: str, column: str) -> Index:
    """One row per account and ``lower(column)``: emails and names are unique without
    regard to case (``P2@DEMO.EXAMPLE`` is ``p2@demo.example``, ``ops`` is ``Ops``),
    enforced by the database whatever request races another (migration 0010)."""
    return Index(
        f"uq_{table}_{column}_lower",
        "account_id",
        func.lower(literal_column(column)),
        unique=True,
    )


class Person(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("account_id", "primary_email"),
        unique_without_case("person", "primary_email"),
    )

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=255)
    primary_email: str = Field(max_length=255)
    admin: bool = False
    disabled: bool = False
    # Events (``task.alert``) or channel:event (``email:task.assigned``) this person
    # does not want to hear about (issue 6).
    notification_opt_outs: list[str] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False, server_default="[]")
    )
    created_at: datetime = created()
    updated_at: datetime = created()


class Team(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("account_id", "name"), unique_without_case("team", "name"))

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    name: str = Field(max_length=255)
    disabled: bool = False
    calendar_id: int | None = calendar_ref("team")
    escalation_policy_id: int | None = policy_ref("team")
    created_at: datetime = created()
    updated_at: datetime = created()


class TeamMembership(SQLModel, table=True):
    __tablename__ = "team_membership"

    team_id: int = Field(foreign_key="team.id", primary_key=True)
    person_id: int = Field(foreign_key="person.id", primary_key=True, index=True)
    created_at: datetime = created()


class ApiToken(SQLModel, table=True):
    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    person_id: int = Field(foreign_key="person.id", index=True)
    # SHA-256 of the token: tokens are 256 random bits, so a fast hash is enough and
    # lets us look them up by equality.
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = created()

"""Administration: the database schema, accounts and API tokens."""

from __future__ import annotations

import click

from tasks_service.cli.output import database
from tasks_service.core.errors import NotFound
from tasks_service.core.settings import get_settings
from tasks_service.identity.accounts import do_create_account, do_create_token, get_account
from tasks_service.identity.directory import find_person_by_email
from tasks_service.store import migrate
from tasks_service.store.db import session_scope


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: head)."""
    migrate.upgrade(get_settings(), revision)
    click.echo(f"database at {revision}", err=True)


@click.group()
def account() -> None:
    """Accounts (tenants)."""


@account.command("create")
@click.argument("slug")
@click.option("--admin-name", required=True, help="Name of the account's administrator.")
@click.option("--admin-email", required=True, help="Email of the account's administrator.")
@click.option("--name", default=None, help="Display name of the account (default: SLUG).")
def account_create(slug: str, admin_name: str, admin_email: str, name: str | None) -> None:
    """Create an account and its admin; print the admin's API token on the last line."""
    with session_scope(database()) as session:
        _account, _admin, token = do_create_account(
            session, slug, name or slug, admin_name, admin_email
        )
    click.echo(f"Created account {slug!r} with administrator {admin_email}.")
    click.echo(token)


@click.group()
def token() -> None:
    """API tokens."""


@token.command("create")
@click.argument("slug")
@click.option("--email", required=True, help="Primary email of the person in the account.")
def token_create(slug: str, email: str) -> None:
    """Create an API token for a person; print it on the last line."""
    with session_scope(database()) as session:
        acct = get_account(session, slug)
        person = find_person_by_email(session, acct.id or 0, email)
        if person is None:
            raise NotFound(f"no person with email {email} in {slug!r}")
        new_token = do_create_token(session, acct.id or 0, person.id or 0)
    click.echo(new_token)

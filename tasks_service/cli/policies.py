"""Escalation policies of an account (bodies as for ``/v1/escalation_policies``)."""

from __future__ import annotations

import dataclasses
import json
from typing import IO

import click

from tasks_service import policies
from tasks_service.cli.output import fail, json_body
from tasks_service.context import account as account_context
from tasks_service.core.errors import TaskError
from tasks_service.core.validation import validate
from tasks_service.store.schemas.policies import EscalationPolicyCreate


@click.group("escalation-policies")
def escalation_policies() -> None:
    """Escalation policies of an account (bodies as for /v1/escalation_policies)."""


@escalation_policies.command("list")
@click.argument("slug")
def policies_list(slug: str) -> None:
    """Print the account's policies as JSON."""
    try:
        with account_context(slug):
            rows = policies.list_escalation_policies()
    except TaskError as exc:
        raise fail(exc) from None
    click.echo(json.dumps([dataclasses.asdict(row) for row in rows], indent=2))


@escalation_policies.command("create")
@click.argument("slug")
@click.argument("body", type=click.File("r"))
@click.option("--default", "make_default", is_flag=True, help="Make it the account's default.")
def policies_create(slug: str, body: IO[str], make_default: bool) -> None:
    """Create a policy from BODY (a JSON file, or - for stdin); print it as JSON."""
    data = json_body(body)
    try:
        with account_context(slug):
            fields = validate(EscalationPolicyCreate, data).model_dump(mode="json")
            row = policies.create_escalation_policy(**fields)
            if make_default:
                policies.set_account_escalation_policy(row)
    except TaskError as exc:
        raise fail(exc) from None
    click.echo(json.dumps(dataclasses.asdict(row), indent=2))


@escalation_policies.command("update")
@click.argument("slug")
@click.argument("policy_id", type=int)
@click.argument("body", type=click.File("r"))
def policies_update(slug: str, policy_id: int, body: IO[str]) -> None:
    """Change a policy with BODY (the fields to change, JSON); a change to its timing
    re-plans the levels of the account's open tasks before this returns."""
    data = json_body(body)
    if not isinstance(data, dict):
        raise click.ClickException("the body must be a JSON object")
    try:
        with account_context(slug):
            row = policies.update_escalation_policy(policy_id, **data)
    except TaskError as exc:
        raise fail(exc) from None
    click.echo(json.dumps(dataclasses.asdict(row), indent=2))

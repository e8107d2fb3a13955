"""Background work a change asks for, recorded in the change's own transaction: a
recompute of the open tasks whose targets and escalation levels it moves.

A change to a calendar's rules, to the calendar or escalation policy that an account, a
team or a workflow names, or to a policy's levels moves its open tasks' targets and
timers. The command that makes such a change records a pending ``Operation`` of kind
``RECOMPUTE`` here and returns it; the caller hands it to the workers once it commits
(``commands.recompute`` does the work, and the recovery sweep hands over any that were
not), or runs it in-process (the Python API).
"""

from __future__ import annotations

from typing import Final

from sqlmodel import Session

from tasks_service.store.models import Account, Operation, Team, Workflow

RECOMPUTE: Final = "calendar.recompute"
#: What a recompute may be limited to (none: all of the account's open tasks).
SCOPES: Final = ("calendar_id", "team_id", "workflow_id")
#: What an account, a team or a workflow names that moves its open tasks' targets and
#: escalation levels.
MOVERS: Final = ("calendar_id", "escalation_policy_id")


def request_recompute(
    session: Session, account_id: int, person_id: int | None, scope: dict[str, int]
) -> Operation:
    """Record a pending recompute of the account's open tasks in ``scope`` (one of
    ``SCOPES``, or empty for all of them)."""
    assert set(scope) <= set(SCOPES)
    op = Operation(
        account_id=account_id, person_id=person_id, kind=RECOMPUTE, payload={"scope": scope}
    )
    session.add(op)
    session.flush()
    return op


def movers(row: Account | Team | Workflow) -> tuple[int | None, ...]:
    return tuple(getattr(row, name) for name in MOVERS)


def request_if_moved(
    session: Session,
    row: Account | Team | Workflow,
    before: tuple[int | None, ...],
    person_id: int | None,
    scope: dict[str, int],
) -> Operation | None:
    """After a change to ``row`` (``before``: its ``movers`` until then): one recompute
    of its tasks if its calendar or policy changed, else None."""
    if movers(row) == before:
        return None
    account_id = row.id if isinstance(row, Account) else row.account_id
    assert account_id is not None
    return request_recompute(session, account_id, person_id, scope)

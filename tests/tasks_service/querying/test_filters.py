"""The 4me filter language in-process: each operator's SQL, lists, aliases, and a
clear error naming the field and the reason for what cannot be used."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql

from tasks_service.querying.filters import QueryError, parse_filters
from tasks_service.querying.resources import TASK_QUERY


def _sql(params: list[tuple[str, str]]) -> str:
    condition = parse_filters(TASK_QUERY, params)
    compiled = condition.compile(
        dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
    )
    return str(compiled)


def test_filters_are_anded_and_reserved_parameters_skipped() -> None:
    condition = parse_filters(
        TASK_QUERY, [("status", "assigned"), ("impact", "high"), ("page", "2"), ("sort", "-id")]
    )
    assert " AND " in str(condition)
    with pytest.raises(QueryError) as info:
        parse_filters(TASK_QUERY, [("bogus!", "1")])
    assert info.value.field == "bogus"


@pytest.mark.parametrize(
    ("params", "sql"),
    [
        ([("impact", "high")], "task.impact = 'high'"),
        ([("impact", "high,top")], "task.impact IN ('high', 'top')"),
        ([("impact!", "high")], "task.impact != 'high' OR task.impact IS NULL"),
        ([("impact", "!high")], "task.impact != 'high' OR task.impact IS NULL"),
        ([("team", "")], "task.team_id IS NULL"),
        ([("team", "!")], "task.team_id IS NOT NULL"),
        ([("planned_duration", ">=60<=600")], "task.planned_duration >= 60"),
        ([("status", "complete")], "task.status IN ('completed', 'approved')"),  # Trackops
    ],
)
def test_each_operator_becomes_its_condition(params: list[tuple[str, str]], sql: str) -> None:
    assert sql in _sql(params)


@pytest.mark.parametrize(
    ("params", "field", "reason"),
    [
        ([("impact", "huge")], "impact", "is not one of"),
        ([("id", "one")], "id", "is not a whole number"),
        ([("id", "99999999999")], "id", "out of range"),
        ([("subject", "<b")], "subject", "only numbers and date-times can be compared"),
        ([("created_at", "yesterday")], "created_at", "not an ISO 8601 date-time"),
        ([("impact", "high,,top")], "impact", "an empty item"),
        ([("planned_duration", "!<5")], "planned_duration", "cannot be negated"),
    ],
)
def test_what_cannot_be_used_names_the_field_and_why(
    params: list[tuple[str, str]], field: str, reason: str
) -> None:
    with pytest.raises(QueryError) as info:
        parse_filters(TASK_QUERY, params)
    assert info.value.field == field
    assert reason in info.value.message

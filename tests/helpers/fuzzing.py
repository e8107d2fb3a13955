"""schemathesis' engine run in-process against the WSGI app, and what it found.

The run is what ``schemathesis run`` does (its phases: examples, coverage, fuzzing and
the stateful run over the document's links, with every default check), driven from
Python because the CLI reaches an app only over the network.

One check is narrowed, with its reason (``refused_for_state``), and one bug of the
library's WSGI transport is worked around (``_drop_socket_options``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import Failure
from schemathesis.engine import events, from_schema
from schemathesis.specs.openapi.checks import RejectedPositiveData, positive_data_acceptance
from schemathesis.transport.wsgi import WSGITransport

#: Error codes that say a schema-valid request met the data or the world it names, not
#: that its shape is wrong. No document can say these ahead; every other refusal of a
#: valid request is a failure.
STATE_CODES = frozenset(
    {
        "not_found",  # a record it refers to does not exist (a person, a calendar...)
        "taken",  # a unique name or email already in use
        "reused",  # an Idempotency-Key already used for another request
        "idempotency_key_reused",  # (the same, in Box's shape)
        "unknown_cursor",  # a search_after cursor: only ever made by the server
        "unsafe_address",  # a webhook host that resolves to a private network
        "invalid_status_transition",  # the resource's status does not allow the change
        # a status the task's stored category does not have (against a category in
        # the same body, the document states it: TaskUpdate's rules)
        "invalid_for_category",
        "unchanged_status",  # a note for a change of status it is in already
        "not_in_workflow",  # a failure task or phase for a task in no workflow
        "self_link",  # a link from a task to itself (the path names it twice)
        "no_service_hours",  # an update leaving the stored calendar without hours
        "country_required",  # a holiday_subdivision for a calendar with no country
        "no_assignee",  # assigned, for a task with no team or member (stored)
        # waiting_until, for a task not waiting (its stored status; beside a status in
        # the same body, the document states it)
        "requires_waiting_for",
        # Relations between a list's items, which JSON Schema has no words for: a
        # service range ends after it starts, a day's ranges do not overlap.
        "range_order",
        "ranges_overlap",
        "unknown_subdivision",  # a holiday_subdivision that its holiday_country has not
        # a workflow template's relations name its own task templates and phases
        "not_in_template",
        "own_failure_task",
    }
)

PHASES = ("examples", "coverage", "fuzzing", "stateful")


def _drop_socket_options() -> None:
    """schemathesis 4.32.5's WSGI transport passes the engine's socket options
    (``max_redirects``, ``verify``...) on to werkzeug's client when the call has no
    requests session, which fails every such call (``EnvironBuilder.__init__() got an
    unexpected keyword argument 'max_redirects'``); in-process they mean nothing."""
    send = WSGITransport.send
    if getattr(send, "drops_socket_options", False):
        return

    def sending(self: WSGITransport, case: Any, **kwargs: Any) -> Any:
        for name in ("max_redirects", "verify", "cert", "proxies"):
            kwargs.pop(name, None)
        return send(self, case, **kwargs)

    sending.drops_socket_options = True  # type: ignore[attr-defined]
    WSGITransport.send = sending  # type: ignore[method-assign]


def _error_codes(body: Any) -> list[str]:
    """The codes of an answer in our error shape or Box's."""
    if not isinstance(body, dict):
        return []
    details = body.get("context_info") if body.get("type") == "error" else body
    if not isinstance(details, dict):
        return []
    entries = details.get("errors") or []
    codes = [e.get("code") or e.get("reason") for e in entries if isinstance(e, dict)]
    return [str(c) for c in codes] or [str(details.get("code"))]


def answer_codes(response: Any) -> list[str]:
    try:
        return _error_codes(json.loads(response.content or b"null"))
    except ValueError:
        return []


def refused_for_state(response: Any) -> bool:
    """A 4xx whose every reason is about the data the request met (``STATE_CODES``)."""
    # (``too_many_errors`` only says the list was cut: "and N more" of the same)
    codes = [code for code in answer_codes(response) if code != "too_many_errors"]
    return bool(codes) and all(code in STATE_CODES for code in codes)


@schemathesis.check
def positive_data_acceptance_but_state(ctx: Any, response: Any, case: Any) -> bool | None:
    """``positive_data_acceptance``, except a refusal for the state the request met
    (``STATE_CODES``): a schema-valid task naming a person who does not exist is
    rightly a 422, which the document cannot foresee."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if refused_for_state(response):
            return None
        raise


def config(headers: dict[str, str], max_examples: int, seed: int) -> SchemathesisConfig:
    _drop_socket_options()
    return SchemathesisConfig.from_dict(
        {
            "headers": headers,
            "seed": seed,
            "workers": 1,
            "generation": {"max-examples": max_examples},
            "phases": {name: {"enabled": True} for name in PHASES},
            # replaced by positive_data_acceptance_but_state (its reason above)
            "checks": {"positive_data_acceptance": {"enabled": False}},
        }
    )


@dataclass(frozen=True)
class Found:
    operation: str
    check: str
    title: str
    message: str
    request: str
    status: int | None
    answer: str
    codes: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"{self.operation} [{self.check}] {self.title}: {self.message}\n"
            f"    {self.request}\n    -> {self.status} {list(self.codes)} {self.answer}"
        )


@dataclass
class Run:
    found: list[Found]
    errors: list[str]
    scenarios: int
    phases: dict[str, str]
    #: the checks that ran, on at least one answer
    checks: set[str]


def run(schema: Any, only: Iterable[str] | None = None) -> Run:
    """Run the engine over ``schema`` (or the operations whose label is in ``only``)."""
    if only is not None:
        labels = set(only)
        schema = schema.include(func=lambda ctx: ctx.operation.label in labels)
    outcome = Run([], [], 0, {}, set())
    seen: set[tuple[str, str, str]] = set()
    for event in from_schema(schema).execute():
        if isinstance(event, events.ScenarioFinished):
            outcome.scenarios += 1
            _collect(event, outcome, seen)
        elif isinstance(event, events.NonFatalError):
            outcome.errors.append(f"{event.label}: {event.value!r}")
        elif isinstance(event, events.FatalError):
            raise event.exception
        elif isinstance(event, events.PhaseFinished):
            outcome.phases[str(event.phase.name)] = str(event.status)
    return outcome


def _collect(event: events.ScenarioFinished, outcome: Run, seen: set) -> None:
    recorder = event.recorder
    for case_id, checks in recorder.checks.items():
        for check in checks:
            outcome.checks.add(check.name)
            if check.failure_info is None:
                continue
            failure: Failure = check.failure_info.failure
            key = (recorder.label, check.name, failure.title)
            if key in seen:
                continue
            seen.add(key)
            case = recorder.cases[case_id].value if case_id in recorder.cases else None
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction is not None else None
            request = ""
            if case is not None:
                headers = {k: v for k, v in (case.headers or {}).items() if k != "Authorization"}
                body = (
                    "" if case.body is None or type(case.body).__name__ == "NotSet" else case.body
                )
                request = f"{case.method} {case.formatted_path} {case.query or ''} {headers} {body}"
            outcome.found.append(
                Found(
                    operation=recorder.label,
                    check=check.name,
                    title=failure.title,
                    message=" ".join(str(failure.message).split())[:300],
                    request=request[:400],
                    status=response.status_code if response is not None else None,
                    answer=(response.content or b"")[:300].decode("utf-8", "replace")
                    if response is not None
                    else "",
                    codes=tuple(answer_codes(response)) if response is not None else (),
                )
            )

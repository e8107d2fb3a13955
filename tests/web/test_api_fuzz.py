"""The API held to its own document: schemathesis (4.x) in-process against the WSGI app
(``schemathesis.openapi.from_wsgi``), on both backends, with the suite's real worker
applying the durable commands.

Every operation of ``/v1/openapi.json`` goes through schemathesis' phases (the
document's examples, coverage of each parameter's edges and negations, random
fuzzing, and the stateful run that follows the document's links: a created task's id
into its GET/PATCH/notes/labels, a 202's operation into ``GET /v1/operations/:id``),
with every default check. One check is narrowed, with its reason, in
``tests.helpers.fuzzing`` (``positive_data_acceptance_but_state``); none is off.
"""

from __future__ import annotations

import pytest
import schemathesis
from flask import Flask

from tests.helpers import AccountInfo, ProcessGroup, fuzzing

#: Examples per operation and phase: what the CI budget allows on two backends (the
#: coverage phase adds its own edge cases whatever this is). Fixed seed: a failure
#: found in CI is found again on a laptop.
MAX_EXAMPLES = 10
SEED = 17
#: The checks the issue names (schemathesis' defaults), each of which must have run.
CHECKS = {
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "positive_data_acceptance_but_state",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
}


# Over the suite's 300 s: 132 operations through four phases take 4 to 6.5 minutes a
# backend on this machine's 2 cores (6 min 10 s to 6 min 20 s measured with both
# backends at once). The bound stays, to stop a hang.
@pytest.mark.timeout(900)
def test_every_operation_keeps_to_the_document(
    app: Flask, account: AccountInfo, worker: ProcessGroup
) -> None:
    headers = {"Authorization": f"Bearer {account.token}", "X-Xurrent-Account": account.slug}
    config = fuzzing.config(headers, MAX_EXAMPLES, SEED)
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", app, config=config)
    run = fuzzing.run(schema)
    assert not run.errors, "\n".join(run.errors)
    report = "\n\n".join(str(found) for found in run.found)
    assert not run.found, f"{len(run.found)} failures:\n{report}"
    # every phase that generates ran (one skipped, say the stateful one for want of
    # links, would pass vacuously); the examples phase has nothing to run, as the
    # document gives no examples of its own
    assert {run.phases[p] for p in fuzzing.PHASES if p != "examples"} == {"success"}, run.phases
    assert run.phases["examples"] in ("success", "skip"), run.phases
    assert run.checks >= CHECKS, CHECKS - run.checks
    assert run.scenarios >= len(list(schema.get_all_operations()))

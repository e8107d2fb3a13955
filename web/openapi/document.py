"""The OpenAPI 3.1 document, generated from the app: its url_map gives the paths, the
methods and the path parameters; the route table (``openapi.table``) names each
endpoint's models and list declaration; pydantic writes their JSON Schemas (2020-12,
which OpenAPI 3.1 uses as it is); the list declarations (``querying.resources``) give
the filters, ``sort`` and ``fields`` a collection takes (``openapi.parameters``).

Why generated and not written: the routes stay plain Flask with our own error shape,
and the document cannot drift from the code: a field added to a model, a filter added
to a collection or a route added to the app is in the document at once (a test fails
for a route without its line in the table).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from werkzeug.routing import Rule

from tasks_service.core.documented import FREE_JSON, FREE_JSON_SCHEMA
from tasks_service.core.validation import MAX_ID
from tasks_service.store.schemas.operations import OperationPublic
from web.http import MAX_PER_PAGE
from web.openapi import parameters
from web.openapi.table import ROUTES, Route

TITLE = "tasks-service"
VERSION = "1"
#: The methods a route answers that the document does not list one by one.
IMPLIED = frozenset({"HEAD", "OPTIONS"})
_REF = "#/components/schemas/{model}"
OPERATION_GET = "v1.operations.get_operation.get"
_CONVERTER = re.compile(r"<(?:(?P<converter>[a-z]+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error of /v1: what went wrong, a code to act on, each field's.",
    "properties": {
        "message": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": "string"},
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "required": ["message", "code", "errors"],
}
BOX_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Box's error shape, for every error under /2.0.",
    "properties": {
        "type": {"const": "error"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "message": {"type": "string"},
        "context_info": {"type": "object"},
        "help_url": {"type": "string"},
        "request_id": {"type": "string"},
    },
    "required": ["type", "status", "code", "message"],
}

_HEADER_TEXT = {"schema": {"type": "string"}}
_HEADER_COUNT = {"schema": {"type": "integer", "minimum": 0}}
PAGE_HEADERS: dict[str, Any] = {
    "Link": {**_HEADER_TEXT, "description": "RFC 8288 links: first, prev, next, last"},
    "X-Pagination-Per-Page": {**_HEADER_COUNT, "required": True},
    "X-Pagination-Current-Page": {**_HEADER_COUNT, "required": True},
    "X-Pagination-Total-Pages": {**_HEADER_COUNT, "required": True},
    "X-Pagination-Total-Entries": {**_HEADER_COUNT, "required": True},
}
RETRY_AFTER = {"Retry-After": {**_HEADER_COUNT, "description": "seconds to wait"}}

#: Why each refusal happens, as the document says it.
REFUSALS = {
    400: "A query parameter, a header or the JSON itself is unusable",
    401: "No token, an unknown one, or no account header",
    403: "The token's person may not do this",
    404: "No such resource in the token's account",
    405: "The resource does not take this method",
    409: "The state of the resource does not allow it now",
    413: "The body is larger than the limit",
    414: "The URL is longer than the limit",
    415: "The body is not JSON",
    422: "The body does not validate: every field named, with why",
    431: "The request headers are larger than the limit",
    503: "The database or the broker is unavailable: nothing was stored",
}


def build(app: Flask) -> dict[str, Any]:
    """The whole document for ``app``: every rule of its url_map but the static files."""
    rules = [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]
    components = _components([ROUTES[rule.endpoint] for rule in rules])
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(rules, key=lambda r: r.rule):
        route = ROUTES[rule.endpoint]
        for path, fixed in expand(rule):
            item = paths.setdefault(path, {})
            for method in sorted((rule.methods or set()) - IMPLIED):
                item[method.lower()] = _operation(rule, route, method, fixed)
    _link_created(paths)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "description": (
                "Tasks for operations teams, in 4me / Xurrent's REST conventions under"
                " /v1 and Box's under /2.0. Every write is a durable command applied by"
                " a worker: it answers with its outcome, or 202 with the operation"
                " while it is pending (Prefer: respond-async asks for that at once)."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "an API token"},
                "ops_session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "ops_session",
                    "description": "the operator page's session, made by signing in",
                },
                "account": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Xurrent-Account",
                    "description": "the account's slug (4me's X-4me-Account also works)",
                },
            },
        },
    }


def _link_created(paths: dict[str, dict[str, Any]]) -> None:
    """Links from what a create answers to what can be done with it: the id of a task
    made by ``POST /v1/tasks`` goes to ``GET``/``PATCH /v1/tasks/{task_id}``, its notes,
    labels...: every operation on a path below the collection's, one parameter deeper."""
    for path, item in paths.items():
        created = item.get("post", {}).get("responses", {}).get("201")
        if created is None:
            continue
        below = re.compile(re.escape(path) + r"/\{(\w+)\}(/[^{}]*)?$")
        links: dict[str, Any] = {}
        for other, other_item in paths.items():
            match = below.match(other)
            if match is None:
                continue
            for _method, op in other_item.items():
                links[op["operationId"].replace(".", "_")] = {
                    "operationId": op["operationId"],
                    "parameters": {match.group(1): "$response.body#/id"},
                }
        if links:
            created["links"] = links


def expand(rule: Rule) -> Iterator[tuple[str, dict[str, str]]]:
    """The OpenAPI paths of a rule: ``<id:task_id>`` becomes ``{task_id}``; a rule with
    ``<any(a, b):view>`` is one path per choice (a template ``{view}`` beside
    ``{task_id}`` would be the same path twice), with the choice fixed."""
    choices = [
        (m.group("name"), [c.strip() for c in m.group("args").split(",")])
        for m in _CONVERTER.finditer(rule.rule)
        if m.group("converter") == "any"
    ]
    combinations: list[dict[str, str]] = [{}]
    for name, values in choices:
        combinations = [{**done, name: value} for done in combinations for value in values]
    for fixed in combinations:

        def template(match: re.Match[str], fixed: dict[str, str] = fixed) -> str:
            name = match.group("name")
            return fixed.get(name, f"{{{name}}}")

        yield _CONVERTER.sub(template, rule.rule), fixed


def _path_parameters(rule: Rule, fixed: dict[str, str]) -> list[dict[str, Any]]:
    found = []
    for match in _CONVERTER.finditer(rule.rule):
        name, converter = match.group("name"), match.group("converter")
        if name in fixed:
            continue
        if converter == "id":
            schema: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        else:
            schema = {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}
            if converter == "path":
                schema = {"type": "string", "minLength": 1}
        found.append({"name": name, "in": "path", "required": True, "schema": schema})
    return found


def _ref(model: type[BaseModel] | str) -> dict[str, str]:
    name = model if isinstance(model, str) else model.__name__
    return {"$ref": _REF.format(model=name)}


def _operation(rule: Rule, route: Route, method: str, fixed: dict[str, str]) -> dict[str, Any]:
    operation_id = f"{rule.endpoint}.{method.lower()}"
    if fixed:
        operation_id += "." + ".".join(fixed.values())
    op: dict[str, Any] = {
        "operationId": operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": _path_parameters(rule, fixed),
        "responses": _responses(rule, route, method),
    }
    if route.many and route.query is not None:
        op["parameters"] += parameters.list_parameters(route.query, route.extra, MAX_PER_PAGE)
    body = _body_of(route, fixed)
    if method in ("POST", "PUT", "PATCH") and body:
        op["requestBody"] = _request_body(route, body)
    if route.fields:
        form = {"type": "object", "properties": {f: {"type": "string"} for f in route.fields}}
        op["requestBody"] = {"content": {"application/x-www-form-urlencoded": {"schema": form}}}
    if route.durable:
        op["parameters"] += [parameters.IDEMPOTENCY_KEY, parameters.PREFER]
    elif method in ("POST", "PUT", "PATCH", "DELETE") and not route.public:
        op["parameters"].append(parameters.IDEMPOTENCY_KEY)
    if route.public:
        op["security"] = []
    elif route.page and method == "GET":
        # signed out, the page answers with a redirect to its sign-in form
        op["security"] = [{"ops_session": []}, {}]
    elif route.page:
        op["security"] = [{"ops_session": []}]
    elif route.box or route.token_only:
        op["security"] = [{"bearer": []}]
    else:
        op["security"] = [{"bearer": [], "account": []}]
    return op


def _body_of(route: Route, fixed: dict[str, str]) -> tuple[type[BaseModel], ...]:
    if route.body_for is not None:
        return tuple(route.body_for[value] for value in fixed.values() if value in route.body_for)
    return route.body


def _request_body(route: Route, body: tuple[type[BaseModel], ...]) -> dict[str, Any]:
    shapes = [_ref(model) for model in body]
    schema: dict[str, Any] = shapes[0] if len(shapes) == 1 else {"anyOf": shapes}
    if route.wrapper:
        # Trackops' form: the same body under the resource's name
        wrapped = {
            "type": "object",
            "properties": {route.wrapper: schema},
            "required": [route.wrapper],
            "additionalProperties": False,
        }
        schema = {"anyOf": [schema, wrapped]}
    # An empty body is read as {}: refused only where a field is required (a create), an
    # update without one changes nothing.
    required = any(f.is_required() for model in body for f in model.model_fields.values())
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _success_schema(route: Route) -> dict[str, Any] | None:
    if route.shape is not None:
        return dict(route.shape)
    if route.answer is None:
        return None
    if route.many:
        return {"type": "array", "items": parameters.collection_item(route.answer)}
    return _ref(route.answer)


def _json(
    schema: dict[str, Any], description: str, media: str = "application/json", **more: Any
) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}, **more}


def _page_responses(route: Route, method: str) -> dict[str, Any]:
    """The operator page's answers: HTML, a redirect after each form."""
    html = {"text/html": {"schema": {"type": "string"}}}
    answers: dict[str, Any] = {"200": {"description": "The page", "content": html}}
    if method == "POST" or not route.public:
        location = {"Location": {**_HEADER_TEXT, "required": True}}
        answers["303"] = {"description": "On to the next page", "headers": location}
    for code in (400, 401, 403, 404, 405, 503):
        answers[str(code)] = {"description": REFUSALS[code], "content": html}
    return answers


def _responses(rule: Rule, route: Route, method: str) -> dict[str, Any]:
    if route.page:
        return _page_responses(route, method)
    responses: dict[str, Any] = {}
    schema = _success_schema(route)
    status = 200 if method == "GET" else route.success
    headers = dict(PAGE_HEADERS) if route.many else {}
    if rule.endpoint == "v1.feed.my_notifications":
        headers["X-Unread-Count"] = {**_HEADER_COUNT, "required": True}
    done: dict[str, Any] = {"description": "Done"}
    if status != 204 and schema is not None:
        done = _json(schema, "Done", route.media)
    if headers:
        done["headers"] = headers
    responses[str(status)] = done
    if route.durable and method != "GET":
        responses["202"] = _json(
            _ref(OperationPublic),
            "Accepted, not yet applied: GET the operation at Location for its outcome",
            headers={"Location": {**_HEADER_TEXT, "required": True}},
            links={
                "operation": {
                    "operationId": OPERATION_GET,
                    "parameters": {"operation_id": "$response.body#/id"},
                    "description": "the operation named in Location, for its outcome",
                }
            },
        )
    responses.update(_refusals(rule, route, method))
    return responses


def _refusals(rule: Rule, route: Route, method: str) -> dict[str, Any]:
    """The error answers an operation may give, each in its API's error shape."""
    if route.public:
        codes = {503} if rule.endpoint == "meta.readyz" else set()
        if "<" in rule.rule:  # a file of the docs page that is not there
            codes.add(404)
    else:
        # 403: a token whose person may not (an admin's list, a change of someone else's)
        codes = {400, 401, 403, 405, 414, 431, 503}
        # a path's record, a record a command's body names (its outcome), Box's task
        if "<" in rule.rule or route.box or route.durable:
            codes.add(404)
        if method in ("POST", "PUT", "PATCH", "DELETE"):
            codes |= {413, 415, 422}
        if route.conflicts:
            codes.add(409)
    error = _ref("BoxError" if route.box else "Error")
    answers = {}
    for code in sorted(codes):
        extra = {"headers": RETRY_AFTER} if code == 503 else {}
        answers[str(code)] = _json(error, REFUSALS[code], **extra)
    return answers


NO_NUL_PATTERN = "^[^\\x00]*$"


def _tidy(schema: Any) -> Any:
    """A model's schema as the document gives it: a field that may be left out but not
    sent as null (``subject: Subject = None``) has no default, as none of its values is
    null."""
    if isinstance(schema, list):
        return [_tidy(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    tidy = {key: _tidy(value) for key, value in schema.items()}
    if "default" in tidy and tidy["default"] is None and not _takes_null(tidy):
        del tidy["default"]
    if tidy.get("type") == "string" and not {"pattern", "enum", "const"} & set(tidy):
        # ``validate`` refuses NUL in any text of a body; other characters are the
        # field's own pattern's to say
        tidy["pattern"] = NO_NUL_PATTERN
    return tidy


def _takes_null(schema: dict[str, Any]) -> bool:
    if schema.get("type") == "null" or "null" in (schema.get("type") or []):
        return True
    return (
        any(
            isinstance(option, dict) and _takes_null(option)
            for option in schema.get("anyOf", []) + schema.get("oneOf", [])
        )
        or "$ref" in schema
    )


def _components(routes: list[Route]) -> dict[str, Any]:
    """Every model the routes name, input models as they validate and answers as they
    serialize (pydantic names the two forms of one model apart when they differ); and
    for each collection, its items: the same fields, of which a page shows those asked
    for (``?fields=``), its key always."""
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for route in routes:
        for model in route.body:
            wanted[(model, "validation")] = None
        if route.answer is not None:
            wanted[(route.answer, "serialization")] = None
    wanted[(OperationPublic, "serialization")] = None
    refs, schema = models_json_schema(list(wanted), ref_template=_REF, by_alias=True)
    schemas: dict[str, Any] = {name: _tidy(s) for name, s in schema.get("$defs", {}).items()}
    for route in routes:
        if route.many and route.answer is not None and route.query is not None:
            name = refs[(route.answer, "serialization")]["$ref"].rsplit("/", 1)[-1]
            item = {**schemas[name], "required": [route.query.key]}
            item["title"] = f"{schemas[name].get('title', name)} (fields of a page)"
            schemas[parameters.item_schema_name(route.answer)] = item
    schemas[FREE_JSON] = FREE_JSON_SCHEMA
    schemas["Error"] = ERROR_SCHEMA
    schemas["BoxError"] = BOX_ERROR_SCHEMA
    return schemas

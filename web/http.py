"""Request parsing and response helpers shared by the routes."""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

from flask import Response, current_app, g, jsonify, request
from pydantic import BaseModel
from werkzeug.routing import BaseConverter

from tasks_service.core.settings import Settings
from tasks_service.core.validation import MAX_ID, parse_json_int, validate
from tasks_service.querying.filters import Extra, ResourceQuery
from tasks_service.querying.paging import (
    DEFAULT_PER_PAGE,
    MAX_PAGE,
    MAX_PER_PAGE,
    ListQuery,
    Page,
    parse_list,
)
from web.errors import ApiError, error_response

M = TypeVar("M", bound=BaseModel)


def _decimal_up_to(limit: int) -> str:
    """A regular expression matching exactly the canonical decimal numbers 1..limit
    (ASCII digits, no sign, no leading zero)."""
    digits = str(limit)
    width = len(digits)
    alternatives = [f"[1-9][0-9]{{0,{width - 2}}}"] if width > 1 else []
    for i, digit in enumerate(digits):
        low = 1 if i == 0 else 0
        if int(digit) > low:
            rest = width - i - 1
            tail = f"[0-9]{{{rest}}}" if rest else ""
            alternatives.append(f"{digits[:i]}[{low}-{int(digit) - 1}]{tail}")
    alternatives.append(digits)
    return "(?:" + "|".join(alternatives) + ")"


class IdConverter(BaseConverter):
    """``<id:name>``: the canonical decimal form of an id that fits the database's id
    columns (1..2^31-1). Anything else (``01``, ``+1``, non-ASCII digits, 0, ids too
    large) does not match the route at all, so it is a 404 on every method: a range
    check after matching would leave the route's other methods to answer 405."""

    regex = _decimal_up_to(MAX_ID)
    part_isolating = True
    weight = 50

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


# Limits of the request head that the application enforces itself (the front refuses
# heads past web.front.MAX_HEAD_BYTES before parsing them).
MAX_URL_BYTES = 4 * 1024
MAX_HEADER_BYTES = 8 * 1024


def refuse_oversized_head(environ: dict[str, Any]) -> None:
    """414 for a URL over 4 KiB, 431 for header fields over 8 KiB in all."""
    target = environ.get("REQUEST_URI") or environ.get("RAW_URI")
    if target is None:  # a server that does not pass the raw request target on
        query = environ.get("QUERY_STRING", "")
        target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
    if len(target) > MAX_URL_BYTES:
        raise ApiError(414, "uri_too_long", "the URL is longer than the limit of 4 KiB")
    fields = [
        (key, str(value))
        for key, value in environ.items()
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")
    ]
    if sum(len(key) + len(value) + 4 for key, value in fields) > MAX_HEADER_BYTES:
        raise ApiError(
            431, "headers_too_large", "the request headers are larger than the limit of 8 KiB"
        )


def settings() -> Settings:
    value: Settings = current_app.config["SETTINGS"]
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def json_body(wrapper: str | None = None) -> Any:
    """The parsed JSON body: 415 unless JSON, 400 if malformed; ``{}`` when there is none.

    ``wrapper``: a body of the form ``{"task": {...}}`` (Trackops) is unwrapped.
    """
    raw = request.get_data(cache=True)
    if not raw:  # (whitespace alone is no JSON document: refused below)
        return {}
    if not request.is_json:
        raise ApiError(
            415,
            "unsupported_media_type",
            "send the body as JSON with Content-Type: application/json",
        )
    try:
        # NUL characters and huge integers are refused by ``validate``, naming the field
        data = json.loads(raw, parse_constant=_reject_constant, parse_int=parse_json_int)
    except (ValueError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, ValueError) else "nested too deeply"
        raise ApiError(400, "malformed_json", f"the body is not valid JSON: {message}") from None
    if (
        wrapper
        and isinstance(data, dict)
        and set(data) == {wrapper}
        and isinstance(data[wrapper], dict)
    ):
        data = data[wrapper]
    return data


def parse_body(
    model: type[M], readonly: frozenset[str] = frozenset(), wrapper: str | None = None
) -> M:
    """Validate the JSON body against ``model`` (422 naming every bad field)."""
    return validate(model, json_body(wrapper), readonly)


def int_arg(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    # ASCII digits only, no leading zero (the document's pattern): int() would also take
    # " 5", "+5", "05", "1_0" and other scripts' digits
    plain = raw.isascii() and raw.isdigit() and len(raw) <= 10 and raw[0] != "0"
    value = int(raw) if plain else low - 1
    if not low <= value <= high:
        raise ApiError(
            400,
            "invalid_parameter",
            f"{name} must be a whole number from {low} to {high}",
            [{"field": name, "code": "invalid_value", "message": f"must be from {low} to {high}"}],
        )
    return value


#: The list parameters that take one value: a second one would silently win.
SINGLE_VALUED = ("page", "per_page", "sort", "fields", "search_after", "before", "unread")


def list_query(resource: ResourceQuery, extra: Extra | None = None) -> ListQuery:
    """The request's filters, sort, fields and page (400 for anything unusable)."""
    g.query_read = True  # (``refuse_unread_query``: this route takes a query)
    for name in SINGLE_VALUED:  # filters may repeat (they are ANDed); these may not
        if len(request.args.getlist(name)) > 1:
            raise ApiError(
                400,
                "invalid_query",
                f"{name} is given more than once",
                [{"field": name, "code": "repeated", "message": "may be given once"}],
            )
    return parse_list(
        resource,
        list(request.args.items(multi=True)),
        page=int_arg("page", 1, 1, MAX_PAGE),
        per_page=int_arg("per_page", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE),
        extra=extra,
        cursor_threshold=settings().cursor_threshold,
    )


def _url(**changes: str | None) -> str:
    """This request's URL with the paging parameters replaced (the others kept)."""
    params = [
        (k, v) for k, v in request.args.items(multi=True) if k not in ("page", "search_after")
    ]
    params += [(k, v) for k, v in changes.items() if v is not None]
    # From the configured public URL, never from the request's Host header (a client
    # could point the links anywhere); relative when none is configured.
    base = settings().public_url or ""
    return f"{base}{quote(request.script_root + request.path)}?{urlencode(params)}"


def page_response(page: Page[Any], items: list[dict[str, Any]]) -> Response:
    """``items`` (in their full REST form) as a JSON array of the page's fields, with
    4me's pagination headers and an RFC 8288 ``Link`` header.

    Paged by number: ``first``, ``prev``, ``next``, ``last``; past the offset threshold
    ``next`` carries a cursor instead. Paged by cursor: ``next`` carries the cursor; a
    cursor walks forward, so ``first`` starts a new walk and there is no ``prev``/``last``.
    """
    wanted = set(page.fields)  # ?fields=, or the resource's collection fields
    response = jsonify([{k: v for k, v in item.items() if k in wanted} for item in items])
    response.headers["X-Pagination-Per-Page"] = str(page.per_page)
    response.headers["X-Pagination-Current-Page"] = str(page.page)
    response.headers["X-Pagination-Total-Pages"] = str(page.total_pages)
    response.headers["X-Pagination-Total-Entries"] = str(page.total)
    if page.cursor_mode:
        links = [(_url(search_after=""), "first")]
        if page.next_cursor is not None:
            links.append((_url(search_after=page.next_cursor), "next"))
    else:
        links = [(_url(page="1"), "first")]
        if page.page > 1:
            links.append((_url(page=str(min(page.page - 1, page.total_pages))), "prev"))
        if page.next_cursor is not None:
            links.append((_url(search_after=page.next_cursor), "next"))
        elif page.page < page.total_pages:
            links.append((_url(page=str(page.page + 1)), "next"))
        links.append((_url(page=str(page.total_pages)), "last"))
    response.headers["Link"] = ", ".join(f'<{url}>; rel="{rel}"' for url, rel in links)
    return response


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def actor() -> Any:
    return g.actor


def refuse_query_on_a_write() -> None:
    """No write takes query parameters: one sent (``PATCH /tasks/1?foo=bar``) is a 400
    before anything is changed, not ignored."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.args:
        raise _not_a_parameter(next(iter(request.args)))


def refuse_unread_query(response: Response) -> Response:
    """A read that is not a list takes no query parameters either (``?fields=`` on one
    task, ``?sort=`` on a team): the answer is a 400 naming the parameter instead of
    one that looks as if it had been applied; paging alone pages nothing there and is
    let be (``_PAGING``). (A GET changes nothing, so answering after the view is safe.)"""
    unread = [name for name in request.args if not _pages_nothing(name)]
    if unread and response.status_code < 400 and not g.get("query_read", False):
        error = _not_a_parameter(unread[0])
        body = {"message": error.message, "code": error.code, "errors": error.errors}
        return error_response(error.status, body)
    return response


#: Paging that a client sends with every GET (the public Xurrent SDK appends
#: ``per_page=100`` to each one, single records included): on a record it pages
#: nothing, and a well-formed value is let be. Any other parameter is refused.
_PAGING = {"per_page": 100, "page": 2**31 - 1}


def _pages_nothing(name: str) -> bool:
    raw = request.args.get(name, "")
    limit = _PAGING.get(name)
    return (
        limit is not None
        and len(request.args.getlist(name)) == 1
        and raw.isascii()
        and raw.isdigit()
        and len(raw) <= 10
        and 1 <= int(raw) <= limit
    )


def _not_a_parameter(name: str) -> ApiError:
    return ApiError(
        400,
        "invalid_query",
        f"{name}: this resource takes no query parameters",
        [{"field": name, "code": "unknown_parameter", "message": "is not a parameter here"}],
    )

"""What the API's document says input is, where a validator's rule is more than its
type: the patterns of days and moments, and the free-form JSON of ``custom_fields``.
``core.validation`` holds input to the same rules; ``web.openapi`` writes them out.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic.json_schema import WithJsonSchema

# What the document promises a day, a time of day and a moment are (``web.openapi``):
# forms the parsers below always take. Days up to the 28th, offsets up to 13 hours:
# every value written from them is in range.
DAY_PATTERN = r"(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])"
TIME_PATTERN = r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?"
OFFSET_PATTERN = r"(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])"
MOMENT_PATTERN = f"{DAY_PATTERN}T{TIME_PATTERN}{OFFSET_PATTERN}"


#: A free-form JSON value as the document gives it (``custom_fields``): any, but no NUL
#: in a text or a key at any depth (``_unreadable``). A component of the document
#: (``web.openapi``), as it refers to itself.
FREE_JSON = "FreeJson"
_NO_NUL = {"type": "string", "pattern": "^[^\\x00]*$"}
FREE_JSON_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "object",
            "propertyNames": _NO_NUL,
            "additionalProperties": {"$ref": f"#/components/schemas/{FREE_JSON}"},
        },
        {"type": "array", "items": {"$ref": f"#/components/schemas/{FREE_JSON}"}},
        _NO_NUL,
        {"type": ["number", "boolean", "null"]},
    ]
}
#: An object of free-form values (a task's ``custom_fields``).
FreeObject = Annotated[
    dict[str, Any],
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": _NO_NUL,
            "additionalProperties": {"$ref": f"#/components/schemas/{FREE_JSON}"},
        }
    ),
]

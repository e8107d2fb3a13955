"""How a resource's shape is declared, once: its input models (what a client may send:
``XCreate``, ``XUpdate``) and its public model (``XPublic``: what a GET shows, every
field in order). Every field list derives from these: what ``?fields=`` may ask for,
what a list shows by default, what is readonly (shown, but not writable by that name).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict


class PublicModel(BaseModel):
    """The REST form of a resource: exactly these fields, in this order (the serializers
    in ``querying.serializers`` build it; a test holds them to it)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Ref(BaseModel):
    """Another record, as a field shows it: ``{"id": 1, "name": "Ops"}``."""

    model_config = ConfigDict(extra="forbid")

    id: int
    name: str | None


class SubjectRef(BaseModel):
    """A task or a template, as a field shows it: ``{"id": 7, "subject": "Deploy"}``."""

    model_config = ConfigDict(extra="forbid")

    id: int
    subject: str


def field_names(model: type[BaseModel]) -> tuple[str, ...]:
    """The names a client uses for the model's fields (aliases such as ``sourceID``)."""
    return tuple(info.alias or name for name, info in model.model_fields.items())


def readonly_fields(
    public: type[BaseModel], *writable: type[BaseModel], also: Iterable[str] = ()
) -> frozenset[str]:
    """What a client may read but not write: the public fields that no input model takes
    under that name (plus ``also``: fields of 4me that this service shows nowhere but
    refuses as readonly). Sending one is a 422 ``readonly``, not silently ignored."""
    names = {name for model in writable for name in model.model_fields}
    names |= {name for model in writable for name in field_names(model)}
    return frozenset(set(field_names(public)) - names) | frozenset(also)


def pick(public: type[BaseModel], names: Iterable[str]) -> tuple[str, ...]:
    """A subset of the public fields (a collection's default ones), checked when the
    module loads: a name that is not a field is a mistake in the declaration."""
    chosen = tuple(names)
    unknown = set(chosen) - set(field_names(public))
    if unknown:
        raise ValueError(f"not fields of {public.__name__}: {sorted(unknown)}")
    return chosen

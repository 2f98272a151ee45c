"""Pydantic models made from the contracts' msgspec Structs, so the OpenAPI document describes exactly what
the services send: a field added to a contract shows up in the API's schema without anyone copying it.

``model_of(JobView)`` walks the Struct's fields (``msgspec.structs.fields``): nested Structs become models of
their own (made once, shared), and enums, literals, tuples, dicts, optional and ``Annotated`` fields keep
their meaning. A field with a default in the contract has one here; the response schema still marks it
required, since the services always send every field.
"""

from __future__ import annotations

import datetime
import functools
import operator
import types
import typing
from typing import Annotated, Any, Literal, Union

import msgspec
from pydantic import BaseModel, ConfigDict, Field, create_model

# msgspec.Meta's constraints that mean the same in pydantic's Field.
_CONSTRAINTS = ("gt", "ge", "lt", "le", "multiple_of", "pattern", "min_length", "max_length", "description")
_PLAIN = (str, int, float, bool, bytes, datetime.datetime, datetime.date, datetime.time, type(None))


class ContractModel(BaseModel):
    """The base of every model made here: what the services send is what the API answers."""

    model_config = ConfigDict(
        frozen=True, populate_by_name=True, json_schema_serialization_defaults_required=True
    )


def model_of(
    struct: type[msgspec.Struct],
    name: str | None = None,
    *,
    descriptions: dict[str, str] | None = None,
    **changes: tuple[Any, Any] | None,
) -> type[ContractModel]:
    """The model of ``struct``, named ``name`` (default: the Struct's name plus ``Out``).

    ``descriptions`` documents fields by their Struct name. ``changes`` adjust the API's shape where it is
    meant to differ from the contract: ``field=(type, default or Field(...))`` adds or replaces a field,
    ``field=None`` leaves one out.
    """
    fields: dict[str, Any] = {}
    for info in msgspec.structs.fields(struct):
        if info.name in changes:
            continue
        described = (descriptions or {}).get(info.name)
        fields[info.name] = (_annotation(info.type), _field(info, described))
    for field_name, change in changes.items():
        if change is not None:
            fields[field_name] = change
    model: type[ContractModel] = create_model(
        name or f"{struct.__name__}Out",
        __base__=ContractModel,
        __doc__=_doc(struct),
        **fields,
    )
    return model


def list_of(model: type[BaseModel]) -> Any:
    """``list[model]`` for a model made at run time (which a type checker cannot take as a type)."""
    return list[model]  # type: ignore[valid-type]


@functools.cache
def nested_model(struct: type[msgspec.Struct]) -> type[ContractModel]:
    """A Struct met inside another: one model per Struct, whoever meets it first."""
    return model_of(struct)


def _field(info: msgspec.structs.FieldInfo, description: str | None) -> Any:
    alias = info.encode_name if info.encode_name != info.name else None
    if info.default is not msgspec.NODEFAULT:
        return Field(default=info.default, alias=alias, description=description)
    if info.default_factory is not msgspec.NODEFAULT:
        return Field(default_factory=info.default_factory, alias=alias, description=description)
    return Field(alias=alias, description=description)


def _annotation(hint: Any) -> Any:
    """``hint`` with every Struct in it replaced by its model."""
    if isinstance(hint, type) and issubclass(hint, msgspec.Struct):
        return nested_model(hint)
    if hint in _PLAIN or hint is Any or isinstance(hint, type):  # plain types and enums stay as they are
        return hint
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return hint
    if origin is Annotated:
        return Annotated[_annotation(args[0]), *(_constraint(meta) for meta in args[1:])]
    if origin in (Union, types.UnionType):
        return functools.reduce(operator.or_, (_annotation(arg) for arg in args))
    if origin in (tuple, list, set, frozenset, dict):
        inner = tuple(arg if arg is Ellipsis else _annotation(arg) for arg in args)
        return origin[inner] if inner else origin
    raise TypeError(f"no model for the contract type {hint!r}")


def _constraint(meta: object) -> Any:
    if not isinstance(meta, msgspec.Meta):
        return meta
    return Field(**{key: getattr(meta, key) for key in _CONSTRAINTS if getattr(meta, key) is not None})


def _doc(struct: type[msgspec.Struct]) -> str:
    """The Struct's own docstring, or a line naming it (a model's docstring becomes its schema's text)."""
    own = struct.__dict__.get("__doc__")
    return own or f"The contracts' ``{struct.__name__}``."

"""Which requests the official API documents (``../shared/specs``) list: method, templated path, query
parameter names (and, where the document types them, their values) and the JSON body's schema."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .plex import PLEX_TV_PREFIX
from .recording import Seen

SPECS = Path(__file__).resolve().parents[5].parent / "shared" / "specs"


# --- what the API documents -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    pattern: re.Pattern[str]
    template: str
    query: frozenset[str]  # documented query parameter names
    body_schema: dict[str, Any] | None
    query_types: dict[str, str] = field(default_factory=dict)  # name -> integer, boolean, … where typed


@dataclass(frozen=True)
class Spec:
    """The operations an OpenAPI document lists, matched by method and (templated) path."""

    operations: tuple[Operation, ...]
    document: dict[str, Any]

    def find(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method.upper() and op.pattern.fullmatch(path):
                return op
        return None

    def problems(self, seen: Seen) -> list[str]:
        """Why a request is not one the document lists (empty: it is)."""
        op = self.find(seen.method, seen.path)
        if op is None:
            return [f"{seen.method} {seen.path} is not a documented operation"]
        undocumented = seen.params() - op.query
        if undocumented:
            return [f"{seen.method} {op.template}: undocumented query parameters {sorted(undocumented)}"]
        wrong = [
            f"{name}={value!r} is not {op.query_types[name]}"
            for name, value in seen.query
            if not _typed(value, op.query_types.get(name))
        ]
        if wrong:
            return [f"{seen.method} {op.template}: {'; '.join(wrong)}"]
        return []

    def body_problems(self, schema: dict[str, Any], body: Any) -> list[str]:
        """Why ``body`` does not match ``schema`` (one of this document's), OpenAPI's ``nullable`` included."""
        root = {**_json_schema(schema), "components": _json_schema(self.document.get("components", {}))}
        validator = jsonschema.Draft7Validator(root)
        return [f"{list(e.absolute_path)}: {e.message[:200]}" for e in validator.iter_errors(body)]


def _typed(value: str, kind: str | None) -> bool:
    if kind == "integer":
        return re.fullmatch(r"-?\d+", value) is not None
    if kind == "boolean":
        return value in {"true", "false"}
    if kind == "number":
        return re.fullmatch(r"-?\d+(\.\d+)?", value) is not None
    return True


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's schema dialect as JSON Schema: ``nullable: true`` becomes a null alternative."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    converted = {k: _json_schema(v) for k, v in node.items() if k not in {"nullable", "readOnly", "format"}}
    if node.get("nullable"):
        if "type" in converted:
            converted["type"] = [converted["type"], "null"]
        elif "$ref" in converted:
            converted = {"anyOf": [{"$ref": converted.pop("$ref")}, {"type": "null"}]}
        elif "enum" in converted:
            converted["enum"] = [*converted["enum"], None]
    return converted


def _pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for key in node["$ref"].removeprefix("#/").split("/"):
            target = target[key]
        node = target
    return node


def _query_types(document: dict[str, Any], parameters: list[dict[str, Any]]) -> dict[str, str]:
    found = {}
    for raw in parameters:
        parameter = _resolve(document, raw)
        schema = _resolve(document, parameter.get("schema") or {})
        if parameter.get("in") == "query" and schema.get("type") in {"integer", "boolean", "number"}:
            found[parameter["name"]] = schema["type"]
    return found


def _query_names(document: dict[str, Any], parameters: list[dict[str, Any]]) -> frozenset[str]:
    names = set()
    for raw in parameters:
        parameter = _resolve(document, raw)
        if parameter.get("in") != "query":
            continue
        schema = _resolve(document, parameter.get("schema") or {})
        if parameter.get("explode") and schema.get("type") == "object" and "properties" in schema:
            names.update(schema["properties"])  # form-exploded object: its properties are the names
        else:
            names.add(parameter["name"])
    return frozenset(names)


def _load(document: dict[str, Any], server_prefix: str | None) -> Spec:
    """Operations of ``document``; with ``server_prefix``, only those served there (their full path), else
    only those served by the document's default servers."""
    operations = []
    for template, item in document["paths"].items():
        for method, op in item.items():
            if method not in {"get", "post", "put", "delete", "patch", "head"}:
                continue
            servers = op.get("servers") or item.get("servers")
            if server_prefix is None and servers:
                continue
            if server_prefix is not None and not any(s["url"].endswith(server_prefix) for s in servers or ()):
                continue
            full = (server_prefix or "") + template
            parameters = [*item.get("parameters", []), *op.get("parameters", [])]
            body = (op.get("requestBody") or {}).get("content", {}).get("application/json", {}).get("schema")
            operations.append(
                Operation(
                    method.upper(),
                    _pattern(full),
                    full,
                    _query_names(document, parameters),
                    body,
                    _query_types(document, parameters),
                )
            )
    return Spec(tuple(operations), document)


@cache
def _plex_document() -> dict[str, Any]:
    return yaml.safe_load((SPECS / "plex.openapi.yaml").read_text())  # type: ignore[no-any-return]


@cache
def plex_server_spec() -> Spec:
    return _load(_plex_document(), None)


@cache
def plex_tv_spec() -> Spec:
    return _load(_plex_document(), PLEX_TV_PREFIX)


@cache
def jellyfin_spec() -> Spec:
    return _load(json.loads((SPECS / "jellyfin.openapi.json").read_text()), None)


@cache
def arr_spec(app: str) -> Spec:
    """Sonarr's (v3, for v3 and v4), Radarr's (v3) or Lidarr's (v1) document."""
    name = {"sonarr": "sonarr-v3", "radarr": "radarr-v3", "lidarr": "lidarr-v1"}[app]
    return _load(json.loads((SPECS / f"{name}.openapi.json").read_text()), None)

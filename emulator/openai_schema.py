"""Request bodies checked against OpenAI's published request schemas, with the API's own error wording.

The schemas are a cut of the published spec (``openai_request_schemas.json``,
vendored so the emulator needs nothing outside itself; tests/emulator checks
the cut against the full spec).  The API is stricter than the spec in one way
we copy: an object that lists its properties accepts no others ("Unknown
parameter"), unless the spec gives it ``additionalProperties``.  Multipart
forms carry every field as text, so there numbers and booleans are read from
their text first, as the API does, and file parts are checked by the handler.

Error wording follows what api.openai.com answers (see
docs/emulator-assumptions.md): ``Invalid type for 'n': expected an integer,
but got a string instead.`` (``invalid_type``), ``Unknown parameter: 'x'.``
(``unknown_parameter``), ``Missing required parameter: 'x'.``, range and
length messages with ``*_above_max_value`` / ``*_below_min_value`` codes.
"""
from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

SCHEMAS_PATH = Path(__file__).with_name("openai_request_schemas.json")


class SchemaViolation(Exception):
    def __init__(self, param: str | None, message: str, code: str):
        super().__init__(message)
        self.param, self.message, self.code = param, message, code


# Where the 2026-08 spec is older than today's API (openai-python 3.51 types): the 2.5 models' extra
# qualities, arbitrary WxH on JSON edits (gpt-image-2 and later), and safety_identifier (which replaces user).
_QUALITIES = ["standard", "hd", "low", "medium", "high", "xhigh", "max", "auto"]
_SPEC_UPDATES: dict[tuple[str, str], dict] = {
    ("CreateImageRequest", "quality"): {"type": "string", "enum": _QUALITIES, "nullable": True},
    ("CreateImageEditRequest", "quality"): {"type": "string", "enum": _QUALITIES, "nullable": True},
    ("EditImageBodyJsonParam", "quality"): {"type": "string", "enum": _QUALITIES, "nullable": True},
    ("EditImageBodyJsonParam", "size"): {"type": "string", "nullable": True},
    ("CreateImageRequest", "safety_identifier"): {"type": "string"},
    ("CreateImageEditRequest", "safety_identifier"): {"type": "string"},
    ("EditImageBodyJsonParam", "safety_identifier"): {"type": "string"},
}


@lru_cache(maxsize=1)
def _schemas() -> dict[str, Any]:
    schemas = json.loads(SCHEMAS_PATH.read_text(encoding="utf-8"))["components"]["schemas"]
    for (name, prop), schema in _SPEC_UPDATES.items():
        schemas[name]["properties"][prop] = schema
    return schemas


def _resolve(node: dict) -> dict:
    while isinstance(node, dict) and "$ref" in node:
        node = _schemas()[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


_NAMES = {"null": "null", "boolean": "a boolean", "integer": "an integer", "number": "a decimal",
          "string": "a string", "array": "an array", "object": "an object"}


def _matches(kind: str, wanted: str) -> bool:
    return kind == wanted or (wanted == "number" and kind == "integer")


def _types(node: dict) -> list[str]:
    """The JSON types a schema admits at its top level (empty: any)."""
    node = _resolve(node)
    if "type" in node:
        found = node["type"] if isinstance(node["type"], list) else [node["type"]]
        return found + (["null"] if node.get("nullable") else [])
    if "properties" in node or "allOf" in node and any("properties" in _resolve(s) for s in node["allOf"]):
        return ["object"] + (["null"] if node.get("nullable") else [])
    branches = node.get("anyOf") or node.get("oneOf")
    if branches:
        out: list[str] = []
        for branch in branches:
            for t in _types(branch):
                if t not in out:
                    out.append(t)
        if out and node.get("nullable") and "null" not in out:
            out.append("null")
        return out
    return []


def _expected(types: list[str]) -> str:
    names = [_NAMES[t] for t in types if t != "null"] or ["a value"]
    return names[0] if len(names) == 1 else "one of " + " or ".join(names)


def _quoted_list(values: list) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) < 3:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _coerce(value: Any, types: list[str]) -> Any:
    """A form field's text read as the number or boolean the schema wants (multipart only)."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text == "null" and "null" in types:  # assumed: a form's "null" means "not set" where the spec allows null
        return None
    if "string" in types:
        return value
    if "integer" in types and re.fullmatch(r"-?\d+", text):
        return int(text)
    if "number" in types and re.fullmatch(r"-?\d+(\.\d+)?([eE][-+]?\d+)?", text):
        return float(text)
    if "boolean" in types and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return value


def _object_parts(node: dict) -> tuple[dict[str, list[dict]], list[str], Any]:
    """Properties (name -> every schema that constrains it), required names, additionalProperties of an object."""
    node = _resolve(node)
    props: dict[str, list[dict]] = {}
    required: list[str] = list(node.get("required", []))
    extra = node.get("additionalProperties")
    for name, sub in node.get("properties", {}).items():
        props.setdefault(name, []).append(sub)
    for member in node.get("allOf", []):
        p, r, e = _object_parts(member)
        for name, subs in p.items():
            props.setdefault(name, []).extend(subs)
        required += [x for x in r if x not in required]
        extra = extra if extra is not None else e
    return props, required, extra


def check(body: dict, schema_name: str, *, form: bool = False, top_unknown: str | None = None) -> dict:
    """Raise SchemaViolation for the first problem; return the body (form fields converted to their types).

    ``top_unknown`` replaces the wording for an unknown top-level parameter (chat's classic
    "Unrecognized request argument supplied: x").
    """
    return _check(_schemas()[schema_name], body, "", form, top_unknown)


def _check(node: dict, value: Any, path: str, form: bool, top_unknown: str | None = None) -> Any:
    node = _resolve(node)
    types = _types(node)
    if form:
        value = _coerce(value, types)
    if value is None and (node.get("nullable") or "null" in types):
        return value
    branches = node.get("anyOf") or node.get("oneOf")
    if branches and "properties" not in node and "type" not in node:
        return _check_branches(branches, value, path, form)
    kind = _kind(value)
    if types and not any(_matches(kind, t) for t in types):
        raise SchemaViolation(path or None, f"Invalid type for '{path}': expected {_expected(types)}, but got "
                                            f"{_NAMES[kind]} instead.", "invalid_type")
    if "enum" in node and value not in node["enum"]:
        if not (value is None and None in node["enum"]):
            raise SchemaViolation(path or None, f"Invalid value: '{value}'. Supported values are: "
                                                f"{_quoted_list([v for v in node['enum'] if v is not None])}.",
                                  "invalid_value")
    if kind in ("integer", "number"):
        _check_range(node, value, path, "integer" if "integer" in types else "decimal")
    elif kind == "string":
        _check_length(node, value, path)
    elif kind == "array":
        _check_array(node, value, path, form)
    elif kind == "object" and ("properties" in node or "allOf" in node):
        value = _check_object(node, value, path, form, top_unknown)
    elif kind == "object" and isinstance(node.get("additionalProperties"), dict):
        for key, item in value.items():
            _check(node["additionalProperties"], item, _join(path, key), form)
    if branches and ("properties" in node or "type" in node):
        _check_branches(branches, value, path, form)
    excluded = node.get("not", {}).get("required")
    if kind == "object" and excluded and all(name in value for name in excluded):
        raise SchemaViolation(path or None, f"Invalid '{path}': give only one of {_quoted_list(excluded)}.".replace(
            ", and ", " or "), "invalid_value")
    return value


def _check_range(node: dict, value: float, path: str, word: str) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise SchemaViolation(path, f"Invalid '{path}': expected a finite number.", "invalid_value")
    high, low = node.get("maximum"), node.get("minimum")
    if high is not None and value > high:
        raise SchemaViolation(path, f"Invalid '{path}': {word} above maximum value. Expected a value <= {high:g}, "
                                    f"but got {value:g} instead.", f"{word}_above_max_value")
    if low is not None and value < low:
        raise SchemaViolation(path, f"Invalid '{path}': {word} below minimum value. Expected a value >= {low:g}, "
                                    f"but got {value:g} instead.", f"{word}_below_min_value")


def _check_length(node: dict, value: str, path: str) -> None:
    high, low = node.get("maxLength"), node.get("minLength")
    if high is not None and len(value) > high:
        raise SchemaViolation(path, f"Invalid '{path}': string too long. Expected a string with maximum length "
                                    f"{high}, but got a string with length {len(value)} instead.",
                              "string_above_max_length")
    if low is not None and len(value) < low:
        raise SchemaViolation(path, f"Invalid '{path}': string too short. Expected a string with minimum length "
                                    f"{low}, but got a string with length {len(value)} instead.",
                              "string_below_min_length")


def _check_array(node: dict, value: list, path: str, form: bool) -> None:
    high, low = node.get("maxItems"), node.get("minItems")
    if high is not None and len(value) > high:
        raise SchemaViolation(path, f"Invalid '{path}': array too long. Expected an array with maximum length "
                                    f"{high}, but got an array with length {len(value)} instead.",
                              "array_above_max_length")
    if low is not None and len(value) < low:
        if not value:
            raise SchemaViolation(path, f"Invalid '{path}': empty array. Expected an array with minimum length "
                                        f"{low}, but got an empty array instead.", "empty_array")
        raise SchemaViolation(path, f"Invalid '{path}': array too short. Expected an array with minimum length "
                                    f"{low}, but got an array with length {len(value)} instead.",
                              "array_below_min_length")
    if "items" in node:
        for i, item in enumerate(value):
            _check(node["items"], item, _join(path, i), form)


def _check_object(node: dict, value: dict, path: str, form: bool, top_unknown: str | None) -> dict:
    props, required, extra = _object_parts(node)
    binary = {name for name, subs in props.items() if any(_is_binary(s) for s in subs)}
    for name in value:
        if name not in props and extra in (None, False):
            if top_unknown and not path:
                raise SchemaViolation(None, top_unknown.format(name=name), "unknown_parameter")
            raise SchemaViolation(_join(path, name), f"Unknown parameter: '{_join(path, name)}'.",
                                  "unknown_parameter")
    for name in required:
        if name not in value and not (form and name in binary):  # file parts are the handler's business
            raise SchemaViolation(_join(path, name), f"Missing required parameter: '{_join(path, name)}'.",
                                  "missing_required_parameter")
    out = dict(value)
    for name, item in value.items():
        if name in props:
            for sub in props[name]:
                out[name] = _check(sub, out[name], _join(path, name), form)
        elif isinstance(extra, dict):
            _check(extra, item, _join(path, name), form)
    return out


def _is_binary(node: dict) -> bool:
    node = _resolve(node)
    if node.get("format") == "binary":
        return True
    return any(_is_binary(b) for b in (node.get("anyOf") or node.get("oneOf") or []))


def _check_branches(branches: list[dict], value: Any, path: str, form: bool) -> Any:
    """anyOf/oneOf: the first branch that accepts the value; else the error of the branch meant."""
    kind = _kind(value)
    errors: list[tuple[dict, SchemaViolation]] = []
    for branch in branches:
        try:
            return _check(branch, value, path, form)
        except SchemaViolation as err:
            errors.append((_resolve(branch), err))
    typed = [(b, e) for b, e in errors if not _types(b) or any(_matches(kind, t) for t in _types(b))]
    if not typed:
        wanted: list[str] = []
        for branch in branches:
            wanted += [t for t in _types(branch) if t not in wanted]
        raise SchemaViolation(path or None, f"Invalid type for '{path}': expected {_expected(wanted)}, but got "
                                            f"{_NAMES[kind]} instead.", "invalid_type")
    if kind == "object":  # the branch whose tag (role, type) the object carries is the one it meant
        for branch, err in typed:
            props, _, _ = _object_parts(branch)
            for tag in ("role", "type"):
                enums = [_resolve(s).get("enum") for s in props.get(tag, [])]
                if tag in value and any(e and value[tag] in e for e in enums):
                    raise err
        tags = [t for t in ("role", "type") if t in value or any(t in _object_parts(b)[0] for b, _ in typed)]
        for tag in tags[:1]:
            allowed: list = []
            for branch, _ in typed:
                for s in _object_parts(branch)[0].get(tag, []):
                    allowed += [v for v in (_resolve(s).get("enum") or []) if v not in allowed]
            if allowed:
                tag_path = _join(path, tag)
                if tag not in value:
                    raise SchemaViolation(tag_path, f"Missing required parameter: '{tag_path}'.",
                                          "missing_required_parameter")
                raise SchemaViolation(tag_path, f"Invalid value: '{value[tag]}'. Supported values are: "
                                                f"{_quoted_list(allowed)}.", "invalid_value")
    # Otherwise the deepest complaint says most about what is wrong.
    raise max((e for _, e in typed), key=lambda e: len(e.param or ""))

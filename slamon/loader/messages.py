"""Pydantic validation errors reworded for people, each with its stable code and place.

pydantic's ``loc`` is mapped back to the YAML document: tags of discriminated unions
(``http``, ``recurring``...) are dropped, a missing field points at the mapping that
should hold it, an unknown field at its key (with a did-you-mean), everything else at
the value. Values that may be secrets (headers, form fields, bodies) are never echoed.
"""

from __future__ import annotations

import difflib
import inspect
import re
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from yaml.nodes import ScalarNode

from slamon.core.durations import format_duration
from slamon.loader.yaml_nodes import DocPath, Document, describe

# pydantic error type -> stable code (see slamon.loader.codes)
CODE_OF_TYPE: dict[str, str] = {
    "extra_forbidden": "E100",
    "missing": "E101",
    "union_tag_not_found": "E101",
    "model_type": "E102",
    "model_attributes_type": "E102",
    "dict_type": "E102",
    "list_type": "E102",
    "tuple_type": "E102",
    "string_type": "E102",
    "int_type": "E102",
    "int_parsing": "E102",
    "int_from_float": "E102",
    "float_type": "E102",
    "float_parsing": "E102",
    "bool_type": "E102",
    "bool_parsing": "E102",
    "literal_error": "E103",
    "enum": "E103",
    "union_tag_invalid": "E103",
    "greater_than": "E104",
    "greater_than_equal": "E104",
    "less_than": "E104",
    "less_than_equal": "E104",
    "too_short": "E104",
    "too_long": "E104",
    "string_too_short": "E104",
    "string_too_long": "E104",
    "finite_number": "E104",
    "service_id_format": "E105",
    "service_id_length": "E105",
    "office_id_format": "E105",
    "identifier_format": "E105",
    "clause_format": "E105",
    "email_format": "E105",
    "variable_format": "E105",
    "biennium": "E105",
    "duration_unit": "E106",
    "duration_format": "E106",
    "duration_positive": "E106",
    "time_unquoted": "E107",
    "time_format": "E108",
    "timezone": "E109",
    "timezone_unknown": "E109",
    "url": "E110",
    "regex": "E111",
    "date_type": "E112",
    "date_parsing": "E112",
    "date_from_datetime_parsing": "E112",
    "date_from_datetime_inexact": "E112",
    "date_future": "E112",
    "datetime_type": "E112",
    "datetime_parsing": "E112",
    "datetime_from_date_parsing": "E112",
    "datetime_object_invalid": "E112",
    "timeout_interval": "E113",
    "hours_order": "E114",
    "maintenance_days": "E114",
    "maintenance_day_of_month": "E114",
    "maintenance_duration": "E114",
    "maintenance_order": "E114",
    "step_body": "E114",
    "client_key_without_cert": "E114",
    "basic_auth_twice": "E114",
    "tls_options_without_tls": "E114",
    "basic_auth_username": "E105",
    "proxy": "E110",
    "warn_latency_timeout": "E114",
    "probe_id_duplicate": "E115",
    "hex": "E105",
    "dialogue_step": "E114",
    "dialogue_with_send": "E114",
    "dialogue_starttls": "E114",
    "dialogue_step_timeout": "E114",
    "dialogue_step_name": "E115",
    "icmp_spacing": "E114",
    "cron": "E105",
    "heartbeat_schedule": "E114",
    "heartbeat_token": "E212",
}

_TYPE_WORDS = {
    "model_type": "expected a mapping (key: value lines)",
    "model_attributes_type": "expected a mapping (key: value lines)",
    "dict_type": "expected a mapping (key: value lines)",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "string_type": "expected text",
    "int_type": "expected a whole number",
    "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number",
    "float_type": "expected a number",
    "float_parsing": "expected a number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
}

_UNION_TAGS = frozenset({"http", "tcp", "dns", "tls", "journey", "recurring", "once"})
_UNION_TAGS = _UNION_TAGS | {"icmp", "heartbeat"}
_SENSITIVE = frozenset({"headers", "form", "body", "send", "basic_auth", "client_key_password", "proxy"})
_SENSITIVE = _SENSITIVE | {"send_hex", "token"}  # a dialogue's bytes may hold a bind password


def render_path(path: DocPath) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def sensitive(path: DocPath) -> bool:
    """Whether a value at ``path`` may hold a secret and must not be echoed: request
    headers, form fields, bodies and what a TCP probe sends (not ``expect`` patterns)."""
    if "expect" in path:
        return False
    return any(p in _SENSITIVE for p in path if isinstance(p, str))


def document_path(loc: tuple[Any, ...], data: Any) -> tuple[DocPath, bool]:
    """pydantic ``loc`` -> a path in the YAML data, and whether it names a mapping key."""
    out: list[str | int] = []
    cur: Any = data
    for part in loc:
        if part == "[key]":
            return tuple(out), True
        if isinstance(cur, list) and isinstance(part, int):
            cur = cur[part] if 0 <= part < len(cur) else None
        elif isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, dict) and part in _UNION_TAGS:
            continue  # a union's tag, not a place in the document
        else:
            cur = None
        out.append(part)
    return tuple(out), False


# ----------------------------------------------------------------- the model at a location


def _unwrap(tp: Any) -> Any:
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    return tp


def _is_union(tp: Any) -> bool:
    return get_origin(tp) in (Union, types.UnionType)


def _tag_of(member: Any) -> str | None:
    if get_origin(member) is typing.Annotated:
        for meta in get_args(member)[1:]:
            if isinstance(meta, Tag):
                return meta.tag
    inner = _unwrap(member)
    if inspect.isclass(inner) and issubclass(inner, BaseModel) and "kind" in inner.model_fields:
        ann = inner.model_fields["kind"].annotation
        if get_origin(ann) is Literal:
            return str(get_args(ann)[0])
    return None


def _members(tp: Any) -> list[Any]:
    return [a for a in get_args(tp) if a is not type(None)]


def _child(tp: Any, part: Any) -> Any:
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if origin is list and isinstance(part, int):
        return get_args(tp)[0]
    if origin is dict:
        key_t, value_t = get_args(tp)
        return key_t if part == "[key]" else value_t
    if inspect.isclass(tp) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
    return None


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The pydantic model that validates the object at ``loc`` (tags included)."""
    tp: Any = root
    for part in loc:
        tp = _unwrap(tp)
        if _is_union(tp):
            members = _members(tp)
            chosen = next((m for m in members if _tag_of(m) == part), None)
            if chosen is not None:
                tp = chosen
                continue
            if len(members) != 1:
                return None
            tp = members[0]
        tp = _child(tp, part)
        if tp is None:
            return None
    tp = _unwrap(tp)
    if _is_union(tp) and len(_members(tp)) == 1:
        tp = _unwrap(_members(tp)[0])
    return tp if inspect.isclass(tp) and issubclass(tp, BaseModel) else None


def field_names(model: type[BaseModel]) -> list[str]:
    return [info.alias or name for name, info in model.model_fields.items()]


def did_you_mean(word: str, choices: list[str]) -> str | None:
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if not close:
        close = [c for c in choices if c.lower() == word.lower()]
    return close[0] if close else None


# ----------------------------------------------------------------- errors -> diagnostics


def _allowed(ctx: dict[str, Any], key: str) -> list[str]:
    return re.findall(r"'([^']*)'", str(ctx.get(key, "")))


def _bound_message(kind: str, ctx: dict[str, Any]) -> str:
    limits = {
        "greater_than": ("must be greater than", "gt"),
        "greater_than_equal": ("must be at least", "ge"),
        "less_than": ("must be less than", "lt"),
        "less_than_equal": ("must be at most", "le"),
    }
    if kind in limits:
        words, key = limits[kind]
        return f"{words} {ctx.get(key)}"
    if kind in ("too_short", "string_too_short"):
        n = ctx.get("min_length", 1)
        if kind == "string_too_short" and n == 1:
            return "must not be empty"
        unit = "character" if kind == "string_too_short" else "item"
        return f"must have at least {n} {unit}{'s' if n != 1 else ''}"
    if kind in ("too_long", "string_too_long"):
        n = ctx.get("max_length")
        unit = "characters" if kind == "string_too_long" else "items"
        return f"must have at most {n} {unit}"
    return "must be a finite number"


class Translated(typing.NamedTuple):
    code: str
    path: DocPath  # where the problem is reported (rendered in the diagnostic)
    anchor: DocPath  # where line:column are taken from
    at_key: bool
    message: str
    found: str | None
    suggests: str | None = None  # for an unknown field: the field it probably meant


def translate(
    err: dict[str, Any], data: Any, root_model: type[BaseModel], doc: Document | None = None
) -> Translated:
    """One pydantic error -> code, path, place and a message for people."""
    kind: str = err["type"]
    loc: tuple[Any, ...] = tuple(err["loc"])
    ctx: dict[str, Any] = err.get("ctx") or {}
    value = err.get("input")
    path, is_key = document_path(loc, data)
    code = CODE_OF_TYPE.get(kind, "E199")
    reveal = not sensitive(path)
    found: str | None = describe(value, reveal=reveal)
    if (isinstance(value, (dict, list)) and kind not in _TYPE_WORDS) or "(found" in err["msg"]:
        found = None  # a whole object says nothing; a message that names it already

    if is_key:
        key = str(value)
        return Translated(code, path, (*path, key), True, f"key {key!r}: {err['msg']}", None)

    if kind == "extra_forbidden":
        name = str(path[-1]) if path else "?"
        model = model_at(root_model, loc[:-1])
        choices = field_names(model) if model else []
        guess = did_you_mean(name, choices)
        if guess:
            message = f"unknown field {name!r}; did you mean {guess!r}?"
        elif choices:
            message = f"unknown field {name!r}; expected one of: {', '.join(choices)}"
        else:
            message = f"unknown field {name!r}"
        return Translated(code, path, path, True, message, None, guess)

    if kind == "missing":
        parent, name = path[:-1], path[-1]
        return Translated(code, parent, parent, False, f"missing required field {name!r}", None)

    if kind == "union_tag_not_found":
        allowed = ", ".join(_probe_kinds(root_model, loc))
        return Translated(code, path, path, False, f"missing required field 'kind' (one of: {allowed})", None)

    if kind == "union_tag_invalid":
        allowed = _allowed(ctx, "expected_tags")
        tag = str(ctx.get("tag", ""))
        message = f"unknown kind; allowed: {', '.join(allowed)}"
        guess = did_you_mean(tag, allowed)
        if guess:
            message += f"; did you mean {guess!r}?"
        return Translated(code, (*path, "kind"), (*path, "kind"), False, message, repr(tag))

    if kind in ("enum", "literal_error"):
        allowed = _allowed(ctx, "expected")
        message = f"must be one of: {', '.join(allowed)}"
        guess = did_you_mean(str(value), allowed) if isinstance(value, str) else None
        if guess:
            message += f"; did you mean {guess!r}?"
        return Translated(code, path, path, False, message, found)

    if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
        node = doc.node_at(path)[0] if doc is not None else None
        written = node.value if isinstance(node, ScalarNode) else value  # 8.10, not 8.1
        hint = f'; write it quoted: "{written}"' if reveal else "; write it quoted"
        return Translated(code, path, path, False, _TYPE_WORDS[kind] + hint, found)

    if kind in _TYPE_WORDS:
        return Translated(code, path, path, False, _TYPE_WORDS[kind], found)

    if code == "E104":
        return Translated(code, path, path, False, _bound_message(kind, ctx), found)

    if code == "E112":
        detail = ctx.get("error")
        what = "a date and time, written YYYY-MM-DDTHH:MM" if kind.startswith("datetime") else "a date, written YYYY-MM-DD"
        message = f"expected {what}" + (f" ({detail})" if detail else "")
        return Translated(code, path, path, False, message, found)

    if kind == "timeout_interval":
        timeout = float(ctx.get("timeout", 0))
        interval = float(ctx.get("interval", 0))
        where = (*path, "timeout")
        message = (
            f"timeout {format_duration(timeout)} must be below the interval {format_duration(interval)}"
        )
        return Translated(code, where, where, False, message, None)

    if kind == "probe_id_duplicate":
        dup = str(ctx.get("id"))
        probes = data.get("probes") if isinstance(data, dict) else None
        ids = [p.get("id") if isinstance(p, dict) else None for p in probes or []]
        where = ("probes", [i for i, x in enumerate(ids) if x == dup][1:2][0], "id") if ids.count(dup) > 1 else path
        first = ids.index(dup) if dup in ids else 0
        return Translated(code, where, where, False, f"probe id {dup!r} is already used by probes[{first}]", None)

    if kind == "time_unquoted":
        return Translated(code, path, path, False, err["msg"], None)

    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return Translated(code, path, path, False, message, found)


def _probe_kinds(root_model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    tp: Any = root_model
    for part in loc:
        tp = _child(_unwrap(tp), part)
        if tp is None:
            return []
    tp = _unwrap(tp)
    return [t for t in (_tag_of(m) for m in _members(tp)) if t] if _is_union(tp) else []


def translate_all(exc: ValidationError, doc: Document, root_model: type[BaseModel]) -> list[Translated]:
    return [translate(err, doc.data, root_model, doc) for err in exc.errors()]

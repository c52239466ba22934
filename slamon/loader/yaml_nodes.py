"""A safe YAML reader that keeps where every value came from.

``read_document(path)`` returns a ``Document``: the plain Python data (dicts, lists,
str, int, float, bool, None, date, datetime) plus the composed node tree, so that any
path inside the data (``("probes", 0, "timeout")``) can be turned back into a
``line:column`` of the file.

Hostile input is refused with a ``YamlError`` (a code, a message and a place), never a
traceback and never code execution:

- only the standard scalar tags are constructed; ``!!python/...`` or any other tag is
  an error, so no object is ever built from a tag;
- files above ``MAX_FILE_BYTES`` are not read; NUL bytes and non-UTF-8 text are refused;
- nesting deeper than ``MAX_DEPTH`` is refused (libyaml stops at 1,000 by itself);
- aliases are followed with a budget of ``MAX_NODES`` expanded nodes, so an alias
  bomb stops after a bounded amount of work, and a recursive alias is an error.

Mapping keys are always kept as the text written (``on:`` stays ``"on"``, ``200:``
stays ``"200"``); a key written twice is reported and the first value kept.
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

try:  # libyaml: several times faster than pure Python, and it bounds nesting depth itself
    from yaml import CSafeLoader as _BaseLoader

    LIBYAML = True
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]

    LIBYAML = False
"""Whether files are parsed by libyaml (PyYAML's ``CSafeLoader``); without it the
pure-Python ``SafeLoader`` gives the same data and places, several times slower. The
daemon logs it at startup and exports it as ``slamon_fast_path_enabled``."""

MAX_FILE_BYTES = 1 << 20  # 1 MiB per file: a service file is a few kilobytes
MAX_DEPTH = 64  # a service file nests about 8 levels
MAX_NODES = 200_000  # expanded nodes per document, aliases included

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
_MERGE = _TAG + "merge"
_STR, _SEQ, _MAP = _TAG + "str", _TAG + "seq", _TAG + "map"

DocPath = tuple[str | int, ...]


class YamlError(Exception):
    """The file cannot be turned into data; nothing else in it can be checked."""

    def __init__(self, code: str, message: str, line: int = 1, column: int = 1, found: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.line = line
        self.column = column
        self.found = found


@dataclass(frozen=True, slots=True)
class Problem:
    """A problem found while reading that does not stop the rest of the file being checked."""

    code: str
    message: str
    line: int
    column: int
    path: DocPath
    found: str | None = None


@dataclass
class Document:
    data: Any
    root: Node | None
    problems: list[Problem] = field(default_factory=list)

    def node_at(self, path: DocPath) -> tuple[Node | None, Node | None, bool]:
        """(value node, key node, resolved): the deepest node found along ``path``.

        ``resolved`` is False when the path leaves the document (a missing key): the
        node returned is then the deepest existing parent.
        """
        node, key = self.root, None
        for part in path:
            cls = node.__class__
            if cls is MappingNode:
                nxt = None
                text = str(part)
                for k, v in node.value:
                    if k.__class__ is ScalarNode and k.value == text:
                        nxt = (k, v)
                        break
                if nxt is None:
                    return node, key, False
                key, node = nxt
            elif cls is SequenceNode and isinstance(part, int) and 0 <= part < len(node.value):
                key, node = None, node.value[part]
            else:
                return node, key, False
        return node, key, True

    def position(self, path: DocPath, *, at_key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at ``path`` (or of its key), else of
        the deepest existing parent."""
        node, key, resolved = self.node_at(path)
        target = key if (at_key and resolved and key is not None) else node
        if target is None:
            return 1, 1
        mark = target.start_mark
        return mark.line + 1, mark.column + 1


assert not _BaseLoader.yaml_path_resolvers, "path resolvers would make tags depend on the path"
_RESOLVER = yaml.resolver.Resolver()
_RESOLVE_CACHE_MAX_TEXT = 16 * 1024  # longer texts clear the cache: it keeps only short files' scalars


@functools.lru_cache(maxsize=2048)
def _resolve(kind: type, value: Any, implicit: Any) -> str:
    """PyYAML's tag resolution, remembered. The safe loader has no path resolvers, so a
    tag depends only on these arguments; a catalogue repeats the same keys and values
    thousands of times, and the resolver (regular expressions, called for every node) is
    a noticeable part of the load time (see benchmarks/RESULTS.md). A hit runs no Python
    code at all.

    A miss is mostly a text met once (a name, a URL): when no implicit resolver starts
    with its first character, or it was quoted, it is text, as PyYAML would find."""
    if kind is ScalarNode and (not implicit[0] or (value and value[0] not in _RESOLVER_FIRST)):
        return _STR
    return _BaseLoader.resolve(_RESOLVER, kind, value, implicit)


# the first characters that PyYAML's implicit resolvers look at ("" is the empty text)
_RESOLVER_FIRST = frozenset(k for k in _BaseLoader.yaml_implicit_resolvers if k)
assert None not in _BaseLoader.yaml_implicit_resolvers, "a resolver for any first character"


class _Loader(_BaseLoader):  # type: ignore[misc,valid-type]
    """PyYAML's safe loader (libyaml's when built with it) with the same tags, resolved
    faster. Only the loader's public resolver methods are overridden, as PyYAML's own
    subclasses do; the composer and its node classes are PyYAML's, untouched, so any
    other thread using PyYAML meanwhile is unaffected."""

    resolve = staticmethod(_resolve)
    # only path resolvers need the path, and there are none: do nothing, in C
    descend_resolver = staticmethod(operator.is_)  # called as (parent node, index)
    ascend_resolver = staticmethod(tuple)  # called without arguments


class _PureLoader(yaml.SafeLoader):
    """The pure-Python safe loader, resolved the same way (for comparison in tests, and
    what ``_Loader`` is when PyYAML has no libyaml)."""

    resolve = staticmethod(_resolve)
    descend_resolver = staticmethod(operator.is_)
    ascend_resolver = staticmethod(tuple)


def compose(text: str, loader: type[Any] = _Loader) -> Node | None:
    """The node tree of one YAML document (PyYAML's ``ScalarNode``, ``SequenceNode`` and
    ``MappingNode``, each with its start mark), or None for an empty text; PyYAML's
    errors pass through."""
    composer = loader(text)
    try:
        return composer.get_single_node()
    finally:
        composer.dispose()


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG):] if tag.startswith(_TAG) else tag


class _Builder:
    """Turns composed nodes into plain data within a node budget."""

    def __init__(self) -> None:
        self.count = 0
        self.done: dict[int, tuple[Any, int]] = {}  # id(node) -> (value, expanded size)
        self.active: set[int] = set()
        self.problems: list[Problem] = []
        self.scalars = yaml.constructor.SafeConstructor()

    def build(self, node: Node, depth: int, path: DocPath) -> Any:
        return self._build(node, depth, path)[0]

    def _spend(self, n: int, node: Node) -> None:
        self.count += n
        if self.count > MAX_NODES:
            line, col = _mark(node)
            raise YamlError(
                "E009",
                f"the document expands to more than {MAX_NODES} nodes (an alias bomb?); "
                "use fewer aliases",
                line,
                col,
            )

    def _build(self, node: Node, depth: int, path: DocPath) -> tuple[Any, int]:
        key = id(node)
        if key in self.done:  # an alias: the same node again
            value, size = self.done[key]
            self._spend(size, node)
            return value, size
        if key in self.active:
            line, col = _mark(node)
            raise YamlError("E009", "an alias refers to a node that contains it (recursive alias)", line, col)
        if depth > MAX_DEPTH:
            line, col = _mark(node)
            raise YamlError("E010", f"nesting deeper than {MAX_DEPTH} levels", line, col)
        self._spend(1, node)
        self.active.add(key)
        try:
            if isinstance(node, ScalarNode):
                value, size = self._scalar(node), 1
            elif isinstance(node, SequenceNode):
                value, size = self._sequence(node, depth, path)
            elif isinstance(node, MappingNode):
                value, size = self._mapping(node, depth, path)
            else:  # pragma: no cover - the composer makes only these three
                raise YamlError("E004", "unexpected YAML node", *_mark(node))
        finally:
            self.active.discard(key)
        self.done[key] = (value, size)
        return value, size

    def _check_tag(self, node: Node, allowed: str) -> None:
        if node.tag != allowed and not (isinstance(node, ScalarNode) and node.tag in _SCALAR_TAGS):
            line, col = _mark(node)
            raise YamlError(
                "E011",
                "YAML tags are not allowed in the catalogue; write plain values",
                line,
                col,
                found=_short_tag(node.tag),
            )

    def _scalar(self, node: ScalarNode) -> Any:
        self._check_tag(node, _TAG + "str")
        tag = node.tag[len(_TAG):]
        if tag == "str":
            return _intern(node.value)
        try:
            return getattr(self.scalars, f"construct_yaml_{tag}")(node)
        except (ValueError, OverflowError, TypeError):
            return node.value  # e.g. 2026-02-30: leave the text, the schema says what is wrong

    def _sequence(self, node: SequenceNode, depth: int, path: DocPath) -> tuple[list[Any], int]:
        self._check_tag(node, _TAG + "seq")
        out: list[Any] = []
        size = 1
        for i, item in enumerate(node.value):
            value, n = self._build(item, depth + 1, (*path, i))
            out.append(value)
            size += n
        return out, size

    def _mapping(self, node: MappingNode, depth: int, path: DocPath) -> tuple[dict[str, Any], int]:
        self._check_tag(node, _TAG + "map")
        out: dict[str, Any] = {}
        first_seen: dict[str, int] = {}
        merged: list[dict[str, Any]] = []
        size = 1
        for knode, vnode in node.value:
            if knode.tag == _MERGE:
                value, n = self._build(vnode, depth + 1, path)
                size += n
                for m in value if isinstance(value, list) else [value]:
                    if not isinstance(m, dict):
                        raise YamlError("E012", "a merge key (<<) takes a mapping or a list of mappings", *_mark(vnode))
                    merged.append(m)
                continue
            if not isinstance(knode, ScalarNode):
                raise YamlError("E004", "a mapping key must be plain text, not a list or mapping", *_mark(knode))
            self._check_tag(knode, _TAG + "str")
            name = knode.value
            if name in first_seen:
                line, col = _mark(knode)
                self.problems.append(
                    Problem(
                        "E008",
                        f"key {name!r} appears twice in this mapping (first at line {first_seen[name]}); "
                        "the second is ignored",
                        line,
                        col,
                        (*path, name),
                    )
                )
                continue
            first_seen[name] = knode.start_mark.line + 1
            value, n = self._build(vnode, depth + 1, (*path, name))
            out[name] = value
            size += n
        for m in merged:
            for k, v in m.items():
                out.setdefault(k, v)
        return out, size


_intern = sys.intern
"""Plain texts are interned as they are read: a catalogue repeats the same short values
in every service (office, owner group, contact, tier, probe id, clause, a shared
description), and the catalogue keeps them for as long as it runs: one copy each
instead of one per service. Interned strings are
freed with their last reference, as any other."""


class _PlainBuilder:
    """``_Builder`` for a text with no anchor (no ``&``), so no alias: every node is met
    once, and the alias bookkeeping (seen nodes, expanded sizes) is not needed. Same
    checks in the same order, same values, same problems; less work per node.

    Paths are kept as ``(parent, key)`` pairs and turned into tuples only for a problem."""

    def __init__(self) -> None:
        self.count = 0
        self.problems: list[Problem] = []
        self.construct = _SCALAR_CONSTRUCTORS

    def build(self, node: Node, depth: int, path: Any) -> Any:
        if depth > MAX_DEPTH:
            line, col = _mark(node)
            raise YamlError("E010", f"nesting deeper than {MAX_DEPTH} levels", line, col)
        self.count += 1
        if self.count > MAX_NODES:
            _Builder._spend(self, 0, node)  # type: ignore[arg-type]  # raises E009
        cls = node.__class__
        tag, value = node.tag, node.value
        if cls is ScalarNode:
            if tag == _STR:
                return _intern(value)
            constructor = self.construct.get(tag)
            if constructor is None:
                _Builder._check_tag(self, node, _STR)  # type: ignore[arg-type]  # raises E011
            try:
                return _constructed(tag, value)
            except (ValueError, OverflowError, TypeError):
                return value
        if cls is SequenceNode:
            if tag != _SEQ:
                _Builder._check_tag(self, node, _SEQ)  # type: ignore[arg-type]
            depth += 1
            out: list[Any] = []
            for i, item in enumerate(value):
                # build() of a plain text or mapping item, inlined (same checks, same order)
                if depth <= MAX_DEPTH and self.count < MAX_NODES:
                    icls = item.__class__
                    itag, value = item.tag, item.value
                    if icls is ScalarNode and itag == _STR:
                        self.count += 1
                        out.append(_intern(value))
                        continue
                    if icls is MappingNode and itag == _MAP:
                        self.count += 1
                        out.append(self._mapping(item, depth + 1, (path, i)))
                        continue
                out.append(self.build(item, depth, (path, i)))
            return out
        if cls is MappingNode:
            if tag != _MAP:
                _Builder._check_tag(self, node, _MAP)  # type: ignore[arg-type]
            return self._mapping(node, depth + 1, path)
        raise YamlError("E004", "unexpected YAML node", *_mark(node))  # pragma: no cover

    def _mapping(self, node: MappingNode, depth: int, path: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[dict[str, Any]] | None = None
        for knode, vnode in node.value:
            ktag, name = knode.tag, knode.value
            if ktag == _MERGE:
                value = self.build(vnode, depth, path)
                for m in value if isinstance(value, list) else [value]:
                    if not isinstance(m, dict):
                        raise YamlError("E012", "a merge key (<<) takes a mapping or a list of mappings", *_mark(vnode))
                    if merged is None:
                        merged = []
                    merged.append(m)
                continue
            if knode.__class__ is not ScalarNode:
                raise YamlError("E004", "a mapping key must be plain text, not a list or mapping", *_mark(knode))
            if ktag != _STR and ktag not in _SCALAR_TAGS:
                _Builder._check_tag(self, knode, _STR)  # type: ignore[arg-type]
            if name in out:
                first = next(k for k, _ in node.value if k.tag != _MERGE and k.value == name)
                line, col = _mark(knode)
                self.problems.append(
                    Problem(
                        "E008",
                        f"key {name!r} appears twice in this mapping (first at line {first.start_mark.line + 1}); "
                        "the second is ignored",
                        line,
                        col,
                        (*_unfold(path), name),
                    )
                )
                continue
            # build() of a plain text or mapping value, inlined (same checks, same order)
            if depth <= MAX_DEPTH and self.count < MAX_NODES:
                vcls = vnode.__class__
                vtag, value = vnode.tag, vnode.value
                if vcls is ScalarNode and vtag == _STR:
                    self.count += 1
                    out[name] = _intern(value)
                    continue
                if vcls is MappingNode and vtag == _MAP:
                    self.count += 1
                    out[name] = self._mapping(vnode, depth + 1, (path, name))
                    continue
            out[name] = self.build(vnode, depth, (path, name))
        if merged:
            for m in merged:
                for k, v in m.items():
                    out.setdefault(k, v)
        return out


def _unfold(path: Any) -> DocPath:
    """``((None, "probes"), 0)`` -> ``("probes", 0)``."""
    parts: list[str | int] = []
    while path is not None:
        path, part = path
        parts.append(part)
    return tuple(reversed(parts))


def _scalar_constructors() -> dict[str, Any]:
    scalars = yaml.constructor.SafeConstructor()  # these methods keep no state
    return {
        _TAG + t: getattr(scalars, f"construct_yaml_{t}")
        for t in ("int", "float", "bool", "null", "timestamp")
    }


_SCALAR_CONSTRUCTORS = _scalar_constructors()


@functools.lru_cache(maxsize=1024)
def _constructed(tag: str, text: str) -> Any:
    """The value of a plain scalar with one of the standard tags, remembered: the result
    depends on the text alone, and is immutable (int, float, bool, None, date,
    datetime). A catalogue repeats the same dates and numbers in many files; they are
    built, and kept in memory, once. Errors are not remembered."""
    return _SCALAR_CONSTRUCTORS[tag](ScalarNode(tag, text))


def decode(raw: bytes) -> str:
    if b"\x00" in raw:
        line = raw[: raw.index(b"\x00")].count(b"\n") + 1
        raise YamlError("E003", "the file holds binary data (NUL bytes), not YAML text", line, 1)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before) - (before.rfind(b"\n") + 1) + 1
        raise YamlError(
            "E003",
            "the file is not UTF-8 text; save it as UTF-8",
            line,
            col,
            found=f"byte 0x{raw[exc.start]:02x}",
        ) from None


def read_document(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> Document:
    """Read and parse one YAML file; raise ``YamlError`` when it cannot be used."""
    return parse_document(decode(read_bytes(path, max_bytes)))


def read_bytes(path: Path | str, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of the file, at most ``max_bytes``: one open, one fstat, and reads sized by
    the file (a read sized by the limit would allocate a megabyte for every file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise YamlError("E001", f"cannot read the file: {exc.strerror or exc}") from None
    try:
        size = os.fstat(fd).st_size
        if size > max_bytes:
            raise YamlError(
                "E002", f"the file is larger than {max_bytes // 1024} KiB", found=f"{size} bytes"
            )
        chunks: list[bytes] = []
        total = 0
        want = size + 1  # one more than expected, to see a file that grew
        while total <= max_bytes:
            ask = min(want, max_bytes + 1 - total)
            chunk = os.read(fd, ask)
            chunks.append(chunk)
            total += len(chunk)
            if len(chunk) < ask:  # a short read of a regular file: its end
                break
            want = 1 << 16
    except OSError as exc:
        raise YamlError("E001", f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > max_bytes:  # grew between fstat and read
        raise YamlError("E002", f"the file is larger than {max_bytes // 1024} KiB")
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _syntax_error(text: str, exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else 1
    col = mark.column + 1 if mark else 1
    if mark is not None:
        # libyaml's marks carry no buffer: find the character from line/column
        lines = text.splitlines()
        row = lines[mark.line] if mark.line < len(lines) else ""
        char = row[mark.column] if mark.column < len(row) else ""
        leading = row[: len(row) - len(row.lstrip(" \t"))]
        if char == "\t" or ("\t" in leading and mark.column <= len(leading)):
            return YamlError("E005", "a tab is used for indentation; YAML indents with spaces only", line, col)
    problem = exc.problem or "cannot parse"
    if "maximum nesting depth" in (exc.context or "") + problem:
        return YamlError("E010", "nesting is too deep", line, col)
    if "expected a single document" in (exc.context or "") + problem:
        return YamlError("E007", "a catalogue file holds one YAML document; remove the extra '---'", line, col)
    context = f" {exc.context}" if exc.context else ""
    if exc.context_mark is not None and mark is not None and exc.context_mark.line != mark.line:
        context += f" that starts at line {exc.context_mark.line + 1}"
    return YamlError("E004", f"YAML syntax error: {problem}{context}", line, col)


def _codepoint(char: int | str) -> int:
    return char if isinstance(char, int) else ord(char)


def parse_document(text: str) -> Document:
    """Parse YAML text into a ``Document``; raise ``YamlError`` when it cannot be used."""
    try:
        root = compose(text)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(text, exc) from None
    except yaml.reader.ReaderError as exc:  # control characters
        before = text[: exc.position]
        line = before.count("\n") + 1
        col = exc.position - (before.rfind("\n") + 1) + 1
        raise YamlError(
            "E003", "the file holds a control character; YAML allows printable text only",
            line, col, found=f"character U+{_codepoint(exc.character):04X}",
        ) from None
    except yaml.YAMLError as exc:
        raise YamlError("E004", f"YAML syntax error: {exc}") from None
    except RecursionError:  # the pure-Python composer on very deep nesting
        raise YamlError("E010", "nesting is too deep") from None
    finally:
        if len(text) > _RESOLVE_CACHE_MAX_TEXT:  # keep the memory the cache holds small
            _resolve.cache_clear()
    if root is None or (isinstance(root, ScalarNode) and root.tag == _TAG + "null" and root.value in ("", "~", "null")):
        raise YamlError("E006", "the file is empty; it should hold a YAML mapping")
    builder: _Builder | _PlainBuilder
    if "&" in text:  # anchors, so maybe aliases
        builder = _Builder()
        data = builder.build(root, 0, ())
    else:
        builder = _PlainBuilder()
        data = builder.build(root, 0, None)
    if not isinstance(data, dict):
        line, col = _mark(root)
        raise YamlError(
            "E012",
            "the file must hold a mapping (key: value lines) at the top",
            line,
            col,
            found=describe(data),
        )
    return Document(data, root, builder.problems)


def describe(value: Any, *, reveal: bool = True) -> str:
    """A short, safe description of a value for a ``(found ...)`` note."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if not reveal:
        kind = "a number" if isinstance(value, (int, float)) else "a value"
        return kind
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, (dt.date, dt.datetime)):
        return f"the date {value.isoformat()}"
    text = str(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return repr(text)

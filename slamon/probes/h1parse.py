"""The HTTP/1.x response parser of ``slamon.probes.h1``: one set of verdicts.

``parser = ResponseParser(protocol, llhttp=True)`` and ``parser.feed_data(data)``,
calling back ``on_head(status, version, headers, length, chunked)`` once per head
(interim 1xx heads included; ``headers`` a list of ``(name, value)`` bytes, values
unfolded), ``on_body(data)`` and ``on_message_complete()`` on the protocol. Raises
``ParseError`` when the bytes are not an HTTP/1.x response and ``Upgrade`` on a 101
(after ``on_head``).

How it is split:

- **the head** (status line and headers, found by looking for the empty line) is
  parsed by llhttp (``httptools``, compiled, made lenient through its public
  ``set_dangerous_leniencies``) when available; a head llhttp refuses, or every head
  when httptools is missing or ``llhttp=False`` (``ProbeContext.create(
  http_parser="python")``), is parsed by the Python code below, whose leniencies are a
  superset of llhttp's switches. So the verdict on a head never depends on which
  parser is installed.
- **the body** (Content-Length, chunked, until the close) is framed by the Python code
  below in both modes: llhttp's chunk parser has quirks of its own (a bare LF after a
  chunk size is refused, after a chunk extension accepted), and one framing for both
  modes keeps the verdicts identical.

Accepted (docs/probes.md has the verdict table and why): obs-fold continuation lines,
bare LF line endings (head and chunk framing), spaces after a chunk size, chunk
extensions and trailers (ignored), ``Transfer-Encoding: chunked`` beside a
``Content-Length`` (chunked wins), a ``Content-Length`` repeated with the same value,
header names with spaces in them or before the colon (as curl and Go read them),
interim 1xx answers before the final one. Refused: a status line that is not
``HTTP/x.y NNN``, a header line without a colon or with control bytes in its name,
``Content-Length`` values that differ or are not numbers, a chunk size that is not
hexadecimal. Bytes after a complete response raise ``ParseError``, which the caller
ignores (the response is complete by then).
"""

from __future__ import annotations

import re
from typing import Any

try:
    import httptools
except ImportError:  # the Python head parser takes over
    httptools = None

PARSERS = ("auto", "httptools", "python")
LENIENCIES = {
    "lenient_headers": True,  # obs-fold, and header bytes curl and Go let through
    "lenient_optional_cr_before_lf": True,  # bare LF line endings
    "lenient_chunked_length": True,  # Transfer-Encoding beside Content-Length
    "lenient_data_after_close": True,
}
MAX_CHUNK_LINE_BYTES = 4096


def _httptools_usable() -> bool:
    """httptools is importable and has the leniency switches we need (0.6.2 and later)."""
    if httptools is None:
        return False
    try:
        httptools.HttpResponseParser(object()).set_dangerous_leniencies(**LENIENCIES)
    except (AttributeError, TypeError):
        return False
    return True


HTTPTOOLS_USABLE = _httptools_usable()
_LLHTTP_ERRORS: tuple[type[Exception], ...] = (
    (httptools.HttpParserError,) if httptools is not None else ()
)


class ParseError(Exception):
    """The bytes are not an HTTP/1.x response."""


class Upgrade(Exception):
    """A 101 Switching Protocols: what follows is not HTTP."""


def resolve_kind(kind: str) -> str:
    """``auto`` -> ``httptools`` when usable, else ``python``; unknown names are refused."""
    if kind not in PARSERS:
        raise ValueError(f"http_parser must be one of {', '.join(PARSERS)}, not {kind!r}")
    if kind == "auto":
        return "httptools" if HTTPTOOLS_USABLE else "python"
    if kind == "httptools" and not HTTPTOOLS_USABLE:
        raise ValueError("http_parser 'httptools' asked for, but no httptools with leniency switches")
    return kind


def _clean(value: bytes) -> bytes:
    """An obs-fold's whitespace (and any run of spaces and tabs) as one space: RFC 9112
    5.2 replaces a fold with SP, and Go reads folded values so."""
    if b"\t" in value or b"  " in value:
        return b" ".join(value.split())
    return value


class _Head:
    """What llhttp reports of one head."""

    __slots__ = ("headers",)

    def __init__(self) -> None:
        self.headers: list[tuple[bytes, bytes]] = []

    def on_header(self, name: bytes, value: bytes) -> None:
        if b"\t" in value or b"  " in value:  # _clean, inlined: this runs per header
            value = b" ".join(value.split())
        elif value[-1:] == b" ":  # llhttp keeps a trailing space in the value
            value = value.rstrip(b" ")
        self.headers.append((name, value))


_CTL_RE = re.compile(rb"[\x00-\x1f\x7f]")
_STATUS_RE = re.compile(rb"HTTP/(\d)\.(\d) +(\d{3})(?:[ \t].*)?")
_HEX_RE = re.compile(rb"[0-9A-Fa-f]+")
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class ResponseParser:
    """An incremental HTTP/1.x response parser (see the module docstring for its callbacks)."""

    __slots__ = ("_buf", "_llhttp", "_proto", "_remaining", "_scanned", "_state", "_status", "_version")

    def __init__(self, protocol: Any, llhttp: bool = True) -> None:
        self._proto = protocol
        self._llhttp = llhttp and HTTPTOOLS_USABLE
        self._buf = bytearray()  # what a feed left unread (a head, a chunk line in pieces)
        self._state = _HEAD
        self._scanned = 0  # head bytes already searched for its end
        self._status = 0
        self._version = "1.1"
        self._remaining = 0

    def feed_data(self, data: bytes) -> None:
        state = self._state
        pending = self._buf
        if state == _LENGTH and not pending:  # the common case, without copies
            remaining = self._remaining
            if len(data) < remaining:
                self._remaining = remaining - len(data)
                self._proto.on_body(data)
                return
            self._remaining = 0
            self._proto.on_body(data[:remaining])
            self._complete(len(data) > remaining)
            return
        if state == _UNTIL_CLOSE:
            if data:
                self._proto.on_body(data)
            return
        if state == _DONE:
            raise ParseError("data after a complete response")
        if pending:
            pending += data  # a bytearray: a head arriving in many pieces costs linear time
            buf = pending
        else:
            buf = data
        end = len(buf)
        pos = 0
        while pos < end and self._state != _DONE:
            moved = self._step(buf, pos, end)
            if moved < 0:
                break
            pos = moved
        if pos >= end or self._state == _DONE:
            self._buf = bytearray()
        elif buf is pending:
            if pos:
                del pending[:pos]
        else:
            self._buf = bytearray(memoryview(buf)[pos:])

    # each step reads buf from pos; it returns where the next one starts, or -1 when
    # it needs more bytes (what is left from pos is kept for the next feed)

    def _step(self, buf: Any, pos: int, end: int) -> int:
        state = self._state
        if state == _HEAD:
            return self._head(buf, pos, end)
        if state == _LENGTH or state == _CHUNK_DATA:
            take = min(self._remaining, end - pos)
            self._proto.on_body(bytes(buf[pos : pos + take]))
            self._remaining -= take
            pos += take
            if not self._remaining:
                if state == _LENGTH:
                    self._complete(pos < end)
                else:
                    self._state = _CHUNK_END
            return pos
        if state == _UNTIL_CLOSE:
            self._proto.on_body(bytes(buf[pos:end]))
            return end
        if state == _CHUNK_SIZE or state == _TRAILERS:
            nl = buf.find(b"\n", pos, pos + MAX_CHUNK_LINE_BYTES)
            if nl < 0:
                if end - pos >= MAX_CHUNK_LINE_BYTES:
                    raise ParseError("chunk size line too long")
                return -1
            line = bytes(buf[pos:nl]).rstrip(b"\r")
            pos = nl + 1
            if state == _TRAILERS:
                if not line:
                    self._complete(pos < end)
                return pos
            size = line.split(b";", 1)[0].rstrip(b" \t")
            if not _HEX_RE.fullmatch(size):
                raise ParseError("invalid character in chunk size")
            self._remaining = int(size, 16)
            self._state = _CHUNK_DATA if self._remaining else _TRAILERS
            return pos
        if state == _CHUNK_END:
            first = buf[pos]
            if first == 10:  # LF
                pos += 1
            elif first == 13 and pos + 1 < end and buf[pos + 1] == 10:  # CRLF
                pos += 2
            elif first == 13 and pos + 1 == end:
                return -1
            else:
                raise ParseError("expected a line ending after chunk data")
            self._state = _CHUNK_SIZE
            return pos
        raise AssertionError(state)

    def _head(self, buf: Any, pos: int, end: int) -> int:
        start = pos + max(0, self._scanned - 3)  # _scanned counts from the head's start
        lf2 = buf.find(b"\n\n", start)
        crlf = buf.find(b"\n\r\n", start)
        if lf2 < 0 and crlf < 0:
            seen = bytes(buf[pos : pos + 5])
            if not b"HTTP/".startswith(seen):
                raise ParseError("expected HTTP/")
            self._scanned = end - pos  # kept from pos: the next feed's buffer starts there
            return -1
        cut = crlf + 3 if lf2 < 0 or (0 <= crlf < lf2) else lf2 + 2
        head = bytes(buf[pos:cut])
        self._scanned = 0
        headers = self._llhttp_head(head) if self._llhttp else None
        if headers is None:
            headers = self._python_head(head)
        self._headers_done(headers, cut < end)
        return cut

    def _llhttp_head(self, head: bytes) -> list[tuple[bytes, bytes]] | None:
        """The head as llhttp reads it, or None when llhttp refuses it."""
        collector = _Head()
        parser = httptools.HttpResponseParser(collector)
        parser.set_dangerous_leniencies(  # LENIENCIES, spelt out: this runs per response
            lenient_headers=True,
            lenient_optional_cr_before_lf=True,
            lenient_chunked_length=True,
            lenient_data_after_close=True,
        )
        try:
            parser.feed_data(head)
        except httptools.HttpParserUpgrade:
            pass  # a 101: llhttp read the whole head
        except _LLHTTP_ERRORS:
            return None
        self._status = parser.get_status_code()
        self._version = parser.get_http_version()
        return collector.headers

    def _python_head(self, head: bytes) -> list[tuple[bytes, bytes]]:
        lines = head.split(b"\n")
        status = _STATUS_RE.fullmatch(lines[0].rstrip(b"\r"))
        if status is None:
            raise ParseError("expected HTTP/x.y and a status code")
        self._version = f"{int(status[1])}.{int(status[2])}"
        self._status = int(status[3])
        headers: list[tuple[bytes, bytes]] = []
        for raw in lines[1:]:
            line = raw.rstrip(b"\r")
            if not line:
                continue
            if line[:1] in (b" ", b"\t") and headers:  # obs-fold: continues the value
                name, value = headers[-1]
                headers[-1] = (name, value + b" " + line.strip(b" \t"))
                continue
            name, colon, value = line.partition(b":")
            # curl and Go take a name with spaces in it or before the colon; so do we
            name = name.strip(b" \t")
            if not colon or not name or _CTL_RE.search(name):
                raise ParseError("invalid header token")
            # a bare CR inside a value is read as a space (RFC 9112 2.2)
            headers.append((name, value.strip(b" \t").replace(b"\r", b" ")))
        return [(name, _clean(value)) for name, value in headers]

    def _headers_done(self, headers: list[tuple[bytes, bytes]], more: bool) -> None:
        length: int | None = None
        chunked = False
        for name, value in headers:
            if len(name) == 14 and name.lower() == b"content-length":
                value = value.strip(b" \t")
                if not value.isdigit():
                    raise ParseError("invalid character in Content-Length")
                if length is not None and int(value) != length:
                    raise ParseError("conflicting Content-Length values")
                length = int(value)
            elif len(name) == 17 and name.lower() == b"transfer-encoding":
                codings = [c.strip(b" \t").lower() for c in value.split(b",") if c.strip(b" \t")]
                unknown = [c for c in codings if c not in (b"chunked", b"identity")]
                if unknown and not (100 <= self._status < 200 or self._status in (204, 304)):
                    # curl (exit 61), Go and blackbox_exporter refuse a coding they cannot
                    # undo: reading "until the close" would judge bytes nobody decoded
                    raise ParseError(f"unsupported transfer coding {unknown[0].decode('latin-1')!r}")
                chunked = bool(codings) and codings[-1] == b"chunked"
        status = self._status
        if chunked:
            length = None  # Transfer-Encoding wins over Content-Length (RFC 9112 6.3)
        self._proto.on_head(status, self._version, headers, length, chunked)
        if status == 101:
            self._state = _DONE
            raise Upgrade("switching protocols")
        if 100 <= status < 200:  # interim: the message ends here, the final one follows
            self._proto.on_message_complete()
            self._state = _HEAD
        elif status in (204, 304) or length == 0:
            self._complete(more)
        elif chunked:
            self._state = _CHUNK_SIZE
        elif length is not None:
            self._remaining = length
            self._state = _LENGTH
        else:
            self._state = _UNTIL_CLOSE

    def _complete(self, more: bool) -> None:
        """The response is complete; ``more``: bytes follow it (ignored by the caller)."""
        self._state = _DONE
        self._proto.on_message_complete()
        if more:
            raise ParseError("data after a complete response")

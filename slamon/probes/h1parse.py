"""HTTP/1.x response parsers for ``slamon.probes.h1``, with the same leniencies.

Two parsers with one interface (httptools'): ``parser = new_parser(protocol, kind)``,
``parser.feed_data(data)``, ``get_status_code()``, ``get_http_version()``, and the
callbacks ``on_header(name, value)``, ``on_headers_complete()``, ``on_body(data)``,
``on_message_complete()`` on the protocol.

- ``httptools`` (llhttp, compiled), made as lenient as curl, Go's net/http and
  aiohttp through its public ``set_dangerous_leniencies``;
- ``PythonResponseParser``, a pure-Python one for where httptools is not importable
  (or too old to have the leniency switches), accepting and refusing the same things.

Both accept (the verdict table in docs/probes.md says why): obs-fold continuation lines
(unfolded with one space), bare LF line endings, spaces after a chunk size, chunk
extensions and trailers (ignored), ``Transfer-Encoding: chunked`` beside a
``Content-Length`` (chunked wins), interim 1xx answers before the final one. Both
refuse: a status line that is not HTTP, a header line without a colon or with a
malformed name, ``Content-Length`` values that differ or are not numbers, a chunk size
that is not hexadecimal. Data after a complete response is the caller's to ignore
(both parsers may raise on it; by then the response is complete).

llhttp refuses a ``Content-Length`` repeated with the same value, which curl and Go
accept (RFC 9110 8.6 allows either): the client (``h1.Response``) then reads the head
again with the pure-Python parser, which has the last word on every head llhttp
refuses. That costs nothing on a head llhttp accepts.
"""

from __future__ import annotations

from typing import Any

try:
    import httptools
except ImportError:  # the pure-Python parser takes over
    httptools = None

PARSERS = ("auto", "httptools", "python")
_LENIENT = getattr(getattr(httptools, "HttpResponseParser", None), "set_dangerous_leniencies", None)
HTTPTOOLS_USABLE = _LENIENT is not None


class ParseError(Exception):
    """The bytes are not an HTTP/1.x response (the pure-Python parser's error)."""


class Upgrade(Exception):
    """A 101 Switching Protocols: what follows is not HTTP."""


if httptools is not None:
    PARSE_ERRORS: tuple[type[Exception], ...] = (ParseError, httptools.HttpParserError)
    UPGRADES: tuple[type[Exception], ...] = (Upgrade, httptools.HttpParserUpgrade)
    CALLBACK_ERRORS: tuple[type[Exception], ...] = (httptools.HttpParserCallbackError,)
else:
    PARSE_ERRORS, UPGRADES, CALLBACK_ERRORS = (ParseError,), (Upgrade,), ()


def resolve_kind(kind: str) -> str:
    """``auto`` -> ``httptools`` when usable, else ``python``; unknown names are refused."""
    if kind not in PARSERS:
        raise ValueError(f"http_parser must be one of {', '.join(PARSERS)}, not {kind!r}")
    if kind == "auto":
        return "httptools" if HTTPTOOLS_USABLE else "python"
    if kind == "httptools" and not HTTPTOOLS_USABLE:
        raise ValueError("http_parser 'httptools' asked for, but httptools>=0.6.2 is not importable")
    return kind


def new_parser(protocol: Any, kind: str) -> Any:
    """A response parser calling back ``protocol``; ``kind`` from ``resolve_kind``."""
    if kind == "python":
        return PythonResponseParser(protocol)
    parser = httptools.HttpResponseParser(protocol)
    parser.set_dangerous_leniencies(
        lenient_headers=True,  # obs-fold, and header bytes curl and Go let through
        lenient_optional_cr_before_lf=True,  # bare LF line endings
        lenient_spaces_after_chunk_size=True,
        lenient_chunked_length=True,  # Transfer-Encoding wins over Content-Length
        lenient_data_after_close=True,
    )
    return parser


# ---------------------------------------------------------------- pure Python

_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_HEX = frozenset(b"0123456789abcdefABCDEF")
_HEAD, _LENGTH, _CHUNK_SIZE, _CHUNK_DATA, _CHUNK_END, _TRAILERS, _UNTIL_CLOSE, _DONE = range(8)


class PythonResponseParser:
    """An incremental HTTP/1.x response parser in Python, with llhttp's interface."""

    def __init__(self, protocol: Any) -> None:
        self._proto = protocol
        self._buf = bytearray()
        self._state = _HEAD
        self._scanned = 0  # where the search for the end of the head resumes
        self._status = 0
        self._version = "1.1"
        self._remaining = 0

    def get_status_code(self) -> int:
        return self._status

    def get_http_version(self) -> str:
        return self._version

    def feed_data(self, data: bytes) -> None:
        if self._state == _DONE:
            raise ParseError("data after a complete response")
        if self._state == _UNTIL_CLOSE:
            if data:
                self._proto.on_body(bytes(data))
            return
        self._buf += data
        while self._buf and self._state != _DONE:
            if not self._step():
                return

    # each step consumes what it can from the buffer; False when it needs more bytes

    def _step(self) -> bool:
        state = self._state
        buf = self._buf
        if state == _HEAD:
            return self._head()
        if state == _LENGTH:
            take = min(self._remaining, len(buf))
            self._proto.on_body(bytes(buf[:take]))
            del buf[:take]
            self._remaining -= take
            if not self._remaining:
                self._complete()
            return True
        if state == _UNTIL_CLOSE:
            self._proto.on_body(bytes(buf))
            buf.clear()
            return False
        if state == _CHUNK_SIZE:
            end = buf.find(b"\n")
            if end < 0:
                if len(buf) > 4096:
                    raise ParseError("chunk size line too long")
                return False
            line = bytes(buf[:end]).rstrip(b"\r")
            del buf[: end + 1]
            size = line.split(b";", 1)[0].rstrip(b" \t")
            if not size or not all(c in _HEX for c in size):
                raise ParseError("invalid character in chunk size")
            self._remaining = int(size, 16)
            self._state = _CHUNK_DATA if self._remaining else _TRAILERS
            return True
        if state == _CHUNK_DATA:
            take = min(self._remaining, len(buf))
            self._proto.on_body(bytes(buf[:take]))
            del buf[:take]
            self._remaining -= take
            if not self._remaining:
                self._state = _CHUNK_END
            return True
        if state == _CHUNK_END:
            if buf[:1] == b"\n":
                del buf[:1]
            elif buf[:2] == b"\r\n":
                del buf[:2]
            elif len(buf) < 2 and buf[:1] == b"\r":
                return False
            else:
                raise ParseError("expected a line ending after chunk data")
            self._state = _CHUNK_SIZE
            return True
        if state == _TRAILERS:
            end = buf.find(b"\n")
            if end < 0:
                return False
            line = bytes(buf[:end]).rstrip(b"\r")
            del buf[: end + 1]
            if not line:
                self._complete()
            return True
        raise AssertionError(state)

    def _head(self) -> bool:
        buf = self._buf
        start = max(0, self._scanned - 3)
        end = buf.find(b"\n\n", start)
        end2 = buf.find(b"\n\r\n", start)
        if end < 0 and end2 < 0:
            if not buf.startswith(b"HTTP/"[: len(buf)]):
                raise ParseError("expected HTTP/")
            self._scanned = len(buf)
            return False
        if end < 0 or (0 <= end2 < end):
            head, cut = bytes(buf[:end2]), end2 + 3
        else:
            head, cut = bytes(buf[:end]), end + 2
        del buf[:cut]
        self._scanned = 0
        lines = head.split(b"\n")
        self._status_line(lines[0].rstrip(b"\r"))
        headers: list[tuple[bytes, bytes]] = []
        for raw in lines[1:]:
            line = raw.rstrip(b"\r")
            if line[:1] in (b" ", b"\t"):  # obs-fold: continues the previous value
                if not headers:
                    raise ParseError("a continuation line before the first header")
                name, value = headers[-1]
                folded = line.strip(b" \t")
                headers[-1] = (name, value + b" " + folded if value and folded else value + folded)
                continue
            name, colon, value = line.partition(b":")
            if not colon or not name or not all(c in _TOKEN for c in name):
                raise ParseError("invalid header token")
            headers.append((name, value.strip(b" \t")))
        return self._headers_done(headers)

    def _status_line(self, line: bytes) -> None:
        version, _, rest = line.partition(b" ")
        code = rest.lstrip(b" ")[:3]
        if (
            len(version) != 8 or not version.startswith(b"HTTP/") or version[6:7] != b"."
            or not version[5:6].isdigit() or not version[7:8].isdigit()
            or len(code) != 3 or not code.isdigit()
        ):  # fmt: skip
            raise ParseError("expected HTTP/ and a status code")
        self._version = version[5:].decode()
        self._status = int(code)

    def _headers_done(self, headers: list[tuple[bytes, bytes]]) -> bool:
        length: int | None = None
        chunked = False
        on_header = self._proto.on_header
        for name, value in headers:
            low = name.lower()
            if low == b"content-length":
                if not value or not value.isdigit():
                    raise ParseError("invalid character in Content-Length")
                if length is not None and int(value) != length:
                    raise ParseError("conflicting Content-Length values")
                length = int(value)
            elif low == b"transfer-encoding":
                chunked = value.rsplit(b",", 1)[-1].strip(b" \t").lower() == b"chunked"
            on_header(name, value)
        status = self._status
        self._proto.on_headers_complete()
        if status == 101:
            self._state = _DONE
            raise Upgrade("switching protocols")
        if 100 <= status < 200:  # interim: the message ends here, the final one follows
            self._proto.on_message_complete()
            self._state = _HEAD
            return True
        if status in (204, 304):
            self._complete()
        elif chunked:
            self._state = _CHUNK_SIZE
        elif length is not None:
            self._remaining = length
            if length:
                self._state = _LENGTH
            else:
                self._complete()
        else:
            self._state = _UNTIL_CLOSE
        return True

    def _complete(self) -> None:
        self._state = _DONE
        self._proto.on_message_complete()
        if self._buf:
            raise ParseError("data after a complete response")

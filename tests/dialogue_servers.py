"""Mail and directory servers on 127.0.0.1 that speak just enough SMTP, IMAP, POP3 and
LDAP for the ``tcp`` probe's dialogues, each with a real STARTTLS upgrade
(``StreamWriter.start_tls`` on the server side, the test PKI's certificate).

What each says after the upgrade differs from what it says before (SMTP offers AUTH,
IMAP and POP3 list a SASL mechanism, LDAP answers WhoAmI), so a test can tell that the
probe really went on talking inside TLS.

``Mail(options)``: ``starttls=False`` offers no upgrade and refuses the command;
``silent_after`` stops answering after that many commands; ``inject`` sends a
plaintext line right after the answer to STARTTLS (which the probe must not read as
said inside TLS); ``client_ca`` asks for a client certificate issued by that CA.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest_asyncio

from tests.servers import TestPKI, start_tcp

LINE_TIMEOUT_SECONDS = 5.0
STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
WHOAMI_OID = b"1.3.6.1.4.1.4203.1.11.3"


@dataclass
class Options:
    starttls: bool = True
    silent_after: int | None = None
    inject: bytes = b""
    ldap_result: int = 0  # resultCode of the answer to StartTLS (0 success, 2 protocolError)


def server_context(pki: TestPKI, client_ca: str | None = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert, key = pki.files["valid"]
    ctx.load_cert_chain(cert, key)
    if client_ca is not None:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(client_ca)
    return ctx


async def _lines(reader: asyncio.StreamReader, options: Options) -> AsyncIterator[str]:
    count = 0
    while True:
        line = await asyncio.wait_for(reader.readline(), LINE_TIMEOUT_SECONDS)
        if not line:
            return
        count += 1
        if options.silent_after is not None and count > options.silent_after:
            await asyncio.sleep(LINE_TIMEOUT_SECONDS)
            return
        yield line.decode("utf-8", "replace").strip()


async def _upgrade(writer: asyncio.StreamWriter, answer: bytes, options: Options, tls: ssl.SSLContext) -> None:
    writer.write(answer + options.inject)
    await writer.drain()
    await writer.start_tls(tls)


def smtp(options: Options, tls: ssl.SSLContext):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        secure = False
        writer.write(b"220 mail.test ESMTP ready\r\n")
        async for line in _lines(reader, options):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                offer = b"250-AUTH PLAIN LOGIN\r\n" if secure else (b"250-STARTTLS\r\n" if options.starttls else b"")
                writer.write(b"250-mail.test greets you\r\n250-SIZE 10240000\r\n" + offer + b"250 HELP\r\n")
            elif verb == "STARTTLS" and options.starttls and not secure:
                await _upgrade(writer, b"220 2.0.0 Ready to start TLS\r\n", options, tls)
                secure = True
            elif verb == "STARTTLS":
                writer.write(b"454 4.7.0 TLS not available\r\n")
            elif verb == "QUIT":
                writer.write(b"221 2.0.0 Bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"500 5.5.1 unrecognised command\r\n")
            await writer.drain()

    return handle


def imap(options: Options, tls: ssl.SSLContext):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        secure = False
        writer.write(b"* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] imap.test ready\r\n")
        async for line in _lines(reader, options):
            tag, _, command = line.partition(" ")
            command = command.upper()
            if command == "CAPABILITY":
                caps = b"IMAP4rev1 AUTH=PLAIN" if secure else b"IMAP4rev1 STARTTLS LOGINDISABLED"
                writer.write(b"* CAPABILITY " + caps + b"\r\n" + tag.encode() + b" OK CAPABILITY completed\r\n")
            elif command == "STARTTLS" and not secure:
                await _upgrade(writer, tag.encode() + b" OK Begin TLS negotiation now\r\n", options, tls)
                secure = True
            elif command == "LOGOUT":
                writer.write(b"* BYE logging out\r\n" + tag.encode() + b" OK LOGOUT completed\r\n")
                await writer.drain()
                return
            else:
                writer.write(tag.encode() + b" BAD unknown command\r\n")
            await writer.drain()

    return handle


def pop3(options: Options, tls: ssl.SSLContext):
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        secure = False
        writer.write(b"+OK POP3 pop.test ready\r\n")
        async for line in _lines(reader, options):
            command = line.upper()
            if command == "CAPA":
                caps = b"USER\r\nSASL PLAIN\r\n" if secure else b"USER\r\nSTLS\r\n"
                writer.write(b"+OK Capability list follows\r\n" + caps + b".\r\n")
            elif command == "STLS" and not secure:
                await _upgrade(writer, b"+OK Begin TLS negotiation\r\n", options, tls)
                secure = True
            elif command == "QUIT":
                writer.write(b"+OK bye\r\n")
                await writer.drain()
                return
            else:
                writer.write(b"-ERR unknown command\r\n")
            await writer.drain()

    return handle


def _ber_length(n: int) -> bytes:
    return bytes([n]) if n < 0x80 else bytes([0x81, n])


def ldap_extended_response(message_id: int, result_code: int, name: bytes | None) -> bytes:
    """LDAPMessage { messageID, extendedResp [APPLICATION 24] { resultCode, matchedDN "",
    diagnosticMessage "", responseName [10] OPTIONAL } } (RFC 4511, 4.12)."""
    body = b"\x0a\x01" + bytes([result_code]) + b"\x04\x00\x04\x00"
    if name is not None:
        body += b"\x8a" + _ber_length(len(name)) + name
    op = b"\x78" + _ber_length(len(body)) + body
    content = b"\x02\x01" + bytes([message_id]) + op
    return b"\x30" + _ber_length(len(content)) + content


async def _ldap_message(reader: asyncio.StreamReader) -> bytes:
    head = await asyncio.wait_for(reader.readexactly(2), LINE_TIMEOUT_SECONDS)
    if head[0] != 0x30:
        raise ConnectionResetError("not an LDAPMessage")
    length = head[1]
    if length & 0x80:
        size = await reader.readexactly(length & 0x7F)
        length = int.from_bytes(size, "big")
    return await asyncio.wait_for(reader.readexactly(length), LINE_TIMEOUT_SECONDS)


def ldap(options: Options, tls: ssl.SSLContext):
    """StartTLS (RFC 4511, 4.14) and, once in TLS, WhoAmI (RFC 4532); messageIDs below 128."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        secure = False
        count = 0
        while True:
            content = await _ldap_message(reader)
            count += 1
            if options.silent_after is not None and count > options.silent_after:
                await asyncio.sleep(LINE_TIMEOUT_SECONDS)
                return
            message_id = content[2]  # 02 01 <id>
            if content[3] != 0x77:  # not an ExtendedRequest
                writer.write(ldap_extended_response(message_id, 2, None))  # protocolError
            elif STARTTLS_OID in content and not secure:
                answer = ldap_extended_response(message_id, options.ldap_result, STARTTLS_OID)
                if options.ldap_result != 0:
                    writer.write(answer)
                else:
                    await _upgrade(writer, answer, options, tls)
                    secure = True
            elif WHOAMI_OID in content and secure:
                authz = b"dn:cn=probe"
                body = b"\x0a\x01\x00\x04\x00\x04\x00\x8b" + _ber_length(len(authz)) + authz
                op = b"\x78" + _ber_length(len(body)) + body
                inner = b"\x02\x01" + bytes([message_id]) + op
                writer.write(b"\x30" + _ber_length(len(inner)) + inner)
            else:
                writer.write(ldap_extended_response(message_id, 53, None))  # unwillingToPerform
            await writer.drain()

    return handle


PROTOCOLS = {"smtp": smtp, "imap": imap, "pop3": pop3, "ldap": ldap}


class DialogueServers:
    """Starts a server of a protocol with given options; all stop with the fixture."""

    def __init__(self, pki: TestPKI, stack) -> None:
        self.pki = pki
        self._stack = stack

    async def start(
        self, protocol: str, *, client_ca: str | None = None, implicit_tls: bool = False, **options
    ) -> int:
        tls = server_context(self.pki, client_ca)
        handler = PROTOCOLS[protocol](Options(**options), tls)
        return await self._stack.enter_async_context(start_tcp(handler, tls if implicit_tls else None))


@pytest_asyncio.fixture
async def dialogue_servers(pki: TestPKI) -> AsyncIterator[DialogueServers]:
    import contextlib

    async with contextlib.AsyncExitStack() as stack:
        yield DialogueServers(pki, stack)

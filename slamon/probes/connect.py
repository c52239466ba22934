"""How a probe reaches its target: through an HTTP proxy, with a client certificate,
with basic-auth credentials. The parts of a connection that are not HTTP parsing.

- ``Proxies``: the ``proxy`` of an http probe, resolved for one run. A plain ``http``
  target is asked of the proxy in absolute form (``GET http://host/path``); an
  ``https`` target goes through a ``CONNECT host:port`` tunnel, and TLS is then spoken
  end to end with the target (the proxy never sees inside). Credentials in the proxy
  URL (``http://user:${env:PW}@proxy:3128``) go as ``Proxy-Authorization: Basic``.
  The daemon's ``http_proxy``/``https_proxy``/``no_proxy`` variables are read only
  when the probe says ``proxy: environment``: a monitor that silently went through
  whatever proxy its environment named would measure the proxy, not the service.
- ``ClientCert``: a client certificate and key for mutual TLS, loaded into an SSL
  context (``ProbeContext.ssl_context`` caches it until a file changes).
- ``basic_authorization``: the ``Authorization: Basic`` value; the token is masked
  like the password it holds.
"""

from __future__ import annotations

import asyncio
import base64
import ipaddress
import os
import re
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import yarl

from slamon.core.model import PROXY_FROM_ENVIRONMENT
from slamon.core.results import Reason
from slamon.probes.secrets import REF_RE, Secrets

MAX_CONNECT_RESPONSE_BYTES = 16 * 1024  # a proxy's answer to CONNECT: headers only
DEFAULT_PROXY_PORT = 80  # as urllib, aiohttp and requests take it for http://proxy


class ProxyFailed(Exception):
    """The proxy did not give the probe a way through (a result, with its reason)."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class ClientCertError(Exception):
    """The client certificate or key cannot be loaded (``error``: a deployment problem)."""


def basic_authorization(secrets: Secrets, username: str, password: str) -> str:
    """``Basic base64(username:password)`` (RFC 7617, UTF-8); the token and the
    password are masked from then on."""
    token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    secrets.add(password)
    secrets.add(token)
    return f"Basic {token}"


# ---------------------------------------------------------------- proxies


class ProxyRoute:
    """One proxy to go through: where it is and what to tell it."""

    __slots__ = ("authorization", "host", "port", "shown")

    def __init__(self, host: str, port: int, authorization: str | None) -> None:
        self.host = host
        self.port = port
        self.authorization = authorization
        self.shown = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    @property
    def url(self) -> str:
        """The proxy as a URL for the client's resolver and connector (no credentials)."""
        return f"http://{self.shown}/"

    def forward(self, request: bytes, target: Any) -> bytes:
        """A plain-http request made for the proxy: the target in absolute form, and the
        proxy's credentials. ``target`` is the client's parsed URL (``h1.Target``)."""
        line, _, rest = request.partition(b"\r\n")
        method, _, tail = line.partition(b" ")
        version = tail.rpartition(b" ")[2]
        absolute = f"http://{target.authority}{target.path}".encode()
        head = b"%s %s %s\r\n" % (method, absolute, version)
        if self.authorization is not None:
            head += f"Proxy-Authorization: {self.authorization}\r\n".encode()
        return head + rest

    async def tunnel(self, transport: asyncio.Transport, protocol: asyncio.Protocol, target: Any) -> None:
        """Ask the proxy for a tunnel to ``target`` on ``transport``; once the proxy says
        2xx, the connection belongs to ``protocol`` again (TLS follows)."""
        authority = f"[{target.host}]:{target.port}" if ":" in target.host else f"{target.host}:{target.port}"
        lines = [f"CONNECT {authority} HTTP/1.1", f"Host: {authority}"]
        if self.authorization is not None:
            lines.append(f"Proxy-Authorization: {self.authorization}")
        reader = _ConnectAnswer(asyncio.get_running_loop())
        transport.set_protocol(reader)
        try:
            transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())
            status, phrase = await reader.answer
        finally:
            transport.set_protocol(protocol)
        if 200 <= status < 300:
            return
        where = f"the proxy {self.shown} answered CONNECT {authority} with {status} {phrase}".rstrip()
        if status == 407:
            raise ProxyFailed(Reason.error, f"{where}: the proxy wants credentials, or refused those given (proxy: http://user:${{env:NAME}}@...)")
        if status in (502, 503, 504):
            raise ProxyFailed(Reason.unreachable, f"{where}: the proxy could not reach the target")
        raise ProxyFailed(Reason.error, where)


class _ConnectAnswer(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: a status line and headers, nothing more."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.answer: asyncio.Future[tuple[int, str]] = loop.create_future()
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self.buffer += data
        end, sep = self.buffer.find(b"\r\n\r\n"), 4
        if end < 0:
            end, sep = self.buffer.find(b"\n\n"), 2
        if end < 0:
            if len(self.buffer) > MAX_CONNECT_RESPONSE_BYTES:
                self._fail(ProxyFailed(Reason.protocol, "the proxy's answer to CONNECT is too long"))
            return
        if len(self.buffer) > end + sep:
            # bytes before the client has said anything: not what a tunnel does
            self._fail(ProxyFailed(Reason.protocol, "the proxy sent data after its answer to CONNECT"))
            return
        line = self.buffer.split(b"\n", 1)[0].strip().decode("latin-1")
        parts = line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            self._fail(ProxyFailed(Reason.protocol, "the proxy did not answer CONNECT in HTTP"))
            return
        self.answer.set_result((int(parts[1]), parts[2] if len(parts) > 2 else ""))

    def eof_received(self) -> bool:
        self._fail(ProxyFailed(Reason.reset, "the proxy closed the connection during CONNECT"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc if exc is not None else ProxyFailed(Reason.reset, "the proxy closed the connection during CONNECT"))

    def _fail(self, exc: BaseException) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


class Proxies:
    """The proxy (or none) for each hop of one http probe run, by the target's URL."""

    __slots__ = ("_env", "_fixed", "_secrets")

    def __init__(self, fixed: ProxyRoute | None, env: dict[str, str] | None, secrets: Secrets) -> None:
        self._fixed = fixed
        self._env = env
        self._secrets = secrets

    def route(self, target: Any) -> ProxyRoute | None:
        """The proxy for ``target`` (an ``h1.Target``), or None for a direct connection."""
        if self._env is None:
            return self._fixed
        env = self._env
        if _bypassed(target.host, target.port, _first(env, "no_proxy", "NO_PROXY")):
            return None
        if target.https:
            text = _first(env, "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")
        else:
            text = _first(env, "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
        if not text:
            return None
        return parse_proxy(text if "://" in text else f"http://{text}", self._secrets, "the environment's")


def proxies_for(proxy: str | None, secrets: Secrets, env: Any) -> Proxies | None:
    """The ``proxy`` option of a probe for one run (its ``${env:}`` credentials resolved)."""
    if proxy is None:
        return None
    if proxy == PROXY_FROM_ENVIRONMENT:
        names = ("no_proxy", "NO_PROXY", "https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY",
                 "all_proxy", "ALL_PROXY")  # fmt: skip
        return Proxies(None, {n: env[n] for n in names if env.get(n)}, secrets)
    return Proxies(_probe_proxy(proxy, secrets), None, secrets)


_USERINFO = re.compile(r"^((?:\$\{[^}]*\}|[^:])*)(?::(.*))?$", re.DOTALL)


def _probe_proxy(template: str, secrets: Secrets) -> ProxyRoute:
    """The ``proxy`` of a probe. Credentials are taken apart before ``${env:}`` is
    resolved, so a password holding ``@``, ``/`` or ``:`` stays whole: a reference
    stands for the raw value, text written around it is percent-decoded."""
    scheme, sep, rest = template.partition("://")
    authority, slash, path = rest.partition("/")
    userinfo, at, hostport = authority.rpartition("@")
    if not sep or not at:
        return parse_proxy(secrets.resolve(template), secrets, "the probe's")
    m = _USERINFO.match(userinfo)
    user_t, password_t = (m.group(1), m.group(2) or "") if m else (userinfo, "")
    route = parse_proxy(secrets.resolve(f"{scheme}://{hostport}{slash}{path}"), secrets, "the probe's")
    user, password = _credential(user_t, secrets), _credential(password_t, secrets)
    secrets.add(password)
    route.authorization = basic_authorization(secrets, user, password)
    return route


def _credential(template: str, secrets: Secrets) -> str:
    out, at = [], 0
    for m in REF_RE.finditer(template):
        out.append(unquote(template[at : m.start()]))
        out.append(secrets.resolve(m.group(0)))
        at = m.end()
    out.append(unquote(template[at:]))
    return "".join(out)


def parse_proxy(text: str, secrets: Secrets, whose: str) -> ProxyRoute:
    """``http://[user:password@]host[:port]`` -> a route; its password is masked."""
    try:
        url = yarl.URL(text)
    except (ValueError, TypeError):
        raise ProxyFailed(Reason.error, f"{whose} proxy is not a URL") from None
    if url.scheme != "http" or not url.raw_host:
        raise ProxyFailed(
            Reason.error,
            f"{whose} proxy {url.scheme}://{url.raw_host or ''} cannot be used: slamon speaks to "
            "proxies over http:// only",
        )
    authorization = None
    if url.raw_user is not None:
        user = unquote(url.raw_user)
        password = unquote(url.raw_password or "")
        secrets.add(password)
        authorization = basic_authorization(secrets, user, password)
    host = url.raw_host.rstrip(".") or url.raw_host
    return ProxyRoute(host, url.explicit_port or DEFAULT_PROXY_PORT, authorization)


def _first(env: dict[str, str], *names: str) -> str:
    for name in names:
        value = env.get(name)
        if value:
            return value.strip()
    return ""


def _bypassed(host: str, port: int, no_proxy: str) -> bool:
    """``no_proxy`` as curl reads it: ``*``, or names, addresses and networks
    (``10.0.0.0/8``) separated by commas, a name matching itself and every name below it,
    an entry with ``:port`` only that port."""
    if not no_proxy:
        return False
    host = host.lower().strip("[]")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in no_proxy.split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if entry_port and entry_port.isdigit() and int(entry_port) != port:
            continue
        name = name.lstrip(".").strip("[]")
        if "/" in name and address is not None:
            try:
                if address in ipaddress.ip_network(name, strict=False):
                    return True
            except ValueError:
                pass
            continue
        if host == name or host.endswith("." + name):
            return True
    return False


# ---------------------------------------------------------------- client certificates


@dataclass(frozen=True, slots=True)
class ClientCert:
    """A client certificate (PEM; may hold the key too), its key and the key's password."""

    cert_file: str
    key_file: str | None
    password: str | None

    def stamp(self) -> tuple[int, ...]:
        """The files' change times: a renewed certificate is loaded again."""
        try:
            stamps = [os.stat(self.cert_file).st_mtime_ns]
            if self.key_file is not None:
                stamps.append(os.stat(self.key_file).st_mtime_ns)
        except OSError as exc:
            raise ClientCertError(f"cannot read client certificate {exc.filename}: {exc.strerror}") from None
        return tuple(stamps)

    def load_into(self, context: ssl.SSLContext) -> None:
        """Load the certificate and key into ``context``; ``ClientCertError`` if they
        cannot be read, do not match, or the key is encrypted and the password is wrong."""

        def password() -> bytes:
            if self.password is None:
                raise ClientCertError(
                    f"the client key {self.key_file or self.cert_file} is encrypted; "
                    "set client_key_password: ${env:NAME}"
                )
            return self.password.encode()

        try:
            context.load_cert_chain(self.cert_file, self.key_file, password)
        except ClientCertError:
            raise
        except OSError as exc:
            reason = getattr(exc, "reason", None) or exc.strerror or str(exc)
            if reason in ("BAD_DECRYPT", "bad decrypt") or "decrypt" in str(reason).lower():
                reason = "wrong client_key_password"
            raise ClientCertError(
                f"cannot load client certificate {self.cert_file}"
                + (f" with key {self.key_file}" if self.key_file else "")
                + f": {reason}"
            ) from None


def client_cert_for(probe: Any, secrets: Secrets) -> ClientCert | None:
    """The probe's ``client_cert``/``client_key``/``client_key_password``, resolved."""
    if probe.client_cert is None:
        return None
    password = probe.client_key_password
    if password is not None:
        password = secrets.resolve(password)
        secrets.add(password)
    return ClientCert(probe.client_cert, probe.client_key, password)

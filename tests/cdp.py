"""A small Chrome DevTools Protocol client over aiohttp's websocket, for the page tests:
one headless Chromium, pages loaded in turn, each with its rendered DOM, a PNG
screenshot and every console message, script exception and log entry."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

START_TIMEOUT_SECONDS = 30.0
COMMAND_TIMEOUT_SECONDS = 30.0


@dataclass
class PageLoad:
    dom: str
    png: bytes
    messages: list[str] = field(default_factory=list)  # console, exceptions, log errors/warnings


class Chromium:
    def __init__(self, binary: str, profile: Path, width: int = 1400, height: int = 1000) -> None:
        self.binary, self.profile, self.width, self.height = binary, profile, width, height
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._events: list[dict] = []
        self._loaded = asyncio.Event()

    async def __aenter__(self) -> Chromium:
        self.profile.mkdir(parents=True, exist_ok=True)
        self.proc = await asyncio.create_subprocess_exec(
            self.binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-extensions", "--hide-scrollbars", "--remote-debugging-port=0",
            "--remote-debugging-address=127.0.0.1", f"--user-data-dir={self.profile}", "about:blank",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )
        try:
            port_file = self.profile / "DevToolsActivePort"
            loop = asyncio.get_running_loop()
            deadline = loop.time() + START_TIMEOUT_SECONDS
            while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
                if loop.time() > deadline or self.proc.returncode is not None:
                    raise RuntimeError("Chromium did not open its DevTools port")
                await asyncio.sleep(0.05)
            port, path = port_file.read_text().splitlines()[:2]
            self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=COMMAND_TIMEOUT_SECONDS))
            self.ws = await self.http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=64 * 2**20)
            self._reader = asyncio.create_task(self._read())
            target = await self.send("Target.createTarget", {"url": "about:blank"})
            attached = await self.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
            self.session = attached["sessionId"]
            for domain in ("Page", "Runtime", "Log"):
                await self.send(f"{domain}.enable", session=True)
            await self.send(
                "Emulation.setDeviceMetricsOverride",
                {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
                session=True,
            )
        except BaseException:
            await self._stop()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        if hasattr(self, "ws"):
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.send("Browser.close"), 5)
            await self.ws.close()
        if hasattr(self, "_reader"):
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        if hasattr(self, "http"):
            await self.http.close()
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = msg.json()
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut is not None and not fut.done():
                    if "error" in data:
                        fut.set_exception(RuntimeError(f"{data['error']}"))
                    else:
                        fut.set_result(data.get("result", {}))
            else:
                self._events.append(data)
                if data.get("method") == "Page.loadEventFired":
                    self._loaded.set()

    async def send(self, method: str, params: dict | None = None, session: bool = False) -> Any:
        msg_id = next(self._ids)
        msg: dict[str, Any] = {"id": msg_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = self.session
        fut = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        await self.ws.send_json(msg)
        return await asyncio.wait_for(fut, COMMAND_TIMEOUT_SECONDS)

    async def load(self, url: str) -> PageLoad:
        self._events.clear()
        self._loaded.clear()
        result = await self.send("Page.navigate", {"url": url}, session=True)
        if result.get("errorText"):
            raise RuntimeError(f"{url}: {result['errorText']}")
        await asyncio.wait_for(self._loaded.wait(), COMMAND_TIMEOUT_SECONDS)
        dom = await self.send(
            "Runtime.evaluate", {"expression": "document.documentElement.outerHTML", "returnByValue": True}, session=True
        )
        shot = await self.send("Page.captureScreenshot", {"format": "png"}, session=True)
        return PageLoad(dom["result"]["value"], base64.b64decode(shot["data"]), self._messages())

    async def evaluate(self, expression: str) -> Any:
        """The value of ``expression`` in the current page (JSON-serialisable)."""
        done = await self.send(
            "Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True}, session=True
        )
        if "exceptionDetails" in done:
            raise RuntimeError(f"script failed: {done['exceptionDetails']}")
        return done["result"].get("value")

    async def resize(self, width: int, height: int | None = None) -> None:
        """Emulate a window ``width`` CSS pixels wide (the next load lays out at it)."""
        self.width, self.height = width, height or self.height
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": self.width, "height": self.height, "deviceScaleFactor": 1, "mobile": False},
            session=True,
        )

    async def full_screenshot(self) -> bytes:
        """The whole page, beyond the window, as PNG."""
        metrics = await self.send("Page.getLayoutMetrics", session=True)
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": self.width, "height": min(int(size["height"]), 12000), "scale": 1}
        shot = await self.send(
            "Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True}, session=True
        )
        return base64.b64decode(shot["data"])

    def messages(self) -> list[str]:
        """Console messages, exceptions and log errors since the last ``load``."""
        return self._messages()

    def _messages(self) -> list[str]:
        out = []
        for e in self._events:
            method, p = e.get("method"), e.get("params", {})
            if method == "Runtime.consoleAPICalled":
                text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
                out.append(f"console.{p.get('type')}: {text}")
            elif method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                out.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") in ("error", "warning"):
                entry = p["entry"]
                out.append(f"log.{entry['level']}: {entry.get('text')} {entry.get('url', '')}".strip())
        return out

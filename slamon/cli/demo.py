"""``slamon demo``: the daemon against a simulated estate on loopback (docs/demo.md).

Starts the estate, writes the demo catalogue and (once) the demo history, then runs
``slamon run`` on them as a child process until Ctrl+C, SIGTERM or ``--duration``;
the child gets one SIGTERM and drains as a daemon does, then the estate stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import signal
import socket
import sys
import time
from pathlib import Path

from slamon.cli.common import add_catalogue_option, add_listen_option, add_log_options, seconds_arg
from slamon.logs import json_line

DEFAULT_WORKDIR = Path("var/demo")
DEFAULT_LISTEN = "127.0.0.1:9730"
DEFAULT_ESTATE_PORTS = 19700
READY_TIMEOUT_SECONDS = 30.0
CHILD_STOP_SECONDS = 20.0


def _port(text: str) -> int:
    if not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535 (found {text!r})")
    return int(text)


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo",
        help="run the daemon against a simulated estate on 127.0.0.1",
        description=(
            "Start simulated services for the bundled catalogue on 127.0.0.1, write a demo "
            "catalogue and a store with past history, and run the daemon against them. "
            "No network needed. See docs/demo.md."
        ),
    )
    p.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, metavar="DIR",
                   help="where the demo catalogue, certificates and store go (default: %(default)s)")
    add_listen_option(p, "the daemon's pages and /metrics", DEFAULT_LISTEN)
    add_catalogue_option(p, "to simulate")
    p.add_argument("--no-backfill", action="store_true",
                   help="do not write past history into a new store")
    p.add_argument("--duration", type=seconds_arg, default=None, metavar="SECONDS",
                   help="stop after this long (default: run until Ctrl+C)")
    p.add_argument("--interval", type=seconds_arg, default=15.0, metavar="SECONDS",
                   help="probe interval in the demo catalogue; journeys 2x, certificates 4x (default: %(default)s)")
    p.add_argument("--estate-ports", type=_port, default=DEFAULT_ESTATE_PORTS, metavar="PORT",
                   help="first port of the simulated services (the next ones follow; any free port "
                        "where one is taken; 0: any free ports) (default: %(default)s)")
    p.add_argument("--seed", type=int, default=1, help="chooses the behaviour profiles and history (default: %(default)s)")
    add_log_options(p, level="warning", format="logfmt", logged_by="the daemon",
                    lines_of="the daemon and the demo's own messages")
    p.set_defaults(handler=run)


def _say(args: argparse.Namespace, text: str, fields: dict | None = None) -> None:
    """A message of the demo itself on standard error: a plain line, or under
    ``--log-format json`` a JSON event like the daemon's (the banner stays on stdout)."""
    if getattr(args, "log_format", "logfmt") == "json":
        line = json_line("slamon.demo", "demo_message", {"detail": text, **(fields or {})})
        print(line, file=sys.stderr, flush=True)
    else:
        print(f"slamon demo: {text}" if fields is None else text, file=sys.stderr, flush=True)


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run(args: argparse.Namespace) -> int:
    from slamon import logs
    from slamon.loader import load_catalogue

    # the simulated estate's servers log too (aiohttp's "Error handling request" when a
    # client goes away): in the same format as the daemon's lines
    logs.configure(args.log_format, args.log_level)

    source = args.catalogue
    if not source.is_dir():
        _say(args, f"catalogue directory {source} does not exist")
        return 1
    report = load_catalogue(source)
    if report.catalogue is None or report.errors:
        for diag in report.errors:
            _say(args, str(diag), diag.log_fields())
        _say(args, f"the catalogue in {source} has errors; run `slamon check {source}`")
        return 1
    host, _, port = args.listen.rpartition(":")
    host = host.strip("[]")
    listen = args.listen if int(port) else f"{args.listen.rpartition(':')[0]}:{_free_port(host)}"
    workdir = args.workdir.resolve()
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _say(args, f"cannot create {workdir}: {exc.strerror or exc}")
        return 1
    package_root = str(Path(__file__).resolve().parents[2])
    try:
        return asyncio.run(_demo(args, report.catalogue, listen, workdir, package_root))
    except KeyboardInterrupt:
        return 130


async def _demo(
    args: argparse.Namespace, catalogue, listen: str, workdir: Path, package_root: str
) -> int:
    from slamon.demo.backfill import DEFAULT_START
    from slamon.demo.derive import derive_catalogue, heartbeat_probes, secret_names
    from slamon.demo.estate import Estate
    from slamon.demo.heartbeats import send_heartbeats
    from slamon.store import StoreError

    db_path = workdir / "slamon.db"
    db_url = f"sqlite:///{db_path}"
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    estate = Estate(catalogue, workdir, seed=args.seed, port_base=args.estate_ports)
    await estate.start()
    child: asyncio.subprocess.Process | None = None
    try:
        demo_catalogue = await asyncio.to_thread(
            derive_catalogue, args.catalogue, workdir / "catalogue", estate, args.interval
        )
        if args.no_backfill:
            note = "no history written (--no-backfill)"
        elif await asyncio.to_thread(db_path.exists):
            note = f"history kept from an earlier run (delete {workdir} to start afresh)"
        else:
            _say(args, f"writing past history into {db_path} ...")
            started = time.monotonic()
            try:
                summary = await asyncio.to_thread(_backfill, db_path, catalogue, estate.profiles, args.seed)
            except StoreError as exc:
                _say(args, f"{exc}")
                return 1
            note = (
                f"{summary.rollups} service-days since {DEFAULT_START}, {summary.breaches} breaches, "
                f"{summary.exclusions} exclusion ({time.monotonic() - started:.1f} s)"
            )
        if not stop.is_set() and await asyncio.to_thread(db_path.exists):
            # each biennium's baseline: the previous biennium's actual in this history
            await asyncio.to_thread(_rebase, db_path, catalogue, demo_catalogue)
        if stop.is_set():
            return 0
        env = dict(os.environ)
        for name in await asyncio.to_thread(secret_names, demo_catalogue):
            env.setdefault(name, f"demo-{name.lower()}")
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
        command = [
            sys.executable, "-m", "slamon", "run",
            "--catalogue", str(demo_catalogue),
            "--db", db_url,
            "--listen", listen,
            "--log-level", args.log_level,
            "--log-format", args.log_format,
            "--max-in-flight-per-host", "64",
        ]
        child = await asyncio.create_subprocess_exec(*command, env=env, start_new_session=True)
        base = f"http://{listen}"
        ready = await _wait_ready(base, child, stop)
        if child.returncode is not None:
            _say(args, f"the daemon exited with status {child.returncode}")
            return child.returncode or 1
        _print_banner(base, demo_catalogue, db_url, note, estate, listen, args.log_format)
        if not ready and not stop.is_set():
            _say(args, f"the daemon does not answer at {base}/healthz yet")
        jobs_stop = asyncio.Event()
        jobs = loop.create_task(
            send_heartbeats(
                base, await asyncio.to_thread(heartbeat_probes, demo_catalogue), env, 2 * args.interval, jobs_stop
            )
        )
        try:
            if not stop.is_set():
                waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(child.wait())]
                await asyncio.wait(waiters, timeout=args.duration, return_when=asyncio.FIRST_COMPLETED)
                for w in waiters:
                    w.cancel()
        finally:
            jobs_stop.set()
            await asyncio.gather(jobs, return_exceptions=True)
        if child.returncode is not None:
            _say(args, f"the daemon exited with status {child.returncode}")
            return child.returncode or 1
        _say(args, "stopping")
        return await _stop_child(child)
    finally:
        if child is not None and child.returncode is None:
            await _stop_child(child)
        await estate.close()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _backfill(db_path: Path, catalogue, profiles, seed: int):
    """Write the demo history into a new store (in a worker thread).

    Written under another name and renamed when complete, so an interrupted backfill
    is redone at the next start rather than taken for history."""
    from slamon.demo.backfill import backfill
    from slamon.store import Store

    partial = db_path.with_name(db_path.name + ".partial")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    from slamon.cli.progress import progress_bar

    store = Store.open(f"sqlite:///{partial}")
    try:
        with progress_bar("demo history", total=len(catalogue.services)) as bar:
            summary = backfill(
                store, catalogue, profiles, today=dt.datetime.now(dt.UTC).date(), seed=seed, progress=bar.update
            )
    finally:
        store.close()
    partial.replace(db_path)
    return summary


def _rebase(db_path: Path, catalogue, demo_catalogue: Path) -> None:
    from slamon.demo.baselines import rebase_demo_catalogue
    from slamon.store import Store

    store = Store.open(f"sqlite:///{db_path}")
    try:
        rebase_demo_catalogue(store, catalogue, demo_catalogue, dt.datetime.now(dt.UTC))
    finally:
        store.close()


async def _wait_ready(base: str, child: asyncio.subprocess.Process, stop: asyncio.Event) -> bool:
    import aiohttp

    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT_SECONDS
    timeout = aiohttp.ClientTimeout(total=1.0)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        while loop.time() < deadline and child.returncode is None and not stop.is_set():
            with contextlib.suppress(aiohttp.ClientError, TimeoutError, OSError):
                async with session.get(f"{base}/healthz") as response:
                    if response.status == 200:
                        return True
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=0.2)
    return False


async def _stop_child(child: asyncio.subprocess.Process) -> int:
    if child.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(child.wait(), timeout=CHILD_STOP_SECONDS)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            await child.wait()
            return 1
    return child.returncode or 0


def _print_banner(
    base: str, catalogue_dir: Path, db_url: str, note: str, estate, listen: str, log_format: str = "logfmt"
) -> None:
    from slamon.demo.profiles import Profile
    from slamon.web.views import counts_text, service_counts

    counts = service_counts(estate.catalogue)
    by_profile: dict[str, list[str]] = {}
    for sid, profile in sorted(estate.profiles.items()):
        if profile is not Profile.healthy:
            by_profile.setdefault(profile.value, []).append(sid)
    lines = [
        "",
        # the same count, worded the same, as the status page's header (slamon.web.views)
        f"slamon demo: {counts_text(counts)}; the {counts['probed_here']} probed are simulated on 127.0.0.1 "
        f"and probed by the daemon at {listen}",
        f"  metrics      {base}/metrics",
        f"  health       {base}/healthz",
        f"  status page  {base}/",
        f"  catalogue    {catalogue_dir}",
        f"  store        {db_url}  ({note})",
        f"  reports      slamon report --db {db_url} --period 2024-2025 --format html -o report.html",
        "  behaviour    " + "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(by_profile.items())),
        "               planned maintenance: every service in its catalogue windows",
        "Press Ctrl+C to stop.",
        "",
    ]
    if log_format == "json":  # one event, the same facts, for a log collector
        doc = {
            "services": len(estate.profiles), "counts": counts, "metrics": f"{base}/metrics", "health": f"{base}/healthz",
            "status_page": f"{base}/", "catalogue": str(catalogue_dir), "store": db_url, "history": note,
            "behaviour": {k: v for k, v in sorted(by_profile.items())},
        }
        print(json_line("slamon.demo", "demo_ready", doc), flush=True)
        return
    print("\n".join(lines), flush=True)

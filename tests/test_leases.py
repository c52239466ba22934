"""Shard leases on a real PostgreSQL: claiming, balancing, takeover, loss of the session,
the evaluator lease; and the refusals (SQLite, --shard with --shards)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import socket
import time
from collections import Counter

import aiohttp
import psycopg
import pytest
from sqlalchemy.engine import make_url

from slamon.cli import build_parser, main
from slamon.cli.run import config_from_args
from slamon.config import Config
from slamon.daemon import Daemon
from slamon.leases import ShardLeases, fair_share, live_daemons, namespace, pg_conninfo, refusal
from slamon.loader import load_catalogue
from slamon.monitor import Monitor, select_tasks
from slamon.runtime import LeaseStats, Runtime
from slamon.web import WebServer, build_app
from tests import store_support
from tests.conftest import CATALOGUE_DIR
from tests.daemon_support import estate, write_catalogue

pg_url = store_support.pg_url

TICK = 0.2


def leases(url: str, shards: int, name: str, **kw) -> ShardLeases:
    return ShardLeases(url, shards, identity=name, interval_seconds=TICK, query_timeout_seconds=2.0,
                       connect_timeout_seconds=2.0, stats=LeaseStats(), **kw)


async def until(predicate, timeout_seconds: float, what: str) -> None:
    deadline = time.monotonic() + timeout_seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_seconds} s waiting for {what}")
        await asyncio.sleep(0.05)


def holders(url: str) -> dict[int, int]:
    """Shard locks of this schema's daemons (office scope "*") as PostgreSQL itself lists
    them: backend pid -> how many it holds."""
    with psycopg.connect(pg_conninfo(url), autocommit=True) as conn:
        schema = conn.execute("SELECT current_schema()").fetchone()[0]
        rows = conn.execute(
            "SELECT l.objid::bigint, l.pid FROM pg_locks l "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' "
            "AND l.classid::bigint = %s AND l.objid::bigint < 4096 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())",
            (namespace(schema, "*"),),
        ).fetchall()
    return dict(Counter(pid for _key, pid in rows))


def test_fair_share():
    assert [fair_share(6, d) for d in (1, 2, 3, 4, 6, 7)] == [6, 3, 2, 2, 1, 1]
    assert fair_share(6, 0) == 6


def test_refusals():
    assert refusal("sqlite:///x.db", None, None) is None
    msg = refusal("sqlite:///x.db", 4, None)
    assert msg is not None and "PostgreSQL" in msg and "--shard I/N" in msg
    assert "exclude each other" in refusal("postgresql+psycopg://h/db", 4, (0, 2))
    assert refusal("postgresql+psycopg://h/db", 4, None) is None


async def test_daemon_refuses_shards_on_sqlite(tmp_path):
    root = write_catalogue(tmp_path / "catalogue", estate(2))
    err = io.StringIO()
    code = await Daemon(Config(catalogue_dir=root, db_url=f"sqlite:///{tmp_path}/s.db", listen="127.0.0.1:0",
                               shards=4)).serve(err)
    assert code == 1
    assert "--shards needs PostgreSQL" in err.getvalue() and "Traceback" not in err.getvalue()
    assert not (tmp_path / "s.db").exists()  # refused before anything was opened


def test_monitor_probes_exactly_the_held_shards(tmp_path):
    report = load_catalogue(write_catalogue(tmp_path / "catalogue", estate()))
    catalogue = report.catalogue
    monitor = Monitor(Runtime(), [], tmp_path)
    monitor.held = (frozenset(), 4)
    assert monitor.apply(catalogue) == []  # nothing held: nothing probed
    got = {t.key for t in monitor.set_held_shards(frozenset({1, 3}), 4)}
    want = {t.key for i in (1, 3) for t in select_tasks(catalogue, shard=(i, 4))}
    assert got == want and got
    assert {t.key for t in monitor.tasks} == want
    assert monitor.set_held_shards(frozenset(), 4) == []


@pytest.mark.integration
async def test_claim_balance_release_and_takeover(pg_url):
    a = leases(pg_url, 6, "a")
    b = leases(pg_url, 6, "b")
    try:
        await a.first_tick(5)
        assert a.held == frozenset(range(6)) and a.is_evaluator  # alone: everything
        a.start()
        await b.first_tick(5)
        assert not b.is_evaluator  # one evaluator at a time
        b.start()
        await until(lambda: len(a.held) == 3 and len(b.held) == 3, 5, "a and b to share 6 shards 3/3")
        assert a.held.isdisjoint(b.held) and a.held | b.held == frozenset(range(6))
        assert a.stats.daemons == b.stats.daemons == 2
        assert sorted(holders(pg_url).values()) == [3, 3]  # PostgreSQL agrees
        await a.close()  # SIGTERM: released at once
        await until(lambda: len(b.held) == 6, 3, "b to take a's shards")
        await until(lambda: b.is_evaluator, 3, "b to take the evaluator lease")
        assert b.stats.acquired_total == 6 and a.stats.released_total == 6
    finally:
        await a.close()
        await b.close()


@pytest.mark.integration
async def test_a_killed_session_is_taken_over_and_the_loser_stops(pg_url):
    """The server ends a's session (as when its process dies): b takes the shards on its
    next tick; a notices on its next tick, drops everything, says why, and comes back."""
    changes: list[frozenset[int]] = []
    a = leases(pg_url, 4, "a", on_change=changes.append)
    b = leases(pg_url, 4, "b")
    try:
        a.start()
        await until(lambda: len(a.held) == 4, 5, "a to hold everything")
        b.start()
        await until(lambda: len(a.held) == 2 and len(b.held) == 2, 5, "2/2")
        with psycopg.connect(pg_conninfo(pg_url), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name LIKE 'slamon % a'")
        started = time.monotonic()
        await until(lambda: len(b.held) == 4, 5, "b to take over")
        assert time.monotonic() - started < 2.0
        await until(lambda: a.stats.lost_total == 1, 5, "a to notice")
        assert frozenset() in changes  # a stopped probing what it could no longer prove
        # a reconnects on a following tick and gets its fair share back from b
        await until(lambda: a.stats.problem is None and len(a.held) == 2 and len(b.held) == 2, 8, "rebalance")
        assert a.held.isdisjoint(b.held)
    finally:
        await a.close()
        await b.close()


@pytest.mark.integration
async def test_unreachable_database_holds_nothing_and_says_so(pg_url):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    url = f"postgresql+psycopg://slamon:slamon@127.0.0.1:{port}/nowhere"
    seen: list[frozenset[int]] = []
    lost = leases(url, 4, "lost", on_change=seen.append)
    try:
        await lost.first_tick(5)
        assert lost.held == frozenset() and not lost.is_evaluator and seen == []
        assert lost.stats.problem is not None and "cannot reach PostgreSQL" in lost.stats.problem
        assert not lost.stats.connected
    finally:
        await lost.close()


@pytest.mark.integration
async def test_targets_lists_the_live_daemons(pg_url, tmp_path, capsys):
    a = leases(pg_url, 2, "a", address="127.0.0.1:9731")
    b = leases(pg_url, 2, "b", address="127.0.0.1:9732")
    try:
        await a.first_tick(5)
        await b.first_tick(5)
        assert live_daemons(pg_url) == ["127.0.0.1:9731", "127.0.0.1:9732"]
        out = tmp_path / "slamon.json"
        assert main(["targets", "--db", pg_url, "-o", str(out), "--label", "site=geneva"]) == 0
        assert json.loads(out.read_text()) == [
            {"targets": ["127.0.0.1:9731", "127.0.0.1:9732"], "labels": {"site": "geneva"}}
        ]
        await a.close()
        assert live_daemons(pg_url) == ["127.0.0.1:9732"]  # gone with its session
        # a daemon of another store (schema) in the same database is not this one's target
        other_url, other_schema = store_support.fresh_pg_schema(store_support.pg_base_url())
        other = leases(other_url, 2, "other", address="127.0.0.1:9733")
        try:
            await other.first_tick(5)
            assert other.held == frozenset({0, 1})
            assert live_daemons(pg_url) == ["127.0.0.1:9732"]
            assert live_daemons(other_url) == ["127.0.0.1:9733"]
        finally:
            await other.close()
            store_support.drop_pg_schema(store_support.pg_base_url(), other_schema)
    finally:
        await a.close()
        await b.close()
    assert live_daemons(pg_url) == []


def test_targets_refuses_bad_input(tmp_path, capsys):
    assert main(["targets", "--db", f"sqlite:///{tmp_path}/x.db"]) == 1
    assert "postgresql+psycopg://" in capsys.readouterr().err
    assert main(["targets", "--db", "postgresql+psycopg://u:secret@127.0.0.1:1/x", "--label", "bad"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["targets", "--db", "postgresql+psycopg://u:secret@127.0.0.1:1/x"]) == 1
    err = capsys.readouterr().err
    assert "cannot read the daemons" in err and "secret" not in err and "Traceback" not in err


@pytest.mark.integration
async def test_scopes_do_not_compete(pg_url):
    """Daemons of different --office sets each cover their own offices' probes in full."""
    a = ShardLeases(pg_url, 3, ("unog",), identity="a", interval_seconds=TICK, stats=LeaseStats())
    b = ShardLeases(pg_url, 3, ("unon",), identity="b", interval_seconds=TICK, stats=LeaseStats())
    try:
        await a.first_tick(5)
        await b.first_tick(5)
        assert a.held == b.held == frozenset(range(3))
        assert a.is_evaluator and b.is_evaluator
    finally:
        await a.close()
        await b.close()


class Cuttable:
    """A TCP forwarder to PostgreSQL that the test can cut (every connection dropped,
    nothing accepted) and restore on the same port: the database going away and back."""

    def __init__(self, url: str) -> None:
        self.target = make_url(url)
        self.links: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.target.set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self.target.host, self.target.port or 5432)
        self.links |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for w in list(self.links):
            w.transport.abort()
        self.links.clear()
        await self.server.wait_closed()


@pytest.mark.integration
async def test_losing_the_database_stops_probing_says_so_and_resumes(pg_url):
    link = Cuttable(pg_url)
    url = await link.start()
    runtime = Runtime()
    changes: list[frozenset[int]] = []
    daemon = ShardLeases(url, 4, identity="cut", interval_seconds=TICK, query_timeout_seconds=1.0,
                         connect_timeout_seconds=1.0, stats=LeaseStats(), on_change=changes.append)
    runtime.leases = daemon.stats
    runtime.catalogue = load_catalogue(CATALOGUE_DIR).catalogue
    runtime.ready = True
    server = WebServer(build_app(runtime, lambda accept: (b"", "text/plain")), "127.0.0.1", 0)
    host, port = await server.start()

    async def readyz() -> tuple[int, str]:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as s, \
                s.get(f"http://{host}:{port}/readyz") as r:
            return r.status, await r.text()

    try:
        daemon.start()
        await until(lambda: len(daemon.held) == 4 and daemon.is_evaluator, 5, "every shard")
        assert await readyz() == (200, "ready\n")
        await link.cut()
        await until(lambda: not daemon.held, 5, "the shards to be dropped")
        assert changes[-1] == frozenset() and not daemon.is_evaluator
        assert daemon.stats.lost_total == 1 and not daemon.stats.connected
        status, text = await readyz()
        assert status == 503 and "lease session lost" in text
        await asyncio.sleep(3 * TICK)  # reconnecting fails meanwhile: still nothing held
        assert not daemon.held and "cannot reach PostgreSQL" in (await readyz())[1]
        await link.start()  # the database is back
        await until(lambda: len(daemon.held) == 4 and daemon.is_evaluator, 5, "the shards back")
        assert await readyz() == (200, "ready\n") and daemon.stats.problem is None
    finally:
        await daemon.close()
        await server.close()
        await link.cut()


def test_shards_argument_becomes_config(capsys):
    parser = build_parser()
    assert config_from_args(parser.parse_args(["run", "--shards", "8", "--office", "unog"])).shards == 8
    assert config_from_args(parser.parse_args(["run"])).shards is None
    for bad in ("0", "-1", "x"):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(["run", "--shards", bad])
        assert exc.value.code == 2
    assert "whole number" in capsys.readouterr().err

"""ResultWriter: batches off the event loop, a database outage loses nothing within the
buffer bound, overflow is counted, old raw results are purged."""

from __future__ import annotations

import asyncio
import sqlite3
import time

from sqlalchemy.engine import make_url

from slamon.runtime import StoreStats
from slamon.store import Store
from slamon.store.writer import ResultWriter
from tests import store_support
from tests.store_support import result

# fixtures
db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url

OUTAGE_SECONDS = 3.0
T0 = float(int(time.time()) - 7200)  # recent: outside the retention purge


def no_thresholds(service_id: str):
    return (0.5, 2.0)


def writer_for(store: Store, stats: StoreStats, **kw) -> ResultWriter:
    opts = {"batch_size": 50, "interval_seconds": 0.05, "buffer_max_results": 10_000, "backoff_max_seconds": 0.3}
    return ResultWriter(store, stats, no_thresholds, **(opts | kw))


async def submit_during(writer: ResultWriter, seconds: float, per_tick: int, start: float) -> int:
    """Submit results steadily for ``seconds``; returns how many."""
    n = 0
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        for _ in range(per_tick):
            writer.submit(result(start + n))
            n += 1
        await asyncio.sleep(0.1)
    return n


async def test_writes_batches_and_flushes(db_url):
    store = Store.open(db_url)
    stats = StoreStats()
    writer = writer_for(store, stats)
    writer.start()
    for i in range(120):
        writer.submit(result(T0 + i))
    assert await writer.flush(10)
    assert stats.written_total == 120 and stats.queue_length == 0 and stats.dropped_total == 0
    assert stats.last_flush_timestamp_seconds is not None and stats.buffer_capacity == 10_000
    for i in range(7):  # fewer than a batch: written within the interval, or at close
        writer.submit(result(T0 + 200 + i))
    with store.engine.connect() as conn:  # rollup deltas pending until the writer merges them
        assert conn.exec_driver_sql("SELECT count(*) FROM rollup_delta").scalar_one() > 0
    await writer.close()
    assert store.count_results() == 127 and writer.buffered == 0
    with store.engine.connect() as conn:  # merged when the writer closed
        assert conn.exec_driver_sql("SELECT count(*) FROM rollup_delta").scalar_one() == 0
    assert sum(r.total_counts[0] + sum(r.total_counts[1:]) for r in store.rollups("unog-email")) == 127
    store.close()


async def test_sqlite_outage_loses_nothing_within_the_bound(sqlite_url):
    store = Store.open(sqlite_url, busy_timeout_seconds=0.1)
    stats = StoreStats()
    writer = writer_for(store, stats)
    writer.start()
    locker = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # the database is unavailable to the writer
        n = await submit_during(writer, OUTAGE_SECONDS, 20, T0)
        assert stats.written_total == 0 and not stats.available and stats.write_errors_total >= 1
        assert writer.buffered == n
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert await writer.flush(10)
    assert stats.available and stats.dropped_total == 0 and stats.written_total == n
    assert store.count_results() == n
    await writer.close()
    store.close()


class TcpProxy:
    """A TCP relay on 127.0.0.1 that the test can take down (cutting every connection) and bring back."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.server: asyncio.Server | None = None
        self.transports: set[asyncio.BaseTransport] = set()
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        for t in list(self.transports):
            t.abort()
        self.transports.clear()
        await self.server.wait_closed()

    async def _handle(self, reader, writer) -> None:
        self.tasks.add(asyncio.current_task())
        try:
            up_reader, up_writer = await asyncio.wait_for(asyncio.open_connection(*self.target), 2)
        except (OSError, TimeoutError):
            writer.transport.abort()
            return
        self.transports.update({writer.transport, up_writer.transport})
        await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))

    @staticmethod
    async def _pipe(reader, writer) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.transport.abort()


async def test_postgresql_outage_loses_nothing_within_the_bound(pg_url):
    url = make_url(pg_url)
    proxy = TcpProxy(url.host, url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    # blocking calls go to a thread: the proxy runs on this event loop
    store = await asyncio.to_thread(Store.open, proxied, connect_timeout_seconds=1)
    stats = StoreStats()
    writer = writer_for(store, stats)
    writer.start()
    for i in range(100):
        writer.submit(result(T0 + i))
    assert await writer.flush(10) and stats.written_total == 100

    await proxy.stop()  # the database goes away
    n = await submit_during(writer, OUTAGE_SECONDS, 20, T0 + 1000)
    assert stats.written_total == 100 and not stats.available and stats.write_errors_total >= 1
    await proxy.start()  # and comes back on the same address

    assert await writer.flush(15)
    assert stats.available and stats.dropped_total == 0 and stats.written_total == 100 + n
    await writer.close()
    await asyncio.to_thread(store.close)
    direct = Store.open(pg_url)
    assert direct.count_results() == 100 + n
    direct.close()
    await proxy.stop()


async def test_overflow_is_counted_and_the_accepted_results_are_kept(sqlite_url):
    store = Store.open(sqlite_url, busy_timeout_seconds=0.1)
    stats = StoreStats()
    writer = writer_for(store, stats, batch_size=10, buffer_max_results=100)
    writer.start()
    locker = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
    try:
        locker.execute("BEGIN EXCLUSIVE")
        for i in range(150):
            writer.submit(result(T0 + i))
        assert stats.dropped_total == 50 and stats.queue_length == 100
        await asyncio.sleep(0.3)  # the writer tries, fails and keeps the buffer
        assert writer.buffered == 100 and stats.written_total == 0
    finally:
        locker.execute("COMMIT")
        locker.close()
    assert await writer.flush(10)
    kept = store.results(T0, T0 + 1000, limit=1000)
    assert [r.started_at for r in kept] == [T0 + i for i in range(100)]  # drop-newest: the first 100
    await writer.close()
    store.close()


async def test_retention_purges_old_raw_results_but_keeps_rollups(sqlite_url):
    store = Store.open(sqlite_url)
    now = time.time()
    store.write_results([result(now - 40 * 86400 + i) for i in range(30)], no_thresholds)
    store.write_results([result(now - 3600 + i) for i in range(5)], no_thresholds)
    stats = StoreStats()
    writer = writer_for(store, stats, retention_days=35, purge_interval_seconds=0.05, purge_chunk_rows=7)
    writer.start()
    writer.submit(result(now))
    for _ in range(200):  # bounded: 10 s at most
        if store.count_results() == 6:
            break
        await asyncio.sleep(0.05)
    assert store.count_results() == 6
    assert len(store.rollups("unog-email")) == 2  # the old day's rollup is kept for good
    await writer.close()
    store.close()


async def test_flush_without_a_running_writer_times_out(sqlite_url):
    store = Store.open(sqlite_url)
    writer = writer_for(store, StoreStats())
    writer.submit(result(T0))
    assert not await writer.flush(0.2)
    assert await writer.flush(0.2) is False and writer.buffered == 1
    store.close()


def test_catalogue_thresholds_follow_the_catalogue_in_force():
    from slamon.core.catalogue import Catalogue
    from slamon.core.model import IndicatorsFile, PracticesFile, Tier
    from slamon.store.writer import catalogue_thresholds
    from tests.store_support import example_service

    tier = Tier(id="gold", name="Gold", benchmark="x", availability=99.5)
    svc = example_service(sla={"availability": 99.9, "latency": {"threshold": "800ms", "percent": 95},
                               "steps": {"max_duration": "10s"}})
    cat = Catalogue(
        offices={}, tiers={"gold": tier},
        practices=PracticesFile.model_construct(), indicators=IndicatorsFile.model_construct(),
        services={svc.id: svc},
    )
    holder = {"cat": None}
    thresholds = catalogue_thresholds(lambda: holder["cat"])
    assert thresholds("unog-email") == (None, None)
    holder["cat"] = cat
    assert thresholds("unog-email") == (0.8, 10.0) and thresholds("unog-nothing") == (None, None)


async def test_a_result_the_database_refuses_does_not_block_the_others(pg_url):
    store = await asyncio.to_thread(Store.open, pg_url)
    stats = StoreStats()
    writer = writer_for(store, stats, batch_size=10)
    writer.start()
    for i in range(10):
        writer.submit(result(T0 + i, vantage="x" * 40 if i == 4 else "unog"))  # too long for the column
    assert await writer.flush(10)
    assert stats.written_total == 9 and stats.dropped_total == 1 and stats.available
    assert store.count_results() == 9
    await writer.close()
    store.close()

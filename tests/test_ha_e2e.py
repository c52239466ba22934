"""Several daemons, one PostgreSQL, a real Prometheus: the whole high-availability story
on loopback.

Six ``slamon run --shards 4`` processes (two per office for three offices) share 300
services served by one aiohttp server; ``slamon targets`` writes the file_sd file
Prometheus discovers them from. Checked from the outside: every probe runs exactly once
across the daemons, one evaluator per office; after ``kill -9`` of one daemon (the
evaluator of its office) its partner holds all four shards and the evaluator lease
within 30 s; the services of the killed daemon miss at most the takeover gap; no minute
is observed twice; only the evaluators export SLA series, and the nine failing services
have one breach each, opened by one daemon per office, one alert each in a real
Alertmanager, announced once by each daemon that held the evaluator lease (never by
another); after SIGTERM every result a daemon accepted is in the database. About 40 to 100 s (the breaches need a whole
observed minute).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import math
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from slamon.assess import assess_period
from slamon.leases import pg_conninfo
from slamon.loader import load_catalogue
from slamon.store import Store
from tests import store_support
from tests.daemon_support import service_doc, write_catalogue
from tests.stack import (
    ROOT,
    Program,
    WebhookReceiver,
    alertmanager_config,
    get_json,
    http_get,
    start_alertmanager,
    start_daemon,
    start_prometheus,
    wait_for,
)

pytestmark = pytest.mark.integration
pg_url = store_support.pg_url

OFFICES = ("unhq", "unog", "unov")
PER_OFFICE = 100
SHARDS = 4
INTERVAL_SECONDS = 5
TAKEOVER_BOUND_SECONDS = 30
FAILING = frozenset(f"{office}-s{i:03d}" for office in OFFICES for i in range(3))  # 9 breaches


class Farm:
    """300 loopback services in one aiohttp server, on a loop in a thread of its own."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.hits: Counter[str] = Counter()
        self.failing = failing  # these answer 503: their SLA is breached
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.base = asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    async def _start(self) -> str:
        async def ok(request: web.Request) -> web.Response:
            name = request.match_info["name"]
            self.hits[name] += 1
            if name in self.failing:
                return web.Response(status=503, text="down\n")
            return web.Response(text="OK\n")

        app = web.Application()
        app.router.add_get("/{name}", ok)
        self.runner = web.AppRunner(app, shutdown_timeout=0.1, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        host, port = self.runner.addresses[0][:2]
        return f"http://{host}:{port}"

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def estate(base: str) -> list[dict]:
    return [
        service_doc(f"{office}-s{i:03d}", [{
            "id": "web", "kind": "http", "url": f"{base}/{office}-s{i:03d}",
            "interval": f"{INTERVAL_SECONDS}s", "timeout": "2s",
        }])
        for office in OFFICES for i in range(PER_OFFICE)
    ]


def scrape(program: Program) -> dict[str, float]:
    """The daemon's own /metrics, summed by series name (no Prometheus delay)."""
    out: dict[str, float] = defaultdict(float)
    for family in text_string_to_metric_families(http_get(program.base_url + "/metrics").decode()):
        for sample in family.samples:
            out[sample.name] += sample.value
    return out


def query(prometheus: Program, expr: str) -> list[dict]:
    body = get_json(prometheus.base_url + "/api/v1/query", {"query": expr})
    return body["data"]["result"] if body.get("status") == "success" else []


def scalar(prometheus: Program, expr: str) -> float | None:
    result = query(prometheus, expr)
    return float(result[0]["value"][1]) if result else None


def write_targets(db: str, path: Path) -> list[str]:
    subprocess.run([sys.executable, "-m", "slamon", "targets", "--db", db, "-o", str(path)],
                   cwd=ROOT, check=True, capture_output=True, timeout=30)
    return json.loads(path.read_text())[0]["targets"]


def test_six_daemons_share_the_work_survive_kill_9_and_lose_nothing(pg_url, tmp_path):
    farm = Farm(failing=FAILING)
    catalogue = write_catalogue(tmp_path / "catalogue", estate(farm.base))
    targets_file = tmp_path / "slamon-targets.json"
    targets_file.write_text("[]\n")
    daemons: dict[tuple[str, int], Program] = {}
    prometheus: Program | None = None
    receiver = WebhookReceiver().start()  # each daemon's own alerts, by path; and Alertmanager's
    alertmanager: Program | None = None
    try:
        alertmanager = start_alertmanager(alertmanager_config(tmp_path / "alertmanager.yml", receiver.url), tmp_path)
        def config(port: int) -> Path:
            path = tmp_path / "prometheus.yml"
            path.write_text(
                "global: {scrape_interval: 1s, scrape_timeout: 900ms, evaluation_interval: 1s}\n"
                "scrape_configs:\n"
                "  - job_name: slamon\n"
                f"    file_sd_configs: [{{files: ['{targets_file}'], refresh_interval: 1s}}]\n"
            )
            return path

        t0 = time.monotonic()
        keys = [(office, n) for n in range(2) for office in OFFICES]
        with ThreadPoolExecutor(len(keys) + 1) as pool:  # started together, as a fleet would be
            futures = {key: pool.submit(start_daemon, catalogue, _work(tmp_path, *key), (
                "--db", pg_url, "--office", key[0], "--shards", str(SHARDS),
                "--sla-eval-interval", "5", "--shutdown-timeout", "5",
                "--alertmanager", alertmanager.base_url, "--alert-webhook", f"{receiver.url}/daemon/{key[0]}-{key[1]}",
            )) for key in keys}
            prom = pool.submit(start_prometheus, config, tmp_path)  # no target until the file is written
        if prom.exception() is None:
            prometheus = prom.result()
        for key, future in futures.items():
            if future.exception() is None:
                daemons[key] = future.result()  # stopped in the finally, whatever happens next
        for future in (prom, *futures.values()):
            future.result()
        assert prometheus is not None
        began = time.monotonic()
        identity = {key: f"{socket.gethostname()}/{p.proc.pid}" for key, p in daemons.items()}

        # Prometheus finds all six through `slamon targets` (file_sd)
        assert len(write_targets(pg_url, targets_file)) == 6
        wait_for(lambda: scalar(prometheus, 'count(up{job="slamon"} == 1)') == 6, 30, "6 daemons scraped")

        # balanced: 2 + 2 shards per office, every probe scheduled exactly once overall,
        # one evaluator per office; /metrics of each daemon holds only its own probes
        wait_for(lambda: scalar(prometheus, "count(slamon_lease_shards_held == 2)") == 6, 30, "2 shards each")
        wait_for(lambda: scalar(prometheus, "sum(slamon_scheduler_probes)") == 300, 15, "300 probes scheduled")
        assert scalar(prometheus, "sum(slamon_lease_evaluator)") == 3

        def sla_exporters() -> set[str]:
            return {r["metric"]["instance"] for r in query(prometheus, "count by (instance) (slamon_sla_objective_ratio)")}

        def evaluators() -> set[str]:
            return {r["metric"]["instance"] for r in query(prometheus, "slamon_lease_evaluator == 1")}

        # only the evaluator of each office evaluates (the others export no SLA series)
        wait_for(lambda: len(sla_exporters()) == 3, 30, "three daemons with SLA series")
        assert sla_exporters() == evaluators()
        wait_for(lambda: scalar(prometheus, "count(probe_success)") == 300, 30, "300 probe series")
        assert scalar(prometheus, "count(count by (service) (probe_success))") == 300  # none twice
        settled = time.time()
        balanced = time.monotonic()

        # kill -9 the evaluator of unog
        victim_key = next(k for k in daemons if k[0] == "unog" and scrape(daemons[k])["slamon_lease_evaluator"] == 1)
        partner_key = ("unog", 1 - victim_key[1])
        victim, partner = daemons[victim_key], daemons[partner_key]
        time.sleep(INTERVAL_SECONDS)  # one round of every probe before the kill
        victim.proc.kill()
        killed = time.time()
        victim.proc.wait(5)
        wait_for(lambda: scrape(partner)["slamon_lease_shards_held"] == SHARDS, TAKEOVER_BOUND_SECONDS,
                 "the partner to take every shard")
        takeover_seconds = time.time() - killed
        wait_for(lambda: scrape(partner)["slamon_lease_evaluator"] == 1, TAKEOVER_BOUND_SECONDS - takeover_seconds,
                 "the partner to take the evaluator lease")
        assert takeover_seconds < TAKEOVER_BOUND_SECONDS
        print(f"ha: started {began - t0:.1f} s, balanced {balanced - began:.1f} s, takeover {takeover_seconds:.1f} s")
        assert write_targets(pg_url, targets_file) == sorted(
            p.base_url.removeprefix("http://") for k, p in daemons.items() if k != victim_key
        )
        wait_for(lambda: scalar(prometheus, 'count(up{job="slamon"})') == 5, 15, "Prometheus to drop the dead daemon")
        wait_for(lambda: scalar(prometheus, "sum(slamon_scheduler_probes)") == 300, 15, "300 probes again")
        time.sleep(INTERVAL_SECONDS + 2)  # the partner probes every taken-over service at least once
        wait_for(lambda: sla_exporters() == evaluators() and len(evaluators()) == 3, 20,
                 "the partner to evaluate in the dead daemon's place")
        assert partner.base_url.removeprefix("http://") in evaluators()

        # the failing services breach once a whole minute of theirs is observed (the SLA
        # counts complete minutes): wait for it, at most a minute and a bit
        def breached() -> int:
            with psycopg.connect(pg_conninfo(pg_url)) as conn:
                return conn.execute("SELECT count(DISTINCT service_id) FROM breach "
                                    "WHERE objective = 'availability' AND resolved_at IS NULL").fetchone()[0]

        wait_for(lambda: breached() == len(FAILING), 75, "a breach of every failing service", poll_seconds=1.0)

        # one alert per breach in a real Alertmanager, and only evaluators announced breaches
        def am_breaches() -> set[str]:
            alerts = get_json(alertmanager.base_url + "/api/v2/alerts", {"filter": 'alertname="SlamonSLABreached"'})
            return {a["labels"]["service"] for a in alerts}

        wait_for(lambda: am_breaches() == FAILING, 30, "Alertmanager to hold one alert per breach")

        def announced() -> dict[str, list[str]]:
            out: dict[str, list[str]] = defaultdict(list)
            for path, body in receiver.notifications():
                if path.startswith("/daemon/") and body.get("alertname") == "SlamonSLABreached" \
                        and body.get("status") == "firing":
                    out[body["labels"]["service"]].append(path.removeprefix("/daemon/"))
            return out

        wait_for(lambda: set(announced()) == FAILING, 30, "each breach announced by its office's evaluator")
        ever_evaluated = {f"{k[0]}-{k[1]}" for k in daemons if k != victim_key and
                          scrape(daemons[k])["slamon_lease_evaluator"] == 1} | {f"{victim_key[0]}-{victim_key[1]}"}
        for service, senders in announced().items():
            assert len(senders) == len(set(senders)), (service, senders)  # once per daemon
            assert set(senders) <= ever_evaluated, (service, senders)
            if not service.startswith("unog-"):  # the evaluator there never changed
                assert len(senders) == 1, (service, senders)

        # SIGTERM everyone; what each accepted just before must all be in the database
        before = {k: scrape(p) for k, p in daemons.items() if k != victim_key}
        stopping = time.time()
        for key, program in daemons.items():
            if key != victim_key:
                program.proc.terminate()
        for key, program in daemons.items():
            if key != victim_key:
                assert program.proc.wait(20) == 0, program.log()[-3000:]
                assert "leases_released" in program.log()
                assert "sink_flush_timeout" not in program.log()

        with psycopg.connect(pg_conninfo(pg_url)) as conn:
            written = dict(conn.execute("SELECT daemon, count(*) FROM probe_result GROUP BY daemon").fetchall())
            rows = conn.execute(
                "SELECT vantage, service_id, daemon, started_at FROM probe_result ORDER BY started_at"
            ).fetchall()
        for key, metrics in before.items():
            assert metrics["slamon_store_dropped_total"] == 0 and metrics["slamon_store_write_errors_total"] == 0
            accepted = metrics["slamon_store_written_total"] + metrics["slamon_store_queue_length"]
            assert written.get(identity[key], 0) >= accepted > 0, key

        # the killed daemon's services: at most the takeover gap unobserved, nothing twice
        by_daemon: dict[str, set[str]] = defaultdict(set)
        times: dict[str, list[float]] = defaultdict(list)
        owners: dict[str, list[str]] = defaultdict(list)
        for _v, s, d, at in rows:
            by_daemon[d].add(s)
            times[s].append(at)
            owners[s].append(d)
        # what the victim held when it died: its services once the balance had settled
        victim_services = {s for _v, s, d, at in rows if d == identity[victim_key] and at >= settled}
        assert len(victim_services) >= PER_OFFICE // SHARDS, "the killed daemon probed too few services"
        assert victim_services <= by_daemon[identity[partner_key]], "not everything was taken over"
        # the gap: what the killed daemon had not written yet (its last tick, results
        # buffered up to the 1 s write interval) + the takeover + the wait for the next tick
        lag = 2.0
        for s in victim_services:
            last_old = max(t for t, d in zip(times[s], owners[s], strict=True) if d == identity[victim_key])
            first_new = min(t for t, d in zip(times[s], owners[s], strict=True)
                            if d == identity[partner_key] and t > killed)
            assert killed - last_old <= INTERVAL_SECONDS + 1.0 + lag, (s, killed - last_old)
            assert first_new - killed <= takeover_seconds + INTERVAL_SECONDS + lag, (s, first_new - killed)
        allowed_gap = takeover_seconds + 2 * INTERVAL_SECONDS + 1.0 + 2 * lag
        for s in victim_services:
            ts = [t for t in times[s] if settled <= t <= stopping - INTERVAL_SECONDS]
            worst = max(b - a for a, b in itertools.pairwise(ts))
            assert worst <= allowed_gap, (s, worst, allowed_gap)
            minutes = {math.floor(t / 60) for t in ts}
            missing = set(range(min(minutes), max(minutes) + 1)) - minutes
            assert len(missing) <= math.ceil(allowed_gap / 60), (s, sorted(missing))

        # no minute counted twice: the SLA's observed minutes are the distinct minutes
        # with a result, counted here from the raw rows
        store = Store.open(pg_url)
        try:
            cat = load_catalogue(catalogue).catalogue
            # measured as of the end of the minute of the last result (every minute complete)
            end = (math.floor(max(t for _v, _s, _d, t in rows) / 60) + 1) * 60
            a = assess_period(store, cat, "current", dt.datetime.fromtimestamp(end, dt.UTC), service_ids=victim_services)
            for s in victim_services:
                observed, distinct = a.measures[(s, "unog")].observed_minutes, len({math.floor(t / 60) for t in times[s]})
                assert observed == distinct, (s, observed, distinct)
            assert store.duplicate_minutes(settled - 600, time.time() + 60) == 0  # nobody probed at once
        finally:
            store.close()
        # exactly-once evaluation: every failing service has one open availability breach,
        # opened by one daemon, never a second one after the evaluator moved
        with psycopg.connect(pg_conninfo(pg_url)) as conn:
            breaches = conn.execute(
                "SELECT service_id, vantage, objective, period, count(*) FROM breach "
                "WHERE objective = 'availability' GROUP BY 1, 2, 3, 4"
            ).fetchall()
        assert {s for s, *_ in breaches} == FAILING
        assert all(n == 1 for *_, n in breaches), breaches
        openers = sorted(k for k, p in daemons.items() if "sla_breach_opened" in p.log())
        assert [office for office, _ in openers] == sorted(OFFICES), openers  # one daemon per office
        # a minute with results of two daemons is a handover: one daemon's results all
        # come before the other's, never interleaved
        in_minute: dict[tuple[str, int], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
        for _v, s, d, at in rows:
            in_minute[(s, math.floor(at / 60))][d].append(at)
        for (s, m), per in in_minute.items():
            if len(per) > 1:
                spans = sorted((min(ts), max(ts)) for ts in per.values())
                assert all(a[1] < b[0] for a, b in itertools.pairwise(spans)), (s, m, spans)
    finally:
        for program in daemons.values():
            program.stop()
        if prometheus is not None:
            prometheus.stop()
        if alertmanager is not None:
            alertmanager.stop()
        receiver.close()
        farm.close()


def _work(tmp_path: Path, office: str, n: int) -> Path:
    path = tmp_path / f"{office}-{n}"
    path.mkdir()
    return path

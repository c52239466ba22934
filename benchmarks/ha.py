"""Several daemons sharing one catalogue through PostgreSQL leases (issue 17, point 6):
probes per second for 1, 2 and 4 daemons against the loopback farm, and the time a
standby takes to hold a killed daemon's shards (median of 5).

    SLAMON_BENCH_PG_URL=postgresql+psycopg://USER:PASSWORD@127.0.0.1/DB \\
        python -m benchmarks.ha [--services 3000] [--seconds 10] [--out benchmarks/RESULTS-ha.md]

(``SLAMON_TEST_PG_URL`` is used when ``SLAMON_BENCH_PG_URL`` is not set.) Each daemon
is ``slamon run --shards 8`` in its own process, all writing to a fresh schema of that
database, probing the farm (one process) with every probe due every second, so more is
asked than one daemon can run. Throughput: probes per
second: results that started in a window after the shards are balanced and a warm-up,
counted in the database after a clean stop (a saturated daemon may be slow to answer
/metrics; the database is not). Takeover: ``kill -9`` of one of two daemons, then the
time until ``pg_locks`` shows the other one holding all 8 shards (polled every 50 ms); a
fresh daemon joins again before the next trial. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from benchmarks.farm import Farm
from benchmarks.synth import write_catalogue

ROOT = Path(__file__).resolve().parents[1]
SHARDS = 8
WARM_UP_SECONDS = 8.0
LISTENING = re.compile(r"event=listening address=(\S+)")


class Daemon:
    def __init__(self, catalogue: Path, db: str, work: Path, name: str) -> None:
        self.log_path = work / f"{name}.log"
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "slamon", "run", "--catalogue", str(catalogue), "--db", db,
                 "--listen", "127.0.0.1:0", "--shards", str(SHARDS), "--reload-poll", "3600",
                 "--max-in-flight-per-host", "100", "--sla-eval-interval", "3600",
                 "--shutdown-timeout", "3"],
                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            )
        self.url = ""

    def wait_listening(self, timeout_seconds: float = 90.0) -> Daemon:
        deadline = time.monotonic() + timeout_seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"slamon exited: {self.log_path.read_text()[-2000:]}")
            m = LISTENING.search(self.log_path.read_text(errors="replace"))
            if m:
                self.url = f"http://{m.group(1)}"
                return self
            time.sleep(0.1)
        raise RuntimeError(f"slamon did not listen within {timeout_seconds} s")

    @property
    def identity(self) -> str:
        return f"{socket.gethostname()}/{self.proc.pid}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def wait(predicate, timeout_seconds: float, what: str, poll_seconds: float = 0.1):
    deadline = time.monotonic() + timeout_seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout_seconds} s waiting for {what}")
        time.sleep(poll_seconds)


def shard_locks(db: str) -> dict[str, int]:
    """Daemon identity -> shard locks its lease session holds, as PostgreSQL lists them
    (read from the database, not from a daemon that may be too busy to answer)."""
    import psycopg

    from slamon.leases import pg_conninfo

    with psycopg.connect(pg_conninfo(db), autocommit=True, connect_timeout=5) as conn:
        rows = conn.execute(
            "SELECT a.application_name, count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.mode = 'ExclusiveLock' AND l.objid::bigint < %s "
            "AND a.datname = current_database() AND a.application_name LIKE 'slamon %%' "
            "GROUP BY a.application_name", (SHARDS,),
        ).fetchall()
    return {name.rsplit(" ", 1)[-1]: n for name, n in rows}


def balanced(daemons: list[Daemon], db: str) -> bool:
    held = shard_locks(db)
    counts = [held.get(d.identity, 0) for d in daemons]
    return sum(counts) == SHARDS and max(counts) <= -(-SHARDS // len(daemons))


def results_started(db: str, start: float, end: float) -> int:
    import psycopg

    from slamon.leases import pg_conninfo

    with psycopg.connect(pg_conninfo(db), autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT count(*) FROM probe_result WHERE started_at >= %s AND started_at < %s",
                            (start, end)).fetchone()[0]


def start(n: int, catalogue: Path, db: str, work: Path, tag: str) -> list[Daemon]:
    daemons = [Daemon(catalogue, db, work, f"{tag}-{i}") for i in range(n)]
    try:
        for d in daemons:
            d.wait_listening()
        wait(lambda: balanced(daemons, db), 60, f"{n} daemons to share {SHARDS} shards")
    except BaseException:
        for d in daemons:
            d.stop()
        raise
    return daemons


def throughput(n: int, catalogue: Path, db: str, work: Path, seconds: float) -> float:
    """Results that started in the window, per second: counted in the database once the
    daemons have stopped (SIGTERM drains and writes what they took)."""
    daemons = start(n, catalogue, db, work, f"x{n}")
    try:
        time.sleep(WARM_UP_SECONDS)  # connections, first results and writes, the first SLA evaluation
        t0 = time.time()
        time.sleep(seconds)
        t1 = time.time()
    finally:
        for d in daemons:
            d.stop()
    return results_started(db, t0, t1) / (t1 - t0)


def takeovers(catalogue: Path, db: str, work: Path, trials: int) -> list[float]:
    daemons = start(2, catalogue, db, work, "t")
    times: list[float] = []
    phases = random.Random(17)
    try:
        for trial in range(trials):
            victim, survivor = daemons
            # the survivor has just taken its share, on one of its 3 s checks: without this
            # pause every kill would come right after a check (the worst case each time)
            time.sleep(phases.uniform(0.0, 3.0))
            victim.proc.kill()
            killed = time.monotonic()
            wait(lambda s=survivor: shard_locks(db).get(s.identity) == SHARDS, 60,
                 "the survivor to hold every shard", poll_seconds=0.05)
            times.append(time.monotonic() - killed)
            victim.proc.wait(5)
            fresh = Daemon(catalogue, db, work, f"t-join-{trial}").wait_listening()
            daemons = [survivor, fresh]
            wait(lambda ds=daemons: balanced(ds, db), 60, "the newcomer to take its share")
    finally:
        for d in daemons:
            d.stop()
    return times


def fresh_schema(base_url: str) -> tuple[str, str]:
    import psycopg

    schema = f"bench_ha_{uuid.uuid4().hex[:10]}"
    plain = base_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}", schema


def drop_schema(base_url: str, schema: str) -> None:
    import psycopg

    plain = base_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ha", description=__doc__.split("\n\n")[0])
    p.add_argument("--services", type=int, default=3000, help="services, one probe each due every second")
    p.add_argument("--seconds", type=float, default=10.0, help="measuring window per configuration")
    p.add_argument("--daemons", default="1,2,4", help="daemon counts to measure, comma-separated")
    p.add_argument("--trials", type=int, default=5, help="takeovers to time")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "RESULTS-ha.md")
    args = p.parse_args(argv)
    base = os.environ.get("SLAMON_BENCH_PG_URL") or os.environ.get("SLAMON_TEST_PG_URL")
    if not base:
        print("benchmarks.ha: set SLAMON_BENCH_PG_URL to a PostgreSQL the benchmark may create schemas in",
              file=sys.stderr)
        return 2
    began = time.time()
    load_before = os.getloadavg()
    rows: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory(prefix="slamon-ha-bench-") as tmp, Farm(workers=1) as farm:
        work = Path(tmp)
        catalogue = write_catalogue(work / "catalogue", args.services, farm.base_url, interval="1s",
                                    timeout="500ms")
        for n in (int(x) for x in args.daemons.split(",")):
            db, schema = fresh_schema(base)
            try:
                rows.append((n, throughput(n, catalogue, db, work, args.seconds)))
            finally:
                drop_schema(base, schema)
            print(f"{n} daemon(s): {rows[-1][1]:,.0f} probes/s", file=sys.stderr)
        db, schema = fresh_schema(base)
        try:
            times = takeovers(catalogue, db, work, args.trials)
        finally:
            drop_schema(base, schema)
    text = report(args, rows, times, began, load_before, os.getloadavg())
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


def report(args, rows, times, began, load_before, load_after) -> str:
    one = rows[0][1] if rows and rows[0][0] == 1 else None
    lines = [
        "# Several daemons: scaling and takeover",
        "",
        f"Written by `python -m benchmarks.ha` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(began))} "
        f"in {(time.time() - began) / 60:.1f} min; {os.cpu_count()} cores, load average "
        f"{load_before[0]:.1f} at the start and {load_after[0]:.1f} at the end (a shared machine: "
        "figures vary by 20 % or more between runs). How: benchmarks/ha.py.",
        "",
        f"{args.services:,} services, one HTTP probe each due every second ({args.services:,} probes/s asked), "
        f"against the loopback farm; every daemon `slamon run --shards {SHARDS}` writing to one PostgreSQL "
        f"on this machine; probes/s: results that started within a window of {args.seconds:g} s (after the "
        f"shards are balanced and {WARM_UP_SECONDS:g} s of warm-up), counted in the database after a clean stop. "
        "Shard holders are read from PostgreSQL's pg_locks.",
        "",
        "| Daemons | probes/s (results stored) | x one daemon |",
        "|---:|---:|---:|",
    ]
    for n, rate in rows:
        ratio = f"{rate / one:.2f}" if one else ""
        lines.append(f"| {n} | {rate:,.0f} | {ratio} |")
    lines += [
        "",
        "Each daemon runs at most 100 probes at once (`--max-in-flight`, the default) and all of "
        "them share this machine's cores with the farm and PostgreSQL: one daemon is held by its "
        "in-flight cap (the farm answers slowly on a loaded machine), two use both cores, and "
        "more than two cannot add cores that are not there; on separate machines each daemon "
        "brings its own.",
        "",
        f"Takeover (kill -9 of one of two daemons until the other holds all {SHARDS} shards), "
        f"{len(times)} trials: median **{statistics.median(times):.2f} s**, "
        f"min {min(times):.2f} s, max {max(times):.2f} s "
        f"({', '.join(f'{t:.2f}' for t in times)}), read from pg_locks every 50 ms; each kill at a "
        "random point of the survivor's check cycle. The bound is one "
        "lease check (3 s) after PostgreSQL ends the dead session, which for a killed process on a "
        "live host is at once.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

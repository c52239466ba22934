"""kill -9 of a writing process corrupts nothing and loses nothing it reported committed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select

from slamon.store import Store
from slamon.store.tables import ResultRow
from tests import store_support

# fixtures
db_url, pg_url, sqlite_url = store_support.db_url, store_support.pg_url, store_support.sqlite_url

ROOT = Path(__file__).resolve().parents[1]
BATCH = 100


def test_kill_9_during_writes(db_url):
    Store.open(db_url).close()  # schema first, so the child starts writing at once
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.store_crash_child", db_url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    acked = 0
    try:
        assert child.stdout is not None
        for line in child.stdout:  # bounded: the child writes at most 10,000 batches
            acked = int(line)
            if acked >= 20 * BATCH:
                break
    finally:
        child.send_signal(signal.SIGKILL)
        _, err = child.communicate(timeout=10)
    assert acked >= 20 * BATCH, f"child stopped early: {err[-2000:]}"
    assert child.returncode == -signal.SIGKILL

    store = Store.open(db_url)
    try:
        if store.dialect == "sqlite":
            with store.engine.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        with store.engine.connect() as conn:
            rows = conn.execute(select(func.count()).select_from(ResultRow.__table__)).scalar_one()
        assert rows >= acked  # nothing acknowledged is lost
        assert rows % BATCH == 0  # batches are all-or-nothing
        # raw rows and rollups were written in the same transactions
        assert sum(sum(r.total_counts) for r in store.rollups("unog-email")) == rows
        store.write_results([], None)  # and the store is still usable
    finally:
        store.close()

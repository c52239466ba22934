"""Shared pieces of the store tests: database URLs for both backends, results, services."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from pathlib import Path

import pytest
import yaml

from slamon.core.model import Service
from slamon.core.results import ProbeOutcome, ProbeResult, Reason, StepOutcome
from tests.conftest import DATA_DIR, missing

PG_ENV = "SLAMON_TEST_PG_URL"
BACKENDS = ["sqlite", "postgresql"]


def pg_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        missing(f"{PG_ENV} is not set (a PostgreSQL to test the store against)")
    return url


def fresh_pg_schema(base_url: str) -> tuple[str, str]:
    """A new, empty schema in the test database; returns (url using it, schema name)."""
    import psycopg

    schema = f"store_test_{uuid.uuid4().hex[:12]}"
    plain = base_url.replace("postgresql+psycopg://", "postgresql://", 1)
    try:
        with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    except psycopg.OperationalError as exc:
        missing(f"PostgreSQL at {PG_ENV} is not reachable: {exc}")
    sep = "&" if "?" in base_url else "?"
    return f"{base_url}{sep}options=-csearch_path%3D{schema}", schema


def drop_pg_schema(base_url: str, schema: str) -> None:
    import psycopg

    plain = base_url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def pg_url():
    base = pg_base_url()
    url, schema = fresh_pg_schema(base)
    yield url
    drop_pg_schema(base, schema)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/store/slamon.db"


@pytest.fixture(params=BACKENDS)
def db_url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


def result(
    started_at: float,
    success: bool = True,
    duration: float = 0.1,
    service: str = "unog-email",
    vantage: str = "unog",
    probe: str = "webmail",
    kind: str = "http",
    steps: tuple[float, ...] = (),
    reason: Reason | None = None,
) -> ProbeResult:
    return ProbeResult(
        vantage=vantage,
        service_id=service,
        probe_id=probe,
        kind=kind,
        started_at=started_at,
        outcome=ProbeOutcome(
            success=success,
            duration_seconds=duration,
            reason=reason if reason is not None else (None if success else Reason.timeout),
            status_code=200 if success else None,
            phases={"resolve": 0.001, "connect": 0.002, "processing": duration / 2} if success else {},
            steps=tuple(StepOutcome(f"s{i}", True, d) for i, d in enumerate(steps)),
        ),
    )


def example_service(**changes) -> Service:
    data = yaml.safe_load((DATA_DIR / "design_example_service.yaml").read_text())
    data.update(changes)
    return Service.model_validate(data)

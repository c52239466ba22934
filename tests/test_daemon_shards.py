"""``--office`` and ``--shard I/N``: several daemons cover the catalogue exactly once."""

from __future__ import annotations

from pathlib import Path

import pytest

from slamon.cli import build_parser
from slamon.cli.run import config_from_args
from slamon.loader import load_catalogue
from slamon.monitor import parse_shard, select_tasks
from tests.daemon_support import OFFICES, estate, write_catalogue


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory):
    root = write_catalogue(tmp_path_factory.mktemp("estate") / "catalogue", estate())
    report = load_catalogue(root)
    assert report.ok, [str(d) for d in report.diagnostics]
    return report.catalogue


def expected_keys() -> set[tuple[str, str, str]]:
    """Counted from the YAML documents, independently of the code under test."""
    keys = set()
    for doc in estate():
        if doc["lifecycle"] == "retired":
            continue
        for probe in doc["probes"]:
            if probe.get("enabled", True):
                for vantage in probe.get("from") or [doc["office"]]:
                    keys.add((vantage, doc["id"], probe["id"]))
    return keys


def keys(tasks) -> list[tuple[str, str, str]]:
    return [t.key for t in tasks]


def test_the_whole_catalogue_is_what_the_documents_say(catalogue):
    whole = keys(select_tasks(catalogue))
    assert len(whole) == len(set(whole))
    assert set(whole) == expected_keys()
    assert not any(s.endswith("-old") for _, s, _ in whole)  # retired: not probed
    assert not any(p == "off" for _, _, p in whole)  # disabled: not probed


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8])
def test_shards_partition_the_catalogue(catalogue, n):
    whole = set(keys(select_tasks(catalogue)))
    seen: list[tuple[str, str, str]] = []
    for i in range(n):
        part = keys(select_tasks(catalogue, shard=(i, n)))
        services = {s for _, s, _ in part}
        # a service is never split between shards (its probes and vantages stay together)
        assert all(s not in {x for _, x, _ in seen} for s in services)
        seen += part
    assert len(seen) == len(set(seen))  # disjoint
    assert set(seen) == whole  # complete
    if n > 1:
        assert all(select_tasks(catalogue, shard=(i, n)) for i in range(min(n, 3)))  # spread, not all in one


def test_offices_partition_the_catalogue(catalogue):
    whole = set(keys(select_tasks(catalogue)))
    seen: list[tuple[str, str, str]] = []
    for office in OFFICES:
        part = keys(select_tasks(catalogue, offices=(office,)))
        assert part and all(v == office for v, _, _ in part)
        seen += part
    assert len(seen) == len(set(seen)) and set(seen) == whole
    # an enterprise probe with from: [all offices] runs once at each of them
    everywhere = [k for k in whole if k[2] == "everywhere"]
    assert len(everywhere) == 4 * len({s for _, s, _ in everywhere})


def test_offices_times_shards_partition_the_catalogue(catalogue):
    whole = set(keys(select_tasks(catalogue)))
    seen = [k for o in OFFICES for i in range(3) for k in keys(select_tasks(catalogue, (o,), (i, 3)))]
    assert len(seen) == len(set(seen)) and set(seen) == whole


def test_several_offices_in_one_daemon(catalogue):
    two = set(keys(select_tasks(catalogue, ("unog", "unon"))))
    assert two == set(keys(select_tasks(catalogue, ("unog",)))) | set(keys(select_tasks(catalogue, ("unon",))))


def test_shard_argument():
    assert parse_shard("0/1") == (0, 1)
    assert parse_shard("2/3") == (2, 3)
    for bad in ("3/3", "-1/3", "1", "a/b", "1/0", ""):
        with pytest.raises(ValueError, match="I/N"):
            parse_shard(bad)


def test_run_arguments_become_config(capsys):
    parser = build_parser()
    args = parser.parse_args([
        "run", "--catalogue", "cat", "--office", "unog", "unhq", "--office", "unon,unog",
        "--shard", "1/4", "--listen", "0.0.0.0:9000", "--log-format", "json",
        "--shutdown-timeout", "3", "--reload-poll", "0.5",
    ])
    config = config_from_args(args)
    assert config.catalogue_dir == Path("cat")
    assert config.offices == ("unog", "unhq", "unon")
    assert config.shard == (1, 4)
    assert (config.listen_host, config.listen_port) == ("0.0.0.0", 9000)
    assert config.log_format == "json"
    assert config.shutdown_timeout_seconds == 3.0 and config.reload_poll_seconds == 0.5
    default = config_from_args(parser.parse_args(["run"]))
    assert default.listen == "127.0.0.1:9730" and default.offices == () and default.shard is None
    for bad in (["--shard", "4/4"], ["--listen", "nohost"], ["--shutdown-timeout", "0"]):
        with pytest.raises(SystemExit) as exc:
            parser.parse_args(["run", *bad])
        assert exc.value.code == 2
    assert "I/N" in capsys.readouterr().err

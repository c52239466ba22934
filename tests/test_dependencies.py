"""requirements.lock pins every dependency pyproject.toml declares (and the test extra),
each within its declared range and with hashes: `make run` and `make test` install the
lock and nothing else, so a dependency added without refreshing the lock
(`make upgrade`) fails here, not on a fresh machine."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent


def declared() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [Requirement(r) for r in [*project["dependencies"], *project["optional-dependencies"]["test"]]]


def locked() -> dict[str, tuple[str, int]]:
    """name -> (pinned version, number of hashes)."""
    text = (ROOT / "requirements.lock").read_text(encoding="utf-8")
    out: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=[A-Za-z0-9])", text):
        m = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", block)
        if m:
            out[canonicalize_name(m.group(1))] = (m.group(2), block.count("--hash=sha256:"))
    return out


def test_every_declared_dependency_is_pinned_in_range_with_hashes():
    pins = locked()
    env = default_environment()
    for req in declared():
        if req.marker is not None and not req.marker.evaluate(env):
            continue
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in requirements.lock: run `make upgrade`"
        version, hashes = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"requirements.lock pins {req.name}=={version}, outside {req.specifier}"
        )
        assert hashes > 0, f"{req.name} has no hash in requirements.lock"


def test_every_declared_dependency_has_an_upper_bound():
    unbounded = [
        str(r) for r in declared()
        if canonicalize_name(r.name) != "tzdata"  # data only, no API: always the newest
        and not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)
    ]
    assert not unbounded, f"no upper bound: {unbounded}"


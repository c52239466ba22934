"""Hostile YAML: every case is a clear, located error, fast and in bounded memory;
never a traceback, never code execution, and never a reason to skip the other files."""

from __future__ import annotations

import datetime as dt
import shutil
import time
import tracemalloc
from pathlib import Path

import pytest

from slamon.loader import load_catalogue
from slamon.loader.yaml_nodes import MAX_FILE_BYTES

BASE = Path(__file__).resolve().parent / "data" / "mini_catalogue"
TODAY = dt.date(2026, 6, 1)
VICTIM = "services/unhq/unhq-identity.yaml"
OTHER = "services/unog/unog-email.yaml"


def _bomb(levels: int = 12) -> str:
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    return "\n".join(lines) + "\n"


HOSTILE: dict[str, tuple[bytes, str]] = {
    "alias-bomb": (_bomb().encode(), "E009"),
    "alias-bomb-in-mapping-values": (
        (b"a: &a {x: [1,2,3,4,5,6,7,8,9,10]}\n" + b"".join(
            f"b{i}: &b{i} [".encode() + b", ".join([f"*{'a' if i == 0 else f'b{i - 1}'}".encode()] * 10) + b"]\n"
            for i in range(10)
        )),
        "E009",
    ),
    "recursive-alias": (b"a: &a [1, *a]\n", "E009"),
    "deep-flow-nesting": (b"a: " + b"[" * 100_000 + b"]" * 100_000 + b"\n", "E010"),
    "deep-block-sequences": (b"a:\n" + b"- " * 50_000 + b"x\n", "E010"),
    "deep-mappings-under-limit-of-libyaml": (
        b"".join(b" " * i + f"k{i}:\n".encode() for i in range(200)) + b" " * 200 + b"x: 1\n",
        "E010",
    ),
    "huge-file": (b"# " + b"x" * (MAX_FILE_BYTES + 10) + b"\n", "E002"),
    "binary": (bytes(range(256)) * 4, "E003"),
    "non-utf8": ("name: caf\u00e9\n".encode("latin-1"), "E003"),
    "utf16": ("name: x\n".encode("utf-16"), "E003"),
    "tab-indentation": (b"owner:\n\tgroup: x\n", "E005"),
    "python-object-apply": (b'x: !!python/object/apply:os.system ["touch PWNED"]\n', "E011"),
    "python-name": (b"x: !!python/name:os.system\n", "E011"),
    "python-module-key": (b"!!python/module:os : 1\n", "E011"),
    "custom-tag": (b"x: !vault abc\n", "E011"),
    "binary-tag": (b"x: !!binary aGVsbG8=\n", "E011"),
    "top-level-list": (b"- a\n- b\n", "E012"),
    "top-level-scalar": (b"just text\n", "E012"),
    "empty": (b"", "E006"),
    "whitespace-only": (b"\n\n   \n", "E006"),
    "null-document": (b"~\n", "E006"),
    "two-documents": (b"a: 1\n---\nb: 2\n", "E007"),
    "duplicate-key": (b"a: 1\na: 2\n", "E008"),
    "complex-key": (b"? [a, b]\n: 1\n", "E004"),
    "unclosed-quote": (b'name: "open\n', "E004"),
    "control-character": (b"name: a\x1bb\n", "E003"),
    "many-long-lines": (b"k: " + b"y" * (MAX_FILE_BYTES - 100) + b"\n", "E101"),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_file_is_a_clean_error(name, tmp_path, monkeypatch):
    content, code = HOSTILE[name]
    root = tmp_path / "catalogue"
    shutil.copytree(BASE, root)
    (root / VICTIM).write_bytes(content)
    monkeypatch.chdir(tmp_path)  # a 'touch PWNED' would land here
    tracemalloc.start()
    started = time.monotonic()
    try:
        report = load_catalogue(root, today=TODAY)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    assert report.catalogue is None
    victim = [d for d in report.errors if d.file.endswith(VICTIM)]
    assert victim, f"no error for {name}"
    assert code in {d.code for d in victim}, [str(d) for d in victim]
    assert victim[0].line >= 1 and victim[0].column >= 1
    # the other service is still checked: no diagnostic for it except its dependency on
    # the broken file, which it must not be blamed for
    assert not [d for d in report.diagnostics if d.file.endswith(OTHER)]
    assert not (tmp_path / "PWNED").exists()
    # generous bounds (the machine is shared): the point is "bounded", not a benchmark
    assert elapsed < 10, f"{name} took {elapsed:.1f}s"
    assert peak < 150 * 1024 * 1024, f"{name} peaked at {peak / 1e6:.0f} MB"


def test_every_broken_file_is_reported_in_one_pass(tmp_path):
    root = tmp_path / "catalogue"
    shutil.copytree(BASE, root)
    (root / VICTIM).write_bytes(HOSTILE["alias-bomb"][0])
    (root / OTHER).write_bytes(b"\t- nope\n")
    (root / "tiers.yaml").write_bytes(b"")
    report = load_catalogue(root, today=TODAY)
    codes = {(Path(d.file).name, d.code) for d in report.errors}
    assert codes == {("unhq-identity.yaml", "E009"), ("unog-email.yaml", "E005"), ("tiers.yaml", "E006")}


def test_unreadable_file_is_reported(tmp_path):
    root = tmp_path / "catalogue"
    shutil.copytree(BASE, root)
    (root / VICTIM).unlink()
    (root / VICTIM).symlink_to(tmp_path / "nowhere.yaml")
    report = load_catalogue(root, today=TODAY)
    # a dangling link is not a file: it is skipped, and the dependant is told its dependency is gone
    assert [d.code for d in report.errors] == ["E206"]


def test_missing_directory(tmp_path):
    report = load_catalogue(tmp_path / "absent")
    assert [d.code for d in report.errors] == ["E013"]
    assert report.catalogue is None

"""CatalogueLoader: a reload checks only the files whose content changed, runs the rules
across files over all of them, and reports exactly what a full load reports."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

import pytest

from slamon.loader import CatalogueLoader, load_catalogue

BUNDLED = Path(__file__).resolve().parent.parent / "catalogue"
TODAY = dt.date(2026, 6, 1)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    dest = tmp_path / "catalogue"
    shutil.copytree(BUNDLED, dest)
    return dest


def service_files(root: Path) -> list[Path]:
    return sorted((root / "services").rglob("*.yaml"))


def same_as_full_load(loader: CatalogueLoader, root: Path) -> None:
    """The loader's report equals a fresh full load's, diagnostic for diagnostic."""
    report = loader.load(TODAY)
    full = load_catalogue(root, TODAY)
    assert [str(d) for d in report.diagnostics] == [str(d) for d in full.diagnostics]
    assert [d.severity for d in report.diagnostics] == [d.severity for d in full.diagnostics]
    assert (report.catalogue is None) == (full.catalogue is None)
    if full.catalogue is not None:
        assert report.catalogue.services == full.catalogue.services
        assert report.catalogue.sources == full.catalogue.sources


def test_a_second_load_reuses_every_unchanged_file(root):
    loader = CatalogueLoader(root)
    first = loader.load(TODAY)
    n = len(service_files(root))
    assert first.ok and loader.stats.files_checked == n and loader.stats.files_reused == 0
    second = loader.load(TODAY)
    assert loader.stats.files_checked == 0 and loader.stats.files_reused == n
    assert second.catalogue is not None and second.catalogue.services == first.catalogue.services
    assert [str(d) for d in second.diagnostics] == [str(d) for d in first.diagnostics]


def test_one_changed_file_is_checked_again_and_its_error_located(root):
    loader = CatalogueLoader(root)
    assert loader.load(TODAY).ok
    target = root / "services" / "unog" / "unog-backup.yaml"
    text = target.read_text(encoding="utf-8")
    target.write_text(text.replace("lifecycle: production", "lifecycle: production\nlifecyle: x", 1),
                      encoding="utf-8")
    report = loader.load(TODAY)
    assert loader.stats.files_checked == 1
    assert not report.ok and report.catalogue is None
    assert any(d.code == "E100" or "lifecyle" in str(d) for d in report.errors)
    assert all(d.file.endswith("unog-backup.yaml") for d in report.errors)
    same_as_full_load(loader, root)
    target.write_text(text, encoding="utf-8")  # fixed again: the catalogue loads
    assert loader.load(TODAY).ok and loader.stats.files_checked == 1


def test_rules_across_files_run_again_over_reused_files(root):
    """A removed service makes its (unchanged, reused) dependants wrong; a changed file
    taking another's id is a duplicate."""
    loader = CatalogueLoader(root)
    assert loader.load(TODAY).ok
    identity = root / "services" / "unhq" / "unhq-identity.yaml"
    kept = identity.read_text(encoding="utf-8")
    identity.unlink()
    report = loader.load(TODAY)
    assert loader.stats.files_checked == 0
    unknown = [d for d in report.errors if d.code == "E206" and d.found == "'unhq-identity'"]
    assert unknown and all(not d.file.endswith("unhq-identity.yaml") for d in unknown)
    assert all(d.line > 1 for d in unknown)  # located at the depends_on entry, from the cache
    same_as_full_load(loader, root)

    identity.write_text(kept, encoding="utf-8")
    fax = root / "services" / "unhq" / "unhq-fax.yaml"
    copy = root / "services" / "unhq" / "unhq-fax2.yaml"
    copy.write_text(fax.read_text(encoding="utf-8"), encoding="utf-8")
    report = loader.load(TODAY)
    assert loader.stats.files_checked == 2  # identity again, and the new copy
    assert any(d.code == "E203" for d in report.errors)
    same_as_full_load(loader, root)


def test_a_changed_top_level_file_or_day_checks_every_file_again(root):
    loader = CatalogueLoader(root)
    assert loader.load(TODAY).ok
    n = len(service_files(root))
    tiers = root / "tiers.yaml"
    tiers.write_text(tiers.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    loader.load(TODAY)
    assert loader.stats.files_checked == n
    loader.load(TODAY)
    assert loader.stats.files_checked == 0
    loader.load(TODAY + dt.timedelta(days=400))  # practice reviews age with the date
    assert loader.stats.files_checked == n
    same_as_full_load(loader, root)


def test_a_file_that_stops_being_yaml_and_comes_back(root):
    loader = CatalogueLoader(root)
    assert loader.load(TODAY).ok
    target = service_files(root)[0]
    text = target.read_text(encoding="utf-8")
    target.write_text("id: [unclosed\n", encoding="utf-8")
    report = loader.load(TODAY)
    assert [d.code for d in report.errors] == ["E004"]
    same_as_full_load(loader, root)
    target.write_text(text, encoding="utf-8")
    assert loader.load(TODAY).ok


def test_files_whose_status_is_unchanged_are_not_read_again(root):
    """A file's (inode, size, mtime, ctime) unchanged since well before the last load
    means the same content: not even read. ``racy_seconds=0`` lets the test trust files
    at once; a real loader waits a second for that."""
    loader = CatalogueLoader(root, racy_seconds=0)
    n = len(service_files(root))
    assert loader.load(TODAY).ok and loader.stats.files_read == n
    time.sleep(0.05)
    assert loader.load(TODAY).ok and loader.stats.files_read == 0 and loader.stats.files_reused == n
    target = service_files(root)[3]
    target.write_text(target.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
    assert loader.load(TODAY).ok
    assert loader.stats.files_read == 1 and loader.stats.files_checked == 1
    same_as_full_load(loader, root)
    # a real loader reads again what changed within a second of its last load
    careful = CatalogueLoader(root)
    careful.load(TODAY)
    target.write_text(target.read_text(encoding="utf-8"), encoding="utf-8")  # rewritten now
    careful.load(TODAY)
    assert careful.stats.files_read >= 1 and careful.stats.files_checked == 0


def test_the_loader_reads_one_root(root, tmp_path):
    loader = CatalogueLoader(root)
    assert loader(root).ok  # the monitor calls it as it calls load_catalogue
    with pytest.raises(ValueError):
        loader(tmp_path)

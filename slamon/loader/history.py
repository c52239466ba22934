"""The catalogue as it stood at a past date, from the git history of its directory.

Read-only: ``git log`` finds the last commit before a date that touched the catalogue
directory, ``git archive`` writes that commit's file tree of the directory into a
temporary directory, and the ordinary loader reads it. Every git call has a timeout;
a directory outside a git work tree (or no git installed) simply has no history.

    history = GitHistory.open(Path("catalogue"))
    if history is not None:
        past = history.catalogue_at(dt.datetime(2013, 12, 31, 23, 59, tzinfo=dt.UTC))
        past.catalogue, past.commit, past.committed_at

A commit whose catalogue does not load (errors) gives no catalogue: the caller falls
back as when there is no history, and says so.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from slamon.core.catalogue import Catalogue
from slamon.core.model import Service
from slamon.loader.load import load_catalogue

log = logging.getLogger("slamon.loader")

GIT_TIMEOUT_SECONDS = 20.0
MAX_COMMITS = 60  # commits read for one span of target history (the newest kept)


@dataclass(frozen=True)
class PastCatalogue:
    catalogue: Catalogue
    commit: str
    committed_at: dt.datetime


class GitHistory:
    """The git history of one catalogue directory (see the module doc)."""

    def __init__(self, root: Path, timeout_seconds: float = GIT_TIMEOUT_SECONDS) -> None:
        self.root = root
        self.timeout_seconds = timeout_seconds
        self._loaded: dict[str, PastCatalogue | None] = {}

    @classmethod
    def open(cls, root: Path | str, timeout_seconds: float = GIT_TIMEOUT_SECONDS) -> GitHistory | None:
        """The history of ``root``, or None when it is not inside a git work tree."""
        root = Path(root)
        if shutil.which("git") is None or not root.is_dir():
            return None
        history = cls(root, timeout_seconds)
        out = history._git("rev-parse", "--is-inside-work-tree")
        if out is None or out.strip() != b"true":
            return None
        return history

    def _git(self, *args: str, at: Path | None = None) -> bytes | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(at or self.root), *args],
                capture_output=True,
                timeout=self.timeout_seconds,
                check=False,
                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            log.warning("catalogue_history_git_failed args=%s error=%s", args[0], exc)
            return None
        if done.returncode != 0:
            return None
        return done.stdout

    def commits(self, *, before: dt.datetime, after: dt.datetime | None = None) -> list[tuple[str, dt.datetime]]:
        """Commits that touched the directory, committed before ``before`` (and after
        ``after``), oldest first (at most ``MAX_COMMITS``, the newest)."""
        args = ["log", f"--before={_git_time(before)}", "--format=%H %cI", f"-{MAX_COMMITS}"]
        if after is not None:
            args.append(f"--after={_git_time(after)}")
        out = self._git(*args, "--", ".")
        if out is None:
            return []
        found = []
        for line in out.decode().splitlines():
            commit, _, when = line.partition(" ")
            if commit and when:
                found.append((commit, dt.datetime.fromisoformat(when).astimezone(dt.UTC)))
        if len(found) >= MAX_COMMITS and after is not None:
            log.warning("catalogue_history_truncated commits=%d kept=newest", MAX_COMMITS)
        return list(reversed(found))

    def catalogue_at(self, at: dt.datetime) -> PastCatalogue | None:
        """The catalogue of the last commit before ``at`` (None: no such commit, or its
        catalogue does not load)."""
        last = self.commits(before=at)
        if not last:
            return None
        commit, when = last[-1]
        return self._load(commit, when)

    def _load(self, commit: str, when: dt.datetime) -> PastCatalogue | None:
        if commit in self._loaded:
            return self._loaded[commit]
        prefix = self._git("rev-parse", "--show-prefix")
        top = self._git("rev-parse", "--show-toplevel")
        tree = f"{commit}:{(prefix or b'').decode().strip()}"
        data = self._git("archive", "--format=tar", tree, at=Path(top.decode().strip())) if top else None
        past = None
        if data is not None:
            with tempfile.TemporaryDirectory(prefix="slamon-history-") as tmp:
                with tarfile.open(fileobj=io.BytesIO(data)) as tar:
                    tar.extractall(tmp, filter="data")
                report = load_catalogue(Path(tmp), today=when.date())
            if report.catalogue is not None:
                past = PastCatalogue(report.catalogue, commit, when)
            else:
                log.warning("catalogue_history_unloadable commit=%s errors=%d", commit[:12], len(report.errors))
        self._loaded[commit] = past
        return past

    def service_revisions(
        self, start: dt.datetime, end: dt.datetime, service_ids: Iterable[str] | None = None
    ) -> dict[str, list[tuple[Service, dt.datetime]]]:
        """Each service as committed: the version in force at ``start`` (from ``start``)
        and every changed version committed in ``[start, end)``, oldest first, as
        ``(service, committed at)``, the shape of ``Store.revision_history``."""
        wanted = set(service_ids) if service_ids is not None else None
        points: list[PastCatalogue] = []
        first = self.catalogue_at(start)
        if first is not None:
            points.append(first)
        for commit, when in self.commits(before=end, after=start):
            if first is not None and commit == first.commit:
                continue
            past = self._load(commit, when)
            if past is not None:
                points.append(past)
        out: dict[str, list[tuple[Service, dt.datetime]]] = {}
        for i, past in enumerate(points):
            valid_from = start if i == 0 else past.committed_at
            for sid, svc in past.catalogue.services.items():
                if wanted is not None and sid not in wanted:
                    continue
                mine = out.setdefault(sid, [])
                if not mine or mine[-1][0] != svc:
                    mine.append((svc, valid_from))
        return out


def _git_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

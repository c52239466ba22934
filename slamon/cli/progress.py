"""Progress bars for long commands: on a terminal only (tqdm), nothing otherwise.

    with progress_bar("sealing", unit="service") as bar:
        bar.total = 1000
        bar.update(10)

Written to standard error, so a report on standard output stays clean; when standard
error is not a terminal (a pipe, a file, a test, cron) nothing at all is written.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(description: str, unit: str = "service", total: int | None = None) -> Iterator[tqdm]:
    bar = tqdm(
        total=total, desc=description, unit=unit, file=sys.stderr, leave=False, dynamic_ncols=True,
        disable=not sys.stderr.isatty(), mininterval=0.2,
    )  # fmt: skip
    try:
        yield bar
    finally:
        bar.close()


def totals(bar: tqdm) -> Callable[[int], Callable[[int], None]]:
    """A ``progress(total) -> advance(n)`` callback pair over ``bar`` (``slamon.sealing``)."""

    def start(total: int) -> Callable[[int], None]:
        bar.reset(total=total)
        return bar.update

    return start

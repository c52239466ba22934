"""Process-wide runtime policy: the cyclic garbage collector and the C heap.

These settings belong to the whole process, so one module owns them and only the
composition root (the daemon and the CLI) calls it; no library module (loader, core,
store, exporters, monitor) touches ``gc`` or ``malloc`` (``tests/test_architecture.py``
checks). What each policy buys is measured in ``benchmarks/RESULTS.md``.

- ``paused_collector()``: around a cold catalogue load at startup, before the event
  loop serves anything. Loading builds many small, acyclic objects that all stay
  alive; the collector would rescan them again and again.
- ``settle_heap()``: after a catalogue is applied. The catalogue, its tasks and the
  runtime's per-probe state live until the next load; left in the collected
  generations, every full collection walks them all, a pause of the event loop that
  grows with the estate (scheduling lag).
- ``release_free_heap()``: after a ``/metrics`` response is sent. glibc keeps memory
  freed in the middle of its heap resident; a render's temporaries would otherwise
  keep the process at its peak.
- ``map_large_blocks()``: once at startup, so large blocks (a ``/metrics`` body) go
  back to the system when freed. The same setting can be made from outside the
  process with ``GLIBC_TUNABLES=glibc.malloc.mmap_threshold=1048576`` (see
  docs/operations.md and deploy/).
"""

from __future__ import annotations

import ctypes
import functools
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def paused_collector() -> Iterator[None]:
    """The cyclic collector off for the block (it was on), then what the block
    allocated counted as old without a scan.

    With the collector paused, every object of the block sits in the youngest
    generation, and the first allocation after ``gc.enable()`` would scan them all at
    once only to find them alive. ``freeze`` + ``unfreeze`` moves them, and everything
    else tracked, to the oldest generation: they are scanned with it, at the next full
    collection. Objects frozen before stay frozen."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if not gc.get_freeze_count():  # unfreeze would thaw them too
                gc.freeze()
                gc.unfreeze()
            gc.enable()


def settle_heap() -> None:
    """Take what is alive after a catalogue is applied out of the collector's walks.

    The catalogue replaced by this one is thawed first, so it can be collected as
    usual; young cycles left by the load are collected; then ``gc.freeze()`` moves
    every object alive now to the permanent generation."""
    gc.unfreeze()
    gc.collect(1)
    gc.freeze()


@functools.cache
def _libc_function(name: str) -> Callable[..., int] | None:
    try:
        return getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None


def heap_trim_available() -> bool:
    """Whether the C library has glibc's ``malloc_trim`` (not musl, not macOS)."""
    return _libc_function("malloc_trim") is not None


def release_free_heap() -> bool:
    """Return the free pages of the C heap to the system; False where it cannot.

    A millisecond or two with a heap of a few hundred MB; nothing alive is touched."""
    trim = _libc_function("malloc_trim")
    if trim is None:
        return False
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    trim(0)
    return True


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LARGE_BLOCK_BYTES = 1 << 20


@functools.cache
def map_large_blocks(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Have glibc map every block of ``threshold`` bytes or more on its own, for good.

    glibc maps large blocks itself and unmaps them when freed, but raises that
    threshold after each such free, up to 32 MB: from the second scrape on, a large
    ``/metrics`` body came from the heap and stayed resident after it was sent. A
    fixed threshold keeps large blocks mapped, so memory freed with them goes back at
    once. Once per process; False where the C library has no ``mallopt``."""
    mallopt = _libc_function("mallopt")
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))

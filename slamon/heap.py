"""Giving the C heap's free pages back to the system (glibc's ``malloc_trim``).

glibc keeps memory freed in the middle of its heap resident. A process that makes
large, short-lived structures (a ``/metrics`` body and its parts: some 25 MB of
temporaries a render at 10,000 services) would otherwise sit at its peak for good.
"""

from __future__ import annotations

import ctypes
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_free_heap() -> bool:
    """Return the free pages of the C heap to the system; False where it cannot.

    A millisecond or two with a heap of a few hundred MB; nothing alive is touched.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter
LARGE_BLOCK_BYTES = 1 << 20


@functools.cache
def map_large_blocks(threshold: int = LARGE_BLOCK_BYTES) -> bool:
    """Have glibc map every block of ``threshold`` bytes or more on its own, for good.

    glibc maps large blocks (a ``/metrics`` body, a big list's storage) itself and
    unmaps them when freed, but raises that threshold after each such free, up to
    32 MB: from the second scrape on, a 25 MB body came from the heap and stayed
    resident after it was sent. A fixed threshold keeps large blocks mapped, so
    memory freed with them goes back at once. Once per process (the composition root
    calls it); False where the C library has no ``mallopt``.
    """
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold))

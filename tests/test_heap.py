"""slamon.heap: large blocks freed go back to the system (glibc), a no-op elsewhere."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import pytest

from slamon.heap import release_free_heap


def _glibc() -> bool:
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


pytestmark = pytest.mark.skipif(not (sys.platform == "linux" and _glibc()), reason="glibc only")


def test_release_free_heap_runs():
    assert release_free_heap() is True
    assert release_free_heap() is True  # any number of times


def test_a_freed_large_block_leaves_the_resident_set():
    # in a fresh process: the mallopt setting is the process's for good
    code = textwrap.dedent(
        """
        from slamon.heap import map_large_blocks

        def rss():
            with open("/proc/self/status") as f:
                return next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmRSS:"))

        assert map_large_blocks() is True
        base = rss()
        for _ in range(3):  # unfixed, glibc would serve the 2nd and 3rd from its heap
            body = b"x" * (24 << 20)
            assert rss() > base + (20 << 20)
            del body
            assert rss() < base + (8 << 20), (rss() - base) >> 20
        print("ok")
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"

"""slamon.tuning, the one owner of process-wide runtime policy: large blocks freed go back
to the system (glibc, a no-op elsewhere); the collector paused around a cold load and the
heap settled after a catalogue is applied. Each check that changes process-wide state
runs in a fresh process."""

from __future__ import annotations

import ctypes
import subprocess
import sys
import textwrap

import pytest

from slamon.tuning import release_free_heap


def _glibc() -> bool:
    try:
        ctypes.CDLL(None).gnu_get_libc_version  # noqa: B018
    except (OSError, AttributeError):
        return False
    return True


glibc_only = pytest.mark.skipif(not (sys.platform == "linux" and _glibc()), reason="glibc only")


@glibc_only
def test_release_free_heap_runs():
    assert release_free_heap() is True
    assert release_free_heap() is True  # any number of times


@glibc_only
def test_a_freed_large_block_leaves_the_resident_set():
    # in a fresh process: the mallopt setting is the process's for good
    code = textwrap.dedent(
        """
        from slamon.tuning import map_large_blocks

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


def _run(code: str) -> None:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_the_collector_is_paused_only_inside_the_block():
    _run(
        """
        import gc
        from slamon import tuning

        assert gc.isenabled()
        with tuning.paused_collector():
            assert not gc.isenabled()
            kept = [[i] for i in range(10_000)]
        assert gc.isenabled() and gc.get_freeze_count() == 0
        assert gc.get_count()[0] < 1_000  # the block's objects were counted as old
        gc.disable()
        with tuning.paused_collector():  # off before: stays off
            pass
        assert not gc.isenabled()
        print("ok")
        """
    )


def test_settle_heap_freezes_what_is_alive_and_thaws_it_next_time():
    _run(
        """
        import gc
        from slamon import tuning

        first = [[i] for i in range(5_000)]
        tuning.settle_heap()
        frozen = gc.get_freeze_count()
        assert frozen >= 5_000
        del first  # the replaced catalogue
        second = [[i] for i in range(100)]
        tuning.settle_heap()
        assert gc.get_freeze_count() < frozen  # the first was thawed, then freed
        print("ok")
        """
    )

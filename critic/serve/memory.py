"""The critic server's memory as the OS sees it: the process's resident size, and handing memory
freed by evicted or deleted sessions back to the OS.

Why RSS outgrows the session cache: a KV cache is a few tensors of 100 KB to some MB each, which
PyTorch's CPU allocator takes from glibc malloc. glibc serves such sizes from its heap arenas once
its mmap threshold has risen past them (it rises each time a mmapped block is freed), and it keeps
freed arena memory for reuse instead of returning it. After many sessions come and go, the cache's
byte count falls to what it holds while RSS stays at its high-water mark. `malloc_trim(0)` returns
every free page of every arena; the server calls it after sessions are freed (evicted or deleted),
when idle or once enough has been freed (BatchWorker). GPU memory is PyTorch's own caching
allocator and not counted here; this is host memory.
"""

from __future__ import annotations

import ctypes
import functools
import os
from typing import Any

M_ARENA_MAX = -8
"""mallopt's parameter number for the most arenas (glibc's malloc.h)."""


def rss_bytes() -> int | None:
    """The process's resident set size in bytes (Linux /proc), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


@functools.cache
def _glibc() -> Any | None:
    try:
        lib = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (musl, macOS): nothing to trim this way
        return None
    return lib if hasattr(lib, "malloc_trim") and hasattr(lib, "mallopt") else None


def return_free_memory() -> bool:
    """Give the OS back every free page malloc holds (glibc `malloc_trim(0)`); False where unavailable."""
    lib = _glibc()
    if lib is None:
        return False
    lib.malloc_trim(0)
    return True


def limit_arenas(count: int) -> bool:
    """Cap glibc's malloc arenas (as MALLOC_ARENA_MAX does): each thread that allocates may
    otherwise get its own arena, whose free memory only that arena reuses."""
    lib = _glibc()
    return lib is not None and bool(lib.mallopt(M_ARENA_MAX, count))

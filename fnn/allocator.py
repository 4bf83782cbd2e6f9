"""Keep freed memory for reuse: pure train steps allocate fresh arrays every step.

glibc's malloc serves large blocks with mmap and hands freed memory back to the
system, so each step's fresh activations, gradients and states arrive as new
pages, and every page costs a fault when first written. On a small virtual
machine that is a quarter of an MLP step and more of a CNN's (see
``benchmarks/README.md``). ``keep_freed_memory`` asks malloc to keep what is
freed and reuse it, as the caching allocators of the big frameworks do.
``make_train_step`` calls it (``keep_freed_memory=False`` there opts out), so a
training script is fast without asking; it changes the whole process, which
then keeps its peak footprint. Call it yourself for inference-only scripts.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["keep_freed_memory"]

# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MAX_MMAP_THRESHOLD = 32 << 20  # glibc refuses more than half its heap size (64 MiB)


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Make glibc's malloc serve blocks up to 32 MiB from its heap and keep up to
    ``trim_threshold`` bytes of freed heap instead of returning them to the system.

    Returns True when the settings took effect, False where the C library has
    no ``mallopt`` (macOS, musl): there nothing changes.
    """
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MAX_MMAP_THRESHOLD)
                and mallopt(_M_TRIM_THRESHOLD, min(trim_threshold, 2**31 - 1)))

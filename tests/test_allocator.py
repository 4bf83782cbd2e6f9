import platform
import subprocess
import sys

import pytest

GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_keep_freed_memory_takes_effect_with_glibc():
    code = "import fnn; print(fnn.keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("True", "False")  # False on a musl-based Linux
    if GLIBC:
        assert out.stdout.strip() == "True"


# How many blocks glibc serves by mmap (mallinfo2().hblks) grows by one for a fresh 16 MiB
# array under glibc's defaults, and stays put once malloc serves such blocks from its heap.
MMAPPED_BLOCKS_FOR_A_LARGE_ARRAY = """
import ctypes, numpy as np, fnn
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd",
                                                "usmblks", "fsmblks", "uordblks", "fordblks",
                                                "keepcost")]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
fnn.make_train_step(fnn.layers.dense(3), fnn.losses.mse(), fnn.optim.sgd(0.1){options})
before = libc.mallinfo2().hblks
a = np.ones(16 << 20, np.uint8)
print(libc.mallinfo2().hblks - before)
"""


@pytest.mark.skipif(not GLIBC, reason="mallinfo2 and mallopt are glibc's")
@pytest.mark.parametrize("options, mmapped", [("", "0"), (", keep_freed_memory=False", "1")])
def test_make_train_step_keeps_freed_memory_unless_told_not_to(options, mmapped):
    code = MMAPPED_BLOCKS_FOR_A_LARGE_ARRAY.format(options=options)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == mmapped

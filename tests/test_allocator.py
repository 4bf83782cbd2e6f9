import subprocess
import sys

import pytest


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_keep_freed_memory_takes_effect_with_glibc():
    code = "import fnn; print(fnn.keep_freed_memory())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() in ("True", "False")  # False on a musl-based Linux
    import platform
    if platform.libc_ver()[0] == "glibc":
        assert out.stdout.strip() == "True"

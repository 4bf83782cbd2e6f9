"""Finding the ``mpiexec`` that goes with this Python."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

__all__ = ["find_mpiexec"]


def find_mpiexec() -> str | None:
    """The ``mpiexec`` beside this Python (a venv's, or that of the install it was made
    from, where ``pip install mpich`` puts it), else the first on PATH, else None."""
    for directory in (Path(sys.executable).parent, Path(sys.prefix) / "bin",
                      Path(sys.base_prefix) / "bin", Path(os.path.realpath(sys.executable)).parent):
        if (directory / "mpiexec").exists():
            return str(directory / "mpiexec")
    return shutil.which("mpiexec")

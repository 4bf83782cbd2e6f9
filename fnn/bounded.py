"""Reading untrusted compressed files in bounded memory and work.

A file declares sizes (an IDX header's dimensions, a zip entry's uncompressed
size); readers check each against what the file can honestly hold before they
allocate, then stream the data into the one array they return, in chunks, and
stop at the declared size. Only ``DataError`` leaves these helpers.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from typing import Any

import numpy as np

from fnn.errors import DataError

__all__ = ["DEFLATE_MAX_RATIO", "DAMAGED", "check_inflatable", "read_into", "read_limited"]

# Deflate's best case codes a 258-byte match in 2 bits, so no deflate stream inflates
# more than 1032-fold; more slack than a gzip or zip header needs is added to that.
DEFLATE_MAX_RATIO = 1032
_SLACK = 4096
_CHUNK = 1 << 20
# What zipfile, gzip and zlib raise on damaged bytes: a bad CRC or header (BadZipFile,
# BadGzipFile is an OSError), a stream that ends early (EOFError), bad deflate data
# (zlib.error), another zip version or encryption (NotImplementedError, RuntimeError).
DAMAGED = (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, OSError,
           NotImplementedError, RuntimeError, zlib.error, struct.error)


def check_inflatable(where: str, declared: int, compressed: int) -> None:
    """Refuse a deflated stream of ``compressed`` bytes that declares more than it can inflate to."""
    if declared > DEFLATE_MAX_RATIO * compressed + _SLACK:
        raise DataError(f"{where}: declares {declared} bytes, more than {compressed} deflated "
                        f"bytes can hold (at most {DEFLATE_MAX_RATIO}-fold)")


def read_into(stream: Any, out: np.ndarray) -> int:
    """Fill the contiguous array ``out`` from ``stream`` in 1 MiB chunks, so memory stays at
    ``out`` plus a chunk whatever the stream holds. Returns how many bytes it held, counting
    at most one beyond ``out.nbytes``: fewer says it was short, more that it was long.

    Reading past the end also makes zipfile check an entry's CRC. The stream's own errors
    (``DAMAGED``) are the caller's to name.
    """
    view = out.reshape(-1).view(np.uint8).data
    done = 0
    while done < len(view):
        chunk = stream.read(min(_CHUNK, len(view) - done))
        if not chunk:
            return done
        view[done:done + len(chunk)] = chunk
        done += len(chunk)
    return done + len(stream.read(1))


def read_limited(stream: Any, limit: int) -> bytes:
    """The stream's bytes up to ``limit`` + 1: more than ``limit`` says it is larger."""
    chunks: list[bytes] = []
    size = 0
    while size <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)

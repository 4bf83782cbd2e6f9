"""Progress display for long loops: tqdm when it is installed, one plain line otherwise,
and no bar (only the summary lines) where the output is not a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class PlainBar:
    """A one-line display rewritten in place at most ten times a second (on a terminal only)."""

    def __init__(self, total: int, desc: str, stream: TextIO):
        self.total, self.desc, self.stream = total, desc, stream
        self.live = stream.isatty()
        self.count, self.shown_at = 0, 0.0

    def update(self, n: int = 1, postfix: str = "") -> None:
        self.count += n
        now = time.monotonic()
        if self.live and (now - self.shown_at >= 0.1 or self.count >= self.total):
            self.shown_at = now
            self.stream.write(f"\r{self.desc} {self.count}/{self.total} {postfix}\033[K")
            self.stream.flush()

    def write(self, line: str) -> None:
        self.close()
        print(line, flush=True)

    def close(self) -> None:
        if self.live:
            self.stream.write("\r\033[K")
            self.stream.flush()


class TqdmBar:
    """The same interface over a tqdm bar."""

    def __init__(self, tqdm_class: type, total: int, desc: str, stream: TextIO):
        self.bar = tqdm_class(total=total, desc=desc, unit="batch", leave=False, file=stream)

    def update(self, n: int = 1, postfix: str = "") -> None:
        self.bar.set_postfix_str(postfix, refresh=False)
        self.bar.update(n)

    def write(self, line: str) -> None:
        self.bar.write(line, file=sys.stdout)

    def close(self) -> None:
        self.bar.close()


class SilentBar:
    """Shows nothing (``progress=False``)."""

    def update(self, n: int = 1, postfix: str = "") -> None:
        pass

    def write(self, line: str) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(total: int, desc: str, enabled: bool = True,
                 stream: TextIO | None = None) -> PlainBar | TqdmBar | SilentBar:
    """A bar of ``total`` steps on ``stream`` (stderr): tqdm if importable, else a plain line.

    ``write`` prints a line to stdout without breaking the bar. Where ``stream`` is not a
    terminal (a log file, a pipe, CI) there is no bar, only the lines ``write`` prints.
    """
    if not enabled:
        return SilentBar()
    stream = sys.stderr if stream is None else stream
    if not stream.isatty():
        return PlainBar(total, desc, stream)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return PlainBar(total, desc, stream)
    return TqdmBar(tqdm, total, desc, stream)

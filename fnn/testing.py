"""Helpers for testing code built on fnn (and fnn itself), and fnn's pytest plugin.

The plugin, registered through the ``pytest11`` entry point, adds

- the fixture ``fnn_snapshot``: ``fnn_snapshot.assert_match(tree, *, rtol=0.0,
  atol=0.0, name=None)`` compares ``tree`` with the snapshot stored in
  ``<test dir>/snapshots/<test module>/<test name>[-<name>].npz`` (a checkpoint,
  see ``fnn.checkpoint``), bit for bit unless ``rtol`` or ``atol`` is given;
- the flag ``--fnn-snapshot-update``, with which ``assert_match`` (re)writes the
  ``.npz`` and a readable ``.txt`` summary beside it instead of comparing.

pytest is only imported by the plugin's hooks, so the assertion helpers work
without it.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np

from fnn import checkpoint, gradcheck, tree
from fnn.core import Layer, Loss
from fnn.errors import DataError

__all__ = ["assert_trees_equal", "differences", "summary", "Snapshot", "assert_layer_gradients",
           "assert_loss_gradient"]

# A tree as compared here: (checkpoint.describe(tree), tree.leaves(tree)), or what
# checkpoint.read gives for a file.
Flat = tuple[list[dict], list]

UPDATE_FLAG = "--fnn-snapshot-update"


def _flat(t: Any) -> Flat:
    return checkpoint.describe(t), tree.leaves(t)


def assert_trees_equal(actual: Any, expected: Any) -> None:
    """Same structure (node types and leaf kinds too), and every leaf equal to the
    bit, with the same dtype and shape. The message lists every difference."""
    __tracebackhide__ = True
    problems = differences(_flat(expected), _flat(actual))
    assert not problems, "the trees differ:\n  " + "\n  ".join(problems)


def differences(expected: Flat, actual: Flat, *, rtol: float = 0.0, atol: float = 0.0) -> list[str]:
    """One line per difference between two flattened trees.

    First the structure (missing or extra paths, other node types, dtypes or
    shapes, from ``checkpoint.mismatches``), then each leaf whose values differ:
    in any bit when ``rtol`` and ``atol`` are 0, else where
    ``|actual − expected| > atol + rtol·|expected|``, with the number of such
    elements and their largest absolute and relative difference.
    """
    found = checkpoint.mismatches(expected[0], actual[0])
    lines = [str(mismatch) for mismatch in found]
    broken = {mismatch.path for mismatch in found}
    actual_arrays = _arrays(actual)
    for path, array in _arrays(expected).items():
        if path not in broken:
            line = _value_difference(array, actual_arrays[path], rtol, atol)
            if line:
                lines.append(f"{path or '<root>'}: {line}")
    return lines


def _arrays(flat: Flat) -> dict[str, np.ndarray]:
    """Path -> leaf as an array of its described dtype (Python ints as int64, as stored)."""
    leaf_nodes = [node for node in flat[0] if "leaf" in node]
    return {node["path"]: np.asarray(value, dtype=node["dtype"])
            for node, value in zip(leaf_nodes, flat[1], strict=True)}


def _value_difference(e: np.ndarray, a: np.ndarray, rtol: float, atol: float) -> str | None:
    """How ``a`` differs from the expected ``e`` (same dtype and shape), or None when it matches."""
    if a.tobytes() == e.tobytes():
        return None
    wide = np.complex128 if e.dtype.kind == "c" else np.float64
    e_wide, a_wide = e.astype(wide), a.astype(wide)
    if rtol or atol:
        bad = ~np.isclose(a_wide, e_wide, rtol=rtol, atol=atol, equal_nan=True)
        if not bad.any():
            return None
    else:
        # Element by element, byte by byte: tells -0.0 from 0.0 and NaN payloads apart,
        # and stays exact for integers too large for float64.
        bad = (_element_bytes(a) != _element_bytes(e)).any(axis=1).reshape(e.shape)
    a_bad, e_bad = a_wide[bad], e_wide[bad]
    # Differences a value comparison cannot show: 0.0 against -0.0, and NaN against a NaN
    # of other bytes (payload or sign).
    zeros = (a_bad == 0) & (e_bad == 0)
    nans = np.isnan(a_bad) & np.isnan(e_bad)
    valued = ~(zeros | nans)
    parts = [f"{int(bad.sum())} of {e.size} elements differ"]
    if zeros.any():
        parts.append(f"{int(zeros.sum())} in the sign of zero only (0.0 against -0.0: equal "
                     f"values, different bytes)")
    if nans.any():
        parts.append(f"{int(nans.sum())} NaN on both sides with different bytes")
    if valued.any():
        abs_diff = np.abs(a_bad[valued] - e_bad[valued])
        with np.errstate(divide="ignore", invalid="ignore"):
            rel_diff = abs_diff / np.abs(e_bad[valued])
        parts.append(f"max abs diff {abs_diff.max():.6g}, max rel diff {rel_diff.max():.6g}")
    return "; ".join(parts)


def _element_bytes(x: np.ndarray) -> np.ndarray:
    """The bytes of ``x`` as a (size, itemsize) uint8 array."""
    return np.ascontiguousarray(x).reshape(-1).view(np.uint8).reshape(x.size, x.dtype.itemsize)


def summary(t: Any) -> str:
    """A readable account of ``t``: its digest, then one line per leaf with its path,
    type, shape and statistics (min, max, mean, sum, to the last digit)."""
    leaf_nodes = [node for node in checkpoint.describe(t) if "leaf" in node]
    rows = [(node["path"] or "<root>", _leaf_type(node), str(tuple(node["shape"])),
             _statistics(value)) for node, value in zip(leaf_nodes, tree.leaves(t), strict=True)]
    widths = [max((len(row[i]) for row in rows), default=0) for i in range(3)]
    lines = ["# fnn snapshot summary, for reading diffs; tests compare the .npz beside it",
             f"digest sha256:{checkpoint.digest(t)}"]
    lines += ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[3]
              for row in rows]
    return "\n".join(lines) + "\n"


def _leaf_type(node: dict) -> str:
    dtype = np.dtype(node["dtype"])
    return {"array": str(dtype), "numpy": f"numpy {dtype}"}.get(node["leaf"], f"python {node['leaf']}")


def _statistics(value: Any) -> str:
    a = np.asarray(value)
    if a.size <= 1:
        return "empty" if a.size == 0 else f"value={a.reshape(-1)[0]!s}"
    wide = np.complex128 if a.dtype.kind == "c" else np.float64
    # str() of a numpy scalar has the fewest digits that read back to the same value in its
    # dtype (an f-string would widen float32 to float64 digits). Sums are in float64 too:
    # an integer sum could wrap around silently.
    parts = [] if a.dtype.kind == "c" else [f"min={a.min()!s}", f"max={a.max()!s}"]
    return " ".join([*parts, f"mean={a.mean(dtype=wide)!s}", f"sum={a.sum(dtype=wide)!s}"])


_UNSAFE = re.compile(r"[^\w.\[\]-]", re.ASCII)


def _file_name(raw: str) -> str:
    """``raw`` (a test id) as a portable file name, the same in every run."""
    safe = _UNSAFE.sub("_", raw)
    if safe != raw or len(safe) > 100:
        # Replaced or cut characters could make two ids collide; a hash of the id keeps them apart.
        safe = f"{safe[:100]}-{hashlib.sha256(raw.encode()).hexdigest()[:8]}"
    return safe


class Snapshot:
    """What ``fnn_snapshot`` gives a test: ``assert_match`` against files in ``directory``
    named after ``test_name``; with ``update``, the files are written instead."""

    def __init__(self, directory: Path, test_name: str, *, update: bool, written: list[Path]):
        self.directory, self.test_name, self.update = Path(directory), test_name, update
        self._written = written
        self._used: set[Path] = set()

    def path(self, name: str | None = None) -> Path:
        """The ``.npz`` file of the snapshot called ``name`` (None: the test's only one)."""
        stem = _file_name(self.test_name) + ("" if name is None else f"-{_file_name(name)}")
        return self.directory / f"{stem}.npz"

    def assert_match(self, t: Any, *, rtol: float = 0.0, atol: float = 0.0,
                     name: str | None = None) -> None:
        """``t`` equals the stored snapshot: structure, dtypes and shapes exactly, values bit
        for bit, or within ``atol + rtol·|expected|`` when either is given.

        A test that checks several trees names each with ``name``.
        """
        __tracebackhide__ = True
        npz = self.path(name)
        if npz in self._used:
            raise ValueError(f"fnn_snapshot: {npz.name} is already used in this test; give each "
                             f"assert_match call its own name=")
        self._used.add(npz)
        if self.update:
            npz.parent.mkdir(parents=True, exist_ok=True)
            checkpoint.save(npz, t)
            npz.with_suffix(".txt").write_text(summary(t), encoding="utf-8")
            self._written.append(npz)
            return
        if not npz.exists():
            raise AssertionError(f"no snapshot {npz} yet: run pytest with {UPDATE_FLAG} to write it")
        stored = checkpoint.read(npz)
        _check_summary_digest(npz.with_suffix(".txt"), stored)
        problems = differences(stored, _flat(t), rtol=rtol, atol=atol)
        if problems:
            raise AssertionError(
                f"the tree differs from the snapshot {npz} (rtol={rtol}, atol={atol}):\n  "
                + "\n  ".join(problems)
                + f"\nIf the change is intended, run pytest with {UPDATE_FLAG} and commit the files.")


_DIGEST_LINE = re.compile(r"^digest sha256:([0-9a-f]{64})$", re.MULTILINE)


def _check_summary_digest(txt: Path, stored: Flat) -> None:
    """The digest line of the ``.txt`` summary (where there is one) is the digest of the
    ``.npz`` beside it: neither file was edited, damaged or regenerated without the other."""
    if not txt.exists():
        return
    found = _DIGEST_LINE.search(txt.read_text(encoding="utf-8"))
    actual = checkpoint.digest_of(*stored)
    if found is None or found[1] != actual:
        raise DataError(f"{txt}: the digest line {found[1] if found else '(none)'} is not the "
                        f"digest {actual} of {txt.with_suffix('.npz').name} beside it; if the "
                        f"snapshot is right, run pytest with {UPDATE_FLAG} to write both anew")


def pytest_addoption(parser: Any) -> None:
    parser.getgroup("fnn").addoption(
        UPDATE_FLAG, action="store_true", default=False,
        help="write the snapshots of fnn_snapshot.assert_match anew instead of comparing")


def pytest_configure(config: Any) -> None:
    # Imported here, not at the top: pytest is a test extra, not a dependency of fnn.
    import pytest

    class SnapshotPlugin:
        """The ``fnn_snapshot`` fixture, and a closing line naming the snapshots written."""

        def __init__(self) -> None:
            self.written: list[Path] = []

        @pytest.fixture
        def fnn_snapshot(self, request: Any) -> Snapshot:
            """Compares trees with snapshots in <test dir>/snapshots/<test module>/."""
            test = request.node.name
            if request.cls is not None:
                test = f"{request.cls.__qualname__}.{test}"
            return Snapshot(request.path.parent / "snapshots" / request.path.stem, test,
                            update=config.getoption(UPDATE_FLAG), written=self.written)

        def pytest_terminal_summary(self, terminalreporter: Any) -> None:
            if self.written:
                terminalreporter.write_line(f"fnn_snapshot: wrote {len(self.written)} snapshot(s):")
                for path in self.written:
                    terminalreporter.write_line(f"  {path}")

    config.pluginmanager.register(SnapshotPlugin(), "fnn_snapshot")


def assert_layer_gradients(layer: Layer, x: np.ndarray, *, tol: float = 1e-6, **kwargs: Any) -> None:
    """Every relative error of ``gradcheck.layer_errors`` (same keywords) is below ``tol``."""
    errors = gradcheck.layer_errors(layer, np.asarray(x, dtype=np.float64), **kwargs)
    bad = {path: err for path, err in errors.items() if not err < tol}
    assert not bad, f"{layer.name}: gradient errors above {tol}: {bad} (all: {errors})"


def assert_loss_gradient(loss: Loss, y: np.ndarray, t: np.ndarray, *, tol: float = 1e-6) -> None:
    """``loss.backward`` matches central differences to ``tol`` (relative)."""
    error = gradcheck.loss_error(loss, np.asarray(y, dtype=np.float64), t)
    assert error < tol, f"{loss.name}: gradient error {error} above {tol}"

"""examples/compare_optimizers.py prints its table and saves, or explains how to get, its plot."""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "compare_optimizers.py"
# Runs the script with matplotlib made unimportable (a None entry in sys.modules), its
# folder first on sys.path as `python script.py` puts it.
WITHOUT_MATPLOTLIB = ("import os, runpy, sys; sys.modules['matplotlib'] = None; "
                     "sys.argv = sys.argv[1:]; sys.path.insert(0, os.path.dirname(sys.argv[0])); "
                     "runpy.run_path(sys.argv[0], run_name='__main__')")


def run(*args):
    return subprocess.run([sys.executable, *args], capture_output=True, text=True,
                          check=True).stdout


def test_prints_the_curves_and_saves_the_plot(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    out = run(str(SCRIPT), "--epochs", "2", "--out", str(tmp_path / "curves.png"))
    lines = out.splitlines()
    header = lines[1].split()
    assert header == ["epoch", "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"]
    assert [line.split()[0] for line in lines[2:4]] == ["1", "2"]
    assert all(float(v) < 2.3 for v in lines[3].split()[1:])  # below the initial ln 10
    assert "final loss" in out and (tmp_path / "curves.png").stat().st_size > 0


def test_without_matplotlib_it_still_prints(tmp_path):
    pytest.importorskip("sklearn")
    out = run("-c", WITHOUT_MATPLOTLIB, str(SCRIPT), "--epochs", "1",
              "--out", str(tmp_path / "curves.png"))
    assert "final loss" in out and "pip install -e '.[examples]'" in out
    assert not (tmp_path / "curves.png").exists()

"""fnn.checkpoint.save under crashes, concurrency, long names and failing file systems."""

import errno
import os
import random
import signal
import time

import numpy as np
import pytest

from fnn import checkpoint

TREE = {"w": np.arange(1 << 18, dtype=np.float64), "step": 3}  # 2 MiB: a save takes a while


def fork(work):
    """The pid of a child process running ``work()``; it exits 0 if that returns."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work()
            code = 0
        finally:
            os._exit(code)
    return pid


def exit_code(pid):
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def saves_forever(path):
    def work():
        while True:
            checkpoint.save(path, TREE)
    return work


def temporaries(directory):
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


def test_a_save_removes_what_saves_killed_mid_write_left(tmp_path):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, TREE)
    chance = random.Random(0)
    mid_write = 0
    for _ in range(30):
        pid = fork(saves_forever(path))
        time.sleep(chance.uniform(0.005, 0.03))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        left = temporaries(tmp_path)
        # each save removes the leftovers of those killed before it: they never pile up
        assert len(left) <= 1 and all(name.startswith(".ckpt.npz.") for name in left)
        mid_write += bool(left)
    assert mid_write >= 5, "too few saves were killed mid-write for the test to mean much"
    checkpoint.save(path, {"w": np.zeros(2)})
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    np.testing.assert_array_equal(checkpoint.load(path, like={"w": np.ones(2)})["w"], 0)


def test_two_processes_saving_one_path_at_once_both_succeed(tmp_path):
    path = tmp_path / "ckpt.npz"
    trees = [{"w": np.full(1 << 16, float(i))} for i in range(2)]

    def saves(tree):
        def work():
            for _ in range(40):
                checkpoint.save(path, tree)
        return work

    pids = [fork(saves(tree)) for tree in trees]
    assert [exit_code(pid) for pid in pids] == [0, 0]
    loaded = checkpoint.load(path, like={"w": np.zeros(1 << 16)})["w"]
    assert loaded[0] in (0.0, 1.0) and (loaded == loaded[0]).all()
    assert os.listdir(tmp_path) == ["ckpt.npz"]


def test_a_live_writers_temporary_file_is_kept(tmp_path, monkeypatch):
    """A save that cannot finish (its fsync waits) keeps its file while another saves."""
    path = tmp_path / "ckpt.npz"
    read_end, write_end = os.pipe()

    def stalled():
        os.fsync = lambda fd: os.read(read_end, 1)  # in the child only: wait for the parent
        checkpoint.save(path, TREE)

    pid = fork(stalled)
    while not temporaries(tmp_path):
        time.sleep(0.001)
    time.sleep(0.05)  # long enough for the child to lock its file, whatever happens first
    checkpoint.save(path, {"w": np.zeros(2)})
    assert len(temporaries(tmp_path)) == 1
    os.write(write_end, b"xx")  # one for the file's fsync, one for the directory's
    assert exit_code(pid) == 0
    assert os.listdir(tmp_path) == ["ckpt.npz"]


@pytest.mark.parametrize("length", [218, 250, 255])
def test_names_up_to_the_file_system_limit_work(tmp_path, length):
    names = ["a" * length, "a" * (length - 1) + "b"]  # alike in their first 100 bytes
    for name in names:
        checkpoint.save(tmp_path / name, {"w": np.full(2, len(name) + name.endswith("b"), dtype=np.float64)})
    for name in names:
        loaded = checkpoint.load(tmp_path / name, like={"w": np.zeros(2)})["w"]
        assert loaded[0] == len(name) + name.endswith("b")
    assert sorted(os.listdir(tmp_path)) == sorted(names)


def failing(name, error):
    """``os.<name>`` replaced by a function raising ``error`` on temporary files."""
    original = getattr(os, name)

    def fail(target, *args, **kwargs):
        if isinstance(target, int) or str(target).endswith(".tmp"):
            raise error
        return original(target, *args, **kwargs)

    return fail


@pytest.mark.parametrize("name, error", [
    ("fsync", OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))),
    ("open", PermissionError(errno.EACCES, os.strerror(errno.EACCES), "/x/.ckpt.npz.1.tmp")),
    ("open", OSError(errno.EROFS, os.strerror(errno.EROFS), "/x/.ckpt.npz.1.tmp")),
], ids=["disk full", "no permission", "read-only"])
def test_an_os_error_keeps_its_type_names_the_path_and_leaves_the_old_file(
        tmp_path, monkeypatch, name, error):
    path = tmp_path / "ckpt.npz"
    checkpoint.save(path, {"w": np.ones(2)})
    before = path.read_bytes()
    monkeypatch.setattr(os, name, failing(name, error))
    with pytest.raises(type(error)) as info:
        checkpoint.save(path, {"w": np.zeros(2)})
    monkeypatch.undo()
    assert type(info.value) is type(error) and info.value.errno == error.errno
    assert str(path) in str(info.value) and ".tmp" not in str(info.value)
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["ckpt.npz"]


def test_a_missing_directory_is_named_in_the_error(tmp_path):
    path = tmp_path / "missing" / "ckpt.npz"
    with pytest.raises(FileNotFoundError) as info:
        checkpoint.save(path, {"w": np.ones(2)})
    assert str(path) in str(info.value) and ".tmp" not in str(info.value)

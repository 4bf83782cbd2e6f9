"""fnn.checkpoint and fnn.data.read_idx against hostile files: values placed by path, every
declared size checked before anything is allocated, only fnn's errors, the digest verified.

Each file is loaded in a fresh process under an address-space limit (RLIMIT_AS) a little
above what it maps before loading, and the growth of its peak resident memory (VmHWM, reset
through /proc/self/clear_refs) is measured; honest files of 32 MiB show what that measures.
"""

import gzip
import io
import json
import struct
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from fnn import checkpoint
from fnn.errors import DataError

BOMB = 1 << 27  # bytes a bomb inflates to: 128 MiB, twice the headroom below
HEADROOM = 64 << 20  # address space allowed beyond what the probe holds before loading
MIB = 1 << 20


def entries_of(path):
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def craft(path, entries, deflated=()):
    """A zip with raw entries (name -> bytes, or a callable writing them to a stream);
    the names in ``deflated`` deflated, the others stored."""
    with zipfile.ZipFile(path, "w", compresslevel=1) as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED if name in deflated else zipfile.ZIP_STORED
            with archive.open(info, "w", force_zip64=True) as out:
                data(out) if callable(data) else out.write(data)
    return path


def zeros(n):
    """A writer of n zero bytes, a MiB at a time."""
    def write(out):
        chunk = bytes(MIB)
        for start in range(0, n, MIB):
            out.write(chunk[:n - start])
    return write


def npy_header(shape, dtype="<f4"):
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, np.lib.format.header_data_from_array_1_0(np.empty(0, dtype)) | {"shape": shape})
    return out.getvalue()


def header(nodes, digest=None):
    body = {"format": "fnn.checkpoint", "version": 1, "nodes": nodes}
    return json.dumps(body | ({"digest": digest} if digest else {})).encode()


def leaf(path, shape, dtype="<f4"):
    return {"path": path, "leaf": "array", "dtype": dtype, "shape": list(shape)}


ROOT = {"path": "", "type": "dict"}


def declare_size(path, name, size):
    """Patch the uncompressed size that the local and central headers of entry ``name``
    (stored without zip64) declare."""
    data = bytearray(path.read_bytes())
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = data.find(signature)
        while start >= 0:
            if data[start + name_at:start + name_at + len(name)] == name.encode():
                data[start + size_at:start + size_at + 4] = struct.pack("<I", size)
            start = data.find(signature, start + 1)
    path.write_bytes(bytes(data))


def hostile_files(d):
    """name -> (file, the call that reads it, as Python source)."""
    small = "checkpoint.load(path, like={'a': np.zeros(3, np.float32)})"
    read = "checkpoint.read(path)"
    files = {}
    # A leaf entry inflating to 256 MiB where tree.json says 3 floats.
    files["leaf bomb, tree.json small"] = (craft(d / "bomb1.npz", {
        "tree.json": header([ROOT, leaf("['a']", (3,))]),
        "leaf_0.npy": lambda out: (out.write(npy_header((BOMB // 4,))), zeros(BOMB)(out))},
        deflated={"leaf_0.npy"}), small)
    # The same bomb honestly declared by tree.json too: like says otherwise...
    honest = craft(d / "bomb2.npz", {
        "tree.json": header([ROOT, leaf("['a']", (BOMB // 4,))]),
        "leaf_0.npy": lambda out: (out.write(npy_header((BOMB // 4,))), zeros(BOMB)(out))},
        deflated={"leaf_0.npy"})
    files["leaf bomb, declared, like small"] = (honest, small)
    # ...and read, without like, would need more memory than the process may have.
    files["leaf bomb, declared, read"] = (honest, read)
    files["tree.json bomb"] = (craft(d / "bomb3.npz", {
        "tree.json": lambda out: (zeros(0)(out), out.write(b" " * BOMB),
                                  out.write(header([ROOT])))}, deflated={"tree.json"}), read)
    lying = craft(d / "lying.npz", {"tree.json": header([ROOT, leaf("['a']", (3,))]),
                                    "leaf_0.npy": npy_header((3,)) + bytes(12)},
                  deflated={"leaf_0.npy"})
    files["deflated entry declaring 4 GB"] = (lying, small)
    declare_size(lying, "leaf_0.npy", 0xFFFFFFF0)
    files["8 TiB shape in the .npy header"] = (craft(d / "huge1.npz", {
        "tree.json": header([ROOT, leaf("['a']", (3,))]),
        "leaf_0.npy": npy_header((1 << 40, 2)) + bytes(12)}), small)
    files["8 TiB shape in tree.json and the .npy header"] = (craft(d / "huge2.npz", {
        "tree.json": header([ROOT, leaf("['a']", (1 << 40, 2))]),
        "leaf_0.npy": npy_header((1 << 40, 2)) + bytes(12)}), read)
    files["tree.json nested 100,000 deep"] = (craft(d / "deep.npz", {
        "tree.json": b'{"format": "fnn.checkpoint", "version": 1, "nodes": '
                     + b"[" * 100_000 + b"]" * 100_000 + b"}"}), read)
    files["duplicate path"] = (craft(d / "twice.npz", {
        "tree.json": header([ROOT, leaf("['a']", (3,)), leaf("['a']", (3,))]),
        "leaf_0.npy": npy_header((3,)) + bytes(12), "leaf_1.npy": npy_header((3,)) + bytes(12)}),
        small)
    idx = "data.read_idx(path)"
    files["gzip IDX: 128 MiB body, header says 6 bytes"] = (
        gzipped(d / "long.idx.gz", idx_header(0x08, (2, 3)), zeros(BOMB)), idx)
    files["gzip IDX: header says 4 GiB, 1 KiB file"] = (
        gzipped(d / "huge.idx.gz", idx_header(0x08, (1 << 16, 1 << 16)), zeros(1 << 10)), idx)
    # Honest, but more than the process may map: refused as an fnn error, not MemoryError.
    files["gzip IDX: 128 MiB declared and held"] = (
        gzipped(d / "honest.idx.gz", idx_header(0x08, (BOMB,)), zeros(BOMB)), idx)
    files["raw IDX: header says 8 TiB"] = (
        written(d / "huge.idx", idx_header(0x0E, (1 << 20, 1 << 20))), idx)
    return files


def idx_header(code, shape):
    return bytes([0, 0, code, len(shape)]) + np.array(shape, ">u4").tobytes()


def written(path, content):
    path.write_bytes(content)
    return path


def gzipped(path, head, write_body):
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(head)
        write_body(out)
    return path


EXPECTED = {
    "leaf bomb, tree.json small": ("DataError", "entry leaf_0 (['a']) does not match tree.json"),
    "leaf bomb, declared, like small": ("ShapeError", "['a']: expected shape (3,)"),
    "leaf bomb, declared, read": ("DataError", f"no memory for the {BOMB} bytes"),
    "tree.json bomb": ("DataError", "more than the 67108864 allowed"),
    "deflated entry declaring 4 GB": ("DataError", "deflated bytes can hold (at most 1032-fold)"),
    "8 TiB shape in the .npy header": ("DataError", "got dtype float32 and shape (1099511627776, 2)"),
    "8 TiB shape in tree.json and the .npy header": ("DataError", "declares 140 bytes"),
    "tree.json nested 100,000 deep": ("DataError", "malformed tree.json"),
    "duplicate path": ("DataError", "names the path ['a'] twice"),
    "gzip IDX: 128 MiB body, header says 6 bytes": ("DataError", "oversized body: shape (2, 3) "
                                                    "of uint8 needs 6 bytes, got more"),
    "gzip IDX: header says 4 GiB, 1 KiB file": ("DataError", "deflated bytes can hold"),
    "gzip IDX: 128 MiB declared and held": ("DataError", "no memory for the array: shape "
                                            "(134217728,) of uint8 needs 134217728 bytes"),
    "raw IDX: header says 8 TiB": ("DataError", "truncated body: shape (1048576, 1048576) of "
                                   "float64 needs 8796093022208 bytes, got 0"),
}

PROBE = r"""
import json, resource, sys
import numpy as np
from fnn import checkpoint, data

def status(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith(field + ":"))

path, call, headroom = json.loads(sys.argv[1])
limit = status("VmSize") + headroom
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")  # the peak resident size (VmHWM) starts again from the current one
before = status("VmRSS")
try:
    result = eval(call)
    outcome = ["returned", ""]
except BaseException as exc:
    outcome = [type(exc).__name__, str(exc)]
print(json.dumps(outcome + [status("VmHWM") - before]))
"""


def probe(path, call):
    """(exception class name or "returned", message, growth of the peak resident memory)
    of ``call`` on ``path`` in a fresh process that may map only HEADROOM bytes more."""
    run = subprocess.run([sys.executable, "-c", PROBE, json.dumps([str(path), call, HEADROOM])],
                         capture_output=True, text=True, timeout=300,
                         env={"OPENBLAS_NUM_THREADS": "1", "PATH": ""})
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return hostile_files(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("name", EXPECTED)
def test_a_hostile_file_is_refused_with_an_fnn_error_in_bounded_memory(files, name):
    error, message, peak = probe(*files[name])
    assert (error, EXPECTED[name][1] in message) == (EXPECTED[name][0], True), message
    assert peak < 4 * MIB, f"{name}: {peak / MIB:.1f} MiB allocated"


HONEST = 32 * MIB


@pytest.mark.parametrize("method", ["stored", "deflated"])
def test_an_honest_load_takes_little_more_memory_than_its_arrays(tmp_path, method):
    tree = {"a": np.zeros(HONEST // 4, np.float32)}
    path = tmp_path / "honest.npz"
    checkpoint.save(path, tree)
    entries = entries_of(path)
    craft(path, entries, deflated=set(entries) if method == "deflated" else ())
    like = f"{{'a': np.broadcast_to(np.float32(0), ({HONEST // 4},))}}"  # allocates nothing
    error, message, peak = probe(path, f"checkpoint.load(path, like={like})")
    assert error == "returned", message
    assert HONEST <= peak < 1.1 * HONEST + 4 * MIB, peak / MIB


def save_pair(tmp_path, a, b):
    path = tmp_path / "pair.npz"
    checkpoint.save(path, {"a": a, "b": b})
    return path


def reorder(path):
    """The file with its nodes and leaf entries in the other order, the digest kept."""
    entries = entries_of(path)
    body = json.loads(entries["tree.json"])
    root, a, b = body["nodes"]
    body["nodes"] = [b, root, a]
    return craft(path, {"tree.json": json.dumps(body).encode(), "leaf_0.npy": entries["leaf_1.npy"],
                        "leaf_1.npy": entries["leaf_0.npy"]})


@pytest.mark.parametrize("b", [np.full(3, 2.0, np.float32), np.full((2, 2), 2.0)],
                         ids=["same shape", "other shape"])
def test_values_are_placed_by_path_whatever_the_order_of_the_nodes(tmp_path, b):
    a = np.full(3, 1.0, np.float32)
    path = reorder(save_pair(tmp_path, a, b))
    loaded = checkpoint.load(path, like={"a": np.zeros_like(a), "b": np.zeros_like(b)})
    np.testing.assert_array_equal(loaded["a"], a)
    np.testing.assert_array_equal(loaded["b"], b)
    assert loaded["b"].dtype == b.dtype


def test_a_leaf_altered_with_its_crc_recomputed_fails_the_digest(tmp_path):
    path = save_pair(tmp_path, np.ones(3, np.float32), np.zeros(2))
    entries = entries_of(path)
    entries["leaf_1.npy"] = entries["leaf_1.npy"][:-4] + np.float32(1.5).tobytes()
    craft(path, entries)  # zipfile computes the CRC of the altered entry
    for read in (checkpoint.read, lambda p: checkpoint.load(p, like={"a": np.ones(3, np.float32),
                                                                      "b": np.zeros(2)})):
        with pytest.raises(DataError, match="does not match the digest") as info:
            read(path)
        assert str(path) in str(info.value)


def test_the_digest_is_stored_in_tree_json(tmp_path):
    tree = {"a": np.ones(3, np.float32), "b": np.zeros(2)}
    path = save_pair(tmp_path, tree["a"], tree["b"])
    assert json.loads(entries_of(path)["tree.json"])["digest"] == checkpoint.digest(tree)


def test_an_npy_header_numpy_cannot_parse_is_a_data_error(tmp_path):
    text = b"{'descr': '<f4', 'fortran_order': False, 'shape': ((3,), }"
    npy = np.lib.format.MAGIC_PREFIX + b"\x01\x00" + struct.pack("<H", len(text) + 1) + text + b"\n"
    path = craft(tmp_path / "header.npz", {"tree.json": header([ROOT, leaf("['a']", (3,))]),
                                           "leaf_0.npy": npy + bytes(12)})
    with pytest.raises(DataError, match=r"entry leaf_0 \(\['a'\]\) cannot be read"):
        checkpoint.read(path)

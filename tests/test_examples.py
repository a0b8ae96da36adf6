"""The examples run end to end: examples/train_cnn.py trains a stax CNN on the bundled
8x8 digits (short run here; the full run, >= 97% test accuracy, is marked slow), writes
a checkpoint that reloads and resumes, reads IDX (MNIST) files; examples/vgg16.py
prints VGG16's layer table with 138,357,544 parameters, checked against an independent
count from the architecture's arithmetic."""

import gzip
import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from functrace import optimizers, random
from functrace.tree_util import tree_leaves, tree_structure

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
ACCURACY = re.compile(r"^final test accuracy: ([0-9.]+) \((\d+)/(\d+)\)$", re.M)


def _load_example(name):
    """Imports an example as a module, keeping this process's environment as it was
    (an example may set variables in os.environ for its own process)."""
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    environ = dict(os.environ)
    try:
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(environ)
    return module


train_cnn = _load_example("train_cnn")
vgg16 = _load_example("vgg16")


def run_example(name, *args, timeout=300):
    proc = subprocess.run([sys.executable, str(EXAMPLES / f"{name}.py"), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{name}.py {args} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def final_accuracy(stdout):
    match = ACCURACY.search(stdout)
    assert match, f"no 'final test accuracy' line in:\n{stdout}"
    acc, correct, total = float(match[1]), int(match[2]), int(match[3])
    assert abs(acc - correct / total) < 1e-4
    return acc


# ---------------------------------------------------------------------------
# train_cnn.py on the digits

@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """Three epochs on the digits (about 5 s with a warm kernel cache)."""
    ckpt = tmp_path_factory.mktemp("cnn") / "ckpt.npz"
    stdout = run_example("train_cnn", "--epochs", 3, "--checkpoint", ckpt)
    return stdout, ckpt


def _template(image_size=8, lr=2e-3):
    init_fun, _ = train_cnn.make_cnn(image_size)
    _, params = init_fun(random.PRNGKey(0), (-1, image_size, image_size, 1))
    opt_init, _, _ = optimizers.adam(lr)
    return params, opt_init(params)


def test_short_run_trains(short_run):
    stdout, _ = short_run
    assert final_accuracy(stdout) >= 0.9, stdout
    epochs = re.findall(r"^epoch +(\d+) +loss ([0-9.]+) +train acc ([0-9.]+) +test acc ([0-9.]+)",
                        stdout, re.M)
    assert [int(e[0]) for e in epochs] == [1, 2, 3]
    losses = [float(e[1]) for e in epochs]
    assert losses[-1] < losses[0] < np.log(10) + 0.1
    assert "1438 train / 359 test" in stdout  # the stratified 80/20 split of 1797 images


def test_checkpoint_reloads_into_the_same_structure(short_run):
    _, ckpt = short_run
    assert ckpt.is_file()
    params, opt_state = _template()
    loaded = optimizers.load_checkpoint(ckpt, like=(params, opt_state))  # raises on mismatch
    assert loaded["step"] == 3 * (1438 // 64)
    assert tree_structure(loaded["params"]) == tree_structure(params)
    assert tree_structure(loaded["opt_state"]) == tree_structure(opt_state)
    _, _, get_params = optimizers.adam(2e-3)
    for saved, current in zip(tree_leaves(loaded["params"]),
                              tree_leaves(get_params(loaded["opt_state"])), strict=True):
        np.testing.assert_array_equal(saved, current)
    for saved, initial in zip(tree_leaves(loaded["params"]), tree_leaves(params), strict=True):
        assert saved.shape == initial.shape and saved.dtype == np.float32
    assert not np.array_equal(tree_leaves(loaded["params"])[0], tree_leaves(params)[0])


def test_resume_continues_exactly(short_run, tmp_path):
    """Two epochs, then --resume for one more, equals the three epochs of short_run.
    (Subprocesses: the script limits OpenBLAS's threads before NumPy loads, which an
    in-process run could not do, and which matters on a busy machine.)"""
    one_go_stdout, one_go = short_run
    split = tmp_path / "b.npz"
    run_example("train_cnn", "--epochs", 2, "--quiet", "--checkpoint", split)
    out = run_example("train_cnn", "--epochs", 1, "--resume", "--checkpoint", split)
    assert "resumed from" in out and "at step 44 (epoch 2)" in out
    assert re.search(r"^epoch +3 ", out, re.M)
    a, b = optimizers.load_checkpoint(one_go), optimizers.load_checkpoint(split)
    assert a["step"] == b["step"] == 66
    for x, y in zip(tree_leaves(a["opt_state"]), tree_leaves(b["opt_state"]), strict=True):
        np.testing.assert_array_equal(x, y)
    assert final_accuracy(out) == final_accuracy(one_go_stdout)


def test_resume_errors(tmp_path):
    missing = tmp_path / "none.npz"
    proc = subprocess.run([sys.executable, str(EXAMPLES / "train_cnn.py"), "--resume",
                           "--checkpoint", str(missing)], capture_output=True, text=True)
    assert proc.returncode != 0 and "no checkpoint" in proc.stderr
    params, opt_state = _template(image_size=28)  # another model's checkpoint
    wrong = tmp_path / "mnist.npz"
    optimizers.save_checkpoint(wrong, params=params, opt_state=opt_state, step=5)
    with pytest.raises(SystemExit, match="does not match"):
        train_cnn.main(["--resume", "--epochs", "0", "--checkpoint", str(wrong)])


@pytest.mark.slow
def test_default_run_reaches_97_percent(tmp_path):
    stdout = run_example("train_cnn", "--checkpoint", tmp_path / "ckpt.npz")
    assert final_accuracy(stdout) >= 0.97, stdout
    assert (tmp_path / "ckpt.npz").is_file()


def test_stratified_split():
    labels = np.repeat(np.arange(10), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180])
    key = random.PRNGKey(3)
    train, test = train_cnn.stratified_split(key, labels)
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([train, test])), np.arange(1797))
    for c in range(10):
        assert (labels[test] == c).sum() == round(0.2 * (labels == c).sum())
    again = train_cnn.stratified_split(key, labels)
    np.testing.assert_array_equal(again[1], test)
    other = train_cnn.stratified_split(random.PRNGKey(4), labels)
    assert not np.array_equal(other[1], test)


def test_normalise_uses_training_statistics():
    rng = np.random.default_rng(0)
    train = rng.integers(0, 17, (50, 8, 8)).astype(np.uint8)
    test = rng.integers(0, 17, (20, 8, 8)).astype(np.uint8)
    x, t = train_cnn.normalise(train, test, 16.0)
    assert x.shape == (50, 8, 8, 1) and t.shape == (20, 8, 8, 1) and x.dtype == np.float32
    assert abs(x.mean()) < 1e-5 and abs(x.std() - 1) < 1e-4
    scaled = train / 16.0
    np.testing.assert_allclose(t[..., 0], (test / 16.0 - scaled.mean()) / scaled.std(),
                               rtol=1e-5, atol=1e-5)


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_text_progress_without_tqdm(monkeypatch):
    monkeypatch.setattr(train_cnn, "tqdm", None)
    assert isinstance(train_cnn.progress_bar(3, "epoch 1"), train_cnn.TextProgress)
    assert train_cnn.progress_bar(3, "epoch 1", enabled=False) is None
    out = _Terminal()
    bar = train_cnn.TextProgress(4, "epoch 1", file=out)
    for _ in range(4):
        bar.set_postfix_str("loss 0.5")
        bar.update(1)
    assert bar.line() == "epoch 1 [" + "#" * 24 + "] 4/4 loss 0.5"
    bar.close()
    assert out.getvalue().startswith("\repoch 1 [") and out.getvalue().endswith("\r")
    quiet = io.StringIO()  # not a terminal: nothing is drawn
    bar = train_cnn.TextProgress(2, "x", file=quiet)
    bar.update(2)
    bar.close()
    assert quiet.getvalue() == ""


# ---------------------------------------------------------------------------
# IDX files

def write_idx(path, array, code, compress=False):
    """An IDX file written independently of the reader: magic, dims, big-endian data."""
    array = np.asarray(array)
    big = array.astype(array.dtype.newbyteorder(">"))
    header = bytes([0, 0, code, array.ndim]) + b"".join(
        int(d).to_bytes(4, "big") for d in array.shape)
    data = header + big.tobytes()
    Path(path).write_bytes(gzip.compress(data) if compress else data)
    return data


@pytest.mark.parametrize("dtype,code", [(np.uint8, 0x08), (np.int8, 0x09), (np.int16, 0x0B),
                                        (np.int32, 0x0C), (np.float32, 0x0D),
                                        (np.float64, 0x0E)])
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trip(tmp_path, dtype, code, compress):
    rng = np.random.default_rng(code)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    array = (rng.integers(info.min, info.max, (3, 5, 4), endpoint=True).astype(dtype) if info
             else rng.standard_normal((3, 5, 4)).astype(dtype))
    path = tmp_path / ("a.idx.gz" if compress else "a.idx")
    write_idx(path, array, code, compress)
    got = train_cnn.read_idx(path)
    assert got.dtype == np.dtype(dtype) and got.dtype.isnative and got.shape == (3, 5, 4)
    np.testing.assert_array_equal(got, array)


def test_read_idx_known_bytes(tmp_path):
    # int16 [[1, -2, 300]]: type 0x0B, 2 dims (1, 3), then big-endian values
    raw = bytes.fromhex("00000b02" "00000001" "00000003" "0001" "fffe" "012c")
    (tmp_path / "x").write_bytes(raw)
    got = train_cnn.read_idx(tmp_path / "x")
    np.testing.assert_array_equal(got, np.array([[1, -2, 300]], np.int16))


@pytest.mark.parametrize("raw,message", [
    (b"\x01\x00\x08\x01\x00\x00\x00\x01\x07", "two zero bytes"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x07", "type code 0x07"),
    (b"\x00\x00\x08\x02\x00\x00\x00\x01", "truncated IDX header"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x03\x01\x02", "needs 11 bytes, the file has 10"),
    (b"\x00\x00\x08\x01\x00\x00\x00\x01\x01\x02", "needs 9 bytes, the file has 10"),
    (b"", "two zero bytes"),
])
def test_read_idx_rejects_malformed_files(tmp_path, raw, message):
    (tmp_path / "bad").write_bytes(raw)
    with pytest.raises(ValueError, match=re.escape(message)):
        train_cnn.read_idx(tmp_path / "bad")


def _synthetic_mnist(directory, n_train=192, n_test=64, size=28):
    """Tiny MNIST-like IDX files: class c is a bright bar at rows 2c..2c+5, plus noise;
    images gzip-compressed, labels not (both spellings are read)."""
    rng = np.random.default_rng(0)
    directory.mkdir(exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, size, size)).astype(np.uint8)
        for i, c in enumerate(labels):
            images[i, 2 * c:2 * c + 6, 4:24] = 220
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images, 0x08, compress=True)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", labels, 0x08)
    return directory


def test_load_mnist(tmp_path):
    directory = _synthetic_mnist(tmp_path / "mnist", n_train=12, n_test=5)
    train_x, train_y, test_x, test_y = train_cnn.load_mnist(directory)
    assert train_x.shape == (12, 28, 28) and train_y.shape == (12,)
    assert test_x.shape == (5, 28, 28) and test_x.dtype == np.uint8
    (directory / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        train_cnn.load_mnist(directory)


def test_train_on_mnist_idx_files(tmp_path):
    directory = _synthetic_mnist(tmp_path / "mnist")
    stdout = run_example("train_cnn", "--mnist", directory, "--epochs", 2, "--batch-size", 32,
                         "--checkpoint", tmp_path / "mnist.npz")
    assert "MNIST 28x28" in stdout and "192 train / 64 test" in stdout
    assert final_accuracy(stdout) >= 0.5  # the synthetic classes are easy to separate
    params, opt_state = _template(image_size=28)
    assert optimizers.load_checkpoint(tmp_path / "mnist.npz", like=(params, opt_state))


# ---------------------------------------------------------------------------
# vgg16.py

def vgg16_param_count():
    """VGG16's parameters from its architecture alone: 3x3 convs with biases, then
    25088 -> 4096 -> 4096 -> 1000 dense layers with biases."""
    channels = [3, 64, 64, 128, 128, 256, 256, 256, 512, 512, 512, 512, 512, 512]
    convs = [3 * 3 * cin * cout + cout for cin, cout in zip(channels, channels[1:])]
    side = 224 // 2 ** 5  # five 2x2 max pools
    dims = [side * side * 512, 4096, 4096, 1000]
    dense = [din * dout + dout for din, dout in zip(dims, dims[1:])]
    return convs, dense


def _table_counts(stdout):
    return [int(n.replace(",", "")) for n in re.findall(
        r"^(?:conv\d_\d|fc\d).* ([\d,]+)$", stdout, re.M)]


def test_vgg16_independent_count():
    convs, dense = vgg16_param_count()
    assert len(convs) == 13 and len(dense) == 3
    assert sum(convs) + sum(dense) == 138_357_544  # the lesson's figure's total


def test_vgg16_table_and_training_step():
    stdout = run_example("vgg16", "--image-size", 32, "--batch", 1, "--steps", 1)
    total = int(re.search(r"^Total params: ([\d,]+)$", stdout, re.M)[1].replace(",", ""))
    convs, dense = vgg16_param_count()
    assert total == sum(convs) + sum(dense) == 138_357_544
    assert _table_counts(stdout) == convs + dense
    assert re.search(r"^pool5 \(max 2x2\) +\(7, 7, 512\) +0$", stdout, re.M)
    assert re.search(r"^flatten +\(25088,\) +0$", stdout, re.M)
    assert "evaluated abstractly" in stdout
    assert re.search(r"^first call \(trace \+ jit compile \+ one step\): [\d.]+ s$", stdout, re.M)
    assert re.search(r"^time per step: [\d.]+ ms .*compile time: [\d.]+ s; loss [\d.]+$",
                     stdout, re.M)


def test_vgg16_layers_against_stax():
    """The model is stax's: 13 Conv+Relu, 5 pools, the dense head, shapes per layer."""
    layers = vgg16.vgg16()
    init_fun, _ = vgg16.stax.serial(*(layer for _, layer in layers))
    out_shape, params = vgg16.eval_init(init_fun, random.PRNGKey(0), (-1, 224, 224, 3))
    assert out_shape == (-1, 1000)
    rows = vgg16.layer_table(layers, params, (-1, 224, 224, 3), random.PRNGKey(0))
    assert sum(name.startswith("conv") for name, _, _ in rows) == 13
    assert [s for name, s, _ in rows if name.startswith("pool")] == [
        (-1, 112, 112, 64), (-1, 56, 56, 128), (-1, 28, 28, 256), (-1, 14, 14, 512),
        (-1, 7, 7, 512)]
    assert vgg16.count_params(params) == 138_357_544


@pytest.mark.slow
def test_vgg16_real_initialisation():
    """``--init``: the 138M float32 params drawn for real (about 15 s and 3 GB)."""
    stdout = run_example("vgg16", "--init", "--steps", 0, timeout=600)
    assert re.search(r"^Total params: 138,357,544$", stdout, re.M)
    assert "initialised in" in stdout
    convs, dense = vgg16_param_count()
    assert _table_counts(stdout) == convs + dense

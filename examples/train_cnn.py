"""Train a small convolutional network with stax and Adam: the project's main job.

By default it trains on the bundled UCI 8x8 handwritten digits (1,797 images, no
network needed) with a fixed, stratified 80/20 split, and reaches about 98% test
accuracy in a few seconds. ``--mnist DIR`` trains the same kind of network on MNIST's
IDX files (``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``,
``t10k-images-idx3-ubyte[.gz]``, ``t10k-labels-idx1-ubyte[.gz]``) instead.

The script is written as a JAX ``stax`` script would be: ``stax.serial`` builds
``init_fun, predict``; ``optimizers.adam`` gives ``opt_init, opt_update, get_params``;
one ``@ft.jit`` function computes ``ft.value_and_grad`` of the loss and applies the
update. A checkpoint (parameters, optimizer state and step) is written after every
epoch; ``--resume`` continues from it.

Run:
    python examples/train_cnn.py                       # digits, 20 epochs
    python examples/train_cnn.py --epochs 5 --resume   # 5 more epochs
    python examples/train_cnn.py --mnist ~/data/mnist --checkpoint checkpoints/mnist.npz
"""

from __future__ import annotations

import argparse
import gzip
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import optimizers, random, stax

try:  # tqdm is optional: a one-line text progress display stands in for it
    from tqdm import tqdm
except ImportError:
    tqdm = None

DIGITS = Path(__file__).resolve().parent / "data" / "digits_8x8.npz"
DEFAULT_CHECKPOINT = os.path.join("checkpoints", "cnn_digits.npz")
NUM_CLASSES = 10
EVAL_BATCH = 512  # evaluation runs in padded chunks of this size: one compiled shape


# ---------------------------------------------------------------------------
# data: IDX files (MNIST) and the bundled digits

# IDX type codes (http://yann.lecun.com/exdb/mnist/, "THE IDX FILE FORMAT"); big-endian
_IDX_DTYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path) -> np.ndarray:
    """Reads an IDX file (gzip-compressed or not) into a native-endian NumPy array.

    The format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C
    int32, 0x0D float32, 0x0E float64), the number of dimensions, then one big-endian
    uint32 per dimension and the data, big-endian, in C order.

    Raises:
        ValueError: the file is not a well-formed IDX file (bad magic, unknown type,
            truncated, or trailing bytes).
    """
    path = Path(path)
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == _GZIP_MAGIC:  # detected by content, whatever the file is called
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path}: not an IDX file (it must start with two zero bytes)")
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    dtype = np.dtype(_IDX_DTYPES[code])
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions announced)")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", ndim, offset=4))
    count = math.prod(shape)
    if len(data) != offset + count * dtype.itemsize:
        raise ValueError(f"{path}: an IDX array of shape {shape} and type {dtype.name} needs "
                         f"{offset + count * dtype.itemsize} bytes, the file has {len(data)}")
    array = np.frombuffer(data, dtype, count, offset=offset).reshape(shape)
    return array.astype(dtype.newbyteorder("="))


def _find_idx(directory: Path, name: str) -> Path:
    """``name``, ``name.gz`` or the common ``train-images.idx3-ubyte`` spelling."""
    head, _, tail = name.rpartition("-")
    for candidate in (name, name + ".gz", f"{head}.{tail}", f"{head}.{tail}.gz"):
        if (directory / candidate).is_file():
            return directory / candidate
    raise FileNotFoundError(f"{directory}: no {name}[.gz] (expected MNIST's four IDX files)")


def load_mnist(directory):
    """MNIST's standard split from its four IDX files in ``directory``.

    Returns:
        ``(train_images, train_labels, test_images, test_labels)``: images uint8
        ``(N, H, W)``, labels ``(N,)``.
    """
    directory = Path(directory)
    arrays = [read_idx(_find_idx(directory, name)) for name in (
        "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")]
    for images, labels in (arrays[:2], arrays[2:]):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise ValueError(f"{directory}: expected images (N, H, W) and labels (N,), got "
                             f"{images.shape} and {labels.shape}")
        if labels.size and not 0 <= labels.min() <= labels.max() < NUM_CLASSES:
            raise ValueError(f"{directory}: labels must be in 0..{NUM_CLASSES - 1}")
    return tuple(arrays)


def stratified_split(key, labels, test_fraction=0.2):
    """Indices ``(train, test)``: in each class, a seeded permutation's first
    ``round(test_fraction * count)`` images go to the test set."""
    labels = np.asarray(labels)
    train, test = [], []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        shuffled = np.asarray(random.permutation(random.fold_in(key, int(c)), members))
        n_test = int(round(test_fraction * len(members)))
        test.append(shuffled[:n_test])
        train.append(shuffled[n_test:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def normalise(train_images, test_images, max_value):
    """Scales to [0, 1], then standardises with the training set's mean and standard
    deviation; returns float32 NHWC arrays ``(N, H, W, 1)``."""
    train = np.asarray(train_images, np.float32) / max_value
    test = np.asarray(test_images, np.float32) / max_value
    mean, std = train.mean(), train.std()
    return ((train - mean) / std)[..., None], ((test - mean) / std)[..., None]


def load_data(args, key):
    """``(name, train_x, train_y, test_x, test_y)`` with normalised NHWC images."""
    if args.mnist:
        train_images, train_labels, test_images, test_labels = load_mnist(args.mnist)
        name = f"MNIST {train_images.shape[1]}x{train_images.shape[2]} (standard split)"
        max_value = 255.0
    else:
        with np.load(DIGITS) as data:
            images, labels = data["images"], data["labels"]
        train_idx, test_idx = stratified_split(key, labels)
        train_images, train_labels = images[train_idx], labels[train_idx]
        test_images, test_labels = images[test_idx], labels[test_idx]
        name = f"digits 8x8 (stratified 80/20 split, seed {args.seed})"
        max_value = 16.0
    train_x, test_x = normalise(train_images, test_images, max_value)
    return (name, train_x, train_labels.astype(np.int32), test_x,
            test_labels.astype(np.int32))


# ---------------------------------------------------------------------------
# the model

def make_cnn(image_size, num_classes=NUM_CLASSES):
    """Conv(32)-Relu-Conv(64)-Relu-MaxPool-Flatten-Dense(128)-Relu-Dense-LogSoftmax,
    3x3 'SAME' convolutions and a 2x2 max pool (151,306 parameters on 8x8 digits).

    For images of 16 pixels or more (MNIST's 28x28) a 2x2 max pool also follows the
    first convolution, so the second one works on 14x14 maps and the dense layer sees
    7x7x64 features.
    """
    layers = [stax.Conv(32, (3, 3), padding="SAME"), stax.Relu]
    if image_size >= 16:
        layers.append(stax.MaxPool((2, 2), strides=(2, 2)))
    layers += [
        stax.Conv(64, (3, 3), padding="SAME"), stax.Relu,
        stax.MaxPool((2, 2), strides=(2, 2)),
        stax.Flatten,
        stax.Dense(128), stax.Relu,
        stax.Dense(num_classes), stax.LogSoftmax,
    ]
    return stax.serial(*layers)


# ---------------------------------------------------------------------------
# progress display

class TextProgress:
    """What the script shows when tqdm is not installed: one line on stderr, rewritten
    in place (at most ten times a second), only when stderr is a terminal."""

    def __init__(self, total, desc, file=None):
        self.total, self.desc, self.n, self.postfix = total, desc, 0, ""
        self.file = file or sys.stderr
        self.enabled = self.file.isatty()
        self._last = 0.0

    def update(self, n=1):
        self.n += n
        now = time.perf_counter()
        if now - self._last >= 0.1 or self.n >= self.total:
            self._last = now
            self._draw()

    def set_postfix_str(self, s, refresh=True):
        self.postfix = s

    def line(self) -> str:
        width = 24
        filled = width * self.n // max(self.total, 1)
        bar = "#" * filled + "." * (width - filled)
        return f"{self.desc} [{bar}] {self.n}/{self.total} {self.postfix}".rstrip()

    def _draw(self):
        if self.enabled:
            self.file.write("\r" + self.line())
            self.file.flush()

    def close(self):
        if self.enabled:  # erase the line: the epoch summary replaces it
            self.file.write("\r" + " " * len(self.line()) + "\r")
            self.file.flush()


def progress_bar(total, desc, enabled=True):
    if not enabled:
        return None
    if tqdm is not None:
        # disable=None: tqdm draws only on a terminal, like TextProgress
        return tqdm(total=total, desc=desc, unit="batch", leave=False, file=sys.stderr,
                    dynamic_ncols=True, disable=None)
    return TextProgress(total, desc)


# ---------------------------------------------------------------------------
# training

def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=20,
                        help="epochs to train (more epochs with --resume) (default 20)")
    parser.add_argument("--batch-size", type=int, default=64, help="(default 64)")
    parser.add_argument("--lr", type=float, default=2e-3, help="Adam step size (default 2e-3)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seeds the split, the initialisation and the shuffling")
    parser.add_argument("--checkpoint", default=DEFAULT_CHECKPOINT,
                        help=f"checkpoint file, written after every epoch "
                             f"(default {DEFAULT_CHECKPOINT})")
    parser.add_argument("--resume", action="store_true",
                        help="continue from --checkpoint (same data, seed and model)")
    parser.add_argument("--mnist", metavar="DIR",
                        help="train on MNIST's IDX files in DIR instead of the 8x8 digits")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar and no per-epoch lines")
    args = parser.parse_args(argv)
    if args.epochs < 0:
        parser.error("--epochs must be >= 0")
    if args.batch_size < 1:
        parser.error("--batch-size must be >= 1")
    if not args.lr > 0:
        parser.error("--lr must be > 0")
    return args


def main(argv=None):
    args = parse_args(argv)
    t_start = time.perf_counter()
    say = (lambda *a: None) if args.quiet else print
    key = random.PRNGKey(args.seed)
    split_key, init_key, shuffle_key = random.split(key, 3)

    try:
        name, train_x, train_y, test_x, test_y = load_data(args, split_key)
    except (OSError, ValueError) as e:
        sys.exit(f"train_cnn: cannot load the data: {e}")
    num_train = len(train_x)
    batch_size = min(args.batch_size, num_train)
    steps_per_epoch = num_train // batch_size  # the remainder is dropped: one jit shape
    train_targets = np.eye(NUM_CLASSES, dtype=np.float32)[train_y]
    say(f"data: {name}: {num_train} train / {len(test_x)} test images, "
        f"inputs {train_x.shape[1:]} (NHWC)")

    init_fun, predict = make_cnn(train_x.shape[1])
    opt_init, opt_update, get_params = optimizers.adam(args.lr)

    def loss(params, batch):
        inputs, targets = batch
        preds = predict(params, inputs)
        return -fnp.mean(fnp.sum(preds * targets, axis=1))

    @ft.jit
    def update(i, opt_state, batch):
        params = get_params(opt_state)
        value, grads = ft.value_and_grad(loss)(params, batch)
        return opt_update(i, grads, opt_state), value

    @ft.jit
    def predicted_class(params, inputs):
        return fnp.argmax(predict(params, inputs), axis=1)

    def accuracy(params, images, labels):
        correct = 0
        for start in range(0, len(images), EVAL_BATCH):
            chunk = images[start:start + EVAL_BATCH]
            padded = np.zeros((EVAL_BATCH,) + chunk.shape[1:], np.float32)
            padded[:len(chunk)] = chunk
            guesses = np.asarray(predicted_class(params, padded))[:len(chunk)]
            correct += int(np.sum(guesses == labels[start:start + len(chunk)]))
        return correct / max(len(images), 1), correct

    _, init_params = init_fun(init_key, (-1,) + train_x.shape[1:])
    opt_state = opt_init(init_params)
    step = 0
    if args.resume:
        if not os.path.exists(args.checkpoint):
            sys.exit(f"train_cnn: --resume: no checkpoint at {args.checkpoint}")
        try:
            ckpt = optimizers.load_checkpoint(args.checkpoint, like=(init_params, opt_state))
        except optimizers.CheckpointError as e:
            sys.exit(f"train_cnn: --resume: {e} (was it written for another data set?)")
        opt_state, step = ckpt["opt_state"], int(ckpt["step"] or 0)
        print(f"resumed from {args.checkpoint} at step {step} "
              f"(epoch {step // steps_per_epoch})")
    first_epoch = step // steps_per_epoch
    nparams = sum(int(np.size(p)) for p in ft.tree_util.tree_leaves(init_params))
    say(f"model: {nparams:,} parameters; Adam lr {args.lr}, batch {batch_size}, "
        f"{steps_per_epoch} steps per epoch")

    first_step_s = None
    for epoch in range(first_epoch, first_epoch + args.epochs):
        t_epoch = time.perf_counter()
        perm = np.asarray(random.permutation(random.fold_in(shuffle_key, epoch), num_train))
        bar = progress_bar(steps_per_epoch, f"epoch {epoch + 1}", enabled=not args.quiet)
        total_loss = 0.0
        for b in range(steps_per_epoch):
            idx = perm[b * batch_size:(b + 1) * batch_size]
            t0 = time.perf_counter()
            opt_state, value = update(step, opt_state, (train_x[idx], train_targets[idx]))
            if first_step_s is None:
                first_step_s = time.perf_counter() - t0
            step += 1
            total_loss += float(value)
            if bar is not None:
                bar.set_postfix_str(f"loss {float(value):.4f}", refresh=False)
                bar.update(1)
        if bar is not None:
            bar.close()
        params = get_params(opt_state)
        optimizers.save_checkpoint(_ensure_dir(args.checkpoint), params=params,
                                   opt_state=opt_state, step=step)
        train_acc, _ = accuracy(params, train_x, train_y)
        test_acc, _ = accuracy(params, test_x, test_y)
        say(f"epoch {epoch + 1:3d}  loss {total_loss / steps_per_epoch:.4f}  "
            f"train acc {train_acc:.4f}  test acc {test_acc:.4f}  "
            f"({time.perf_counter() - t_epoch:.2f} s)")

    test_acc, correct = accuracy(get_params(opt_state), test_x, test_y)
    if first_step_s is not None:
        print(f"first training step (trace + jit compile + run): {first_step_s:.2f} s")
        print(f"checkpoint: {args.checkpoint} (step {step})")
    print(f"total time: {time.perf_counter() - t_start:.1f} s")
    print(f"final test accuracy: {test_acc:.4f} ({correct}/{len(test_x)})")
    return test_acc


def _ensure_dir(path):
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    return path


if __name__ == "__main__":
    main()

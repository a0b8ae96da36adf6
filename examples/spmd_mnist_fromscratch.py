"""SPMD data parallelism from scratch, in the style of JAX's
``examples/spmd_mnist_classifier_fromscratch.py``: an MLP written with ``functrace.numpy``,
``pmap`` over the devices with ``lax.psum`` of the gradients, parameters *replicated*
(a leading device axis on every array, ``tree_map`` to add and drop it) and a jitted
accuracy on one replica. No layers library, no optimizer library.

JAX's own script runs on functrace with only its imports and data loading changed
(``jax`` -> ``functrace``, ``jax.numpy`` -> ``functrace.numpy``,
``jax.scipy.special.logsumexp`` -> ``functrace.nn.logsumexp``); this file is the same
program written for this repository, on the bundled 8x8 digits by default.

Run:
    FUNCTRACE_NUM_CPU_DEVICES=2 python examples/spmd_mnist_fromscratch.py  # 1 process
    mpiexec -n 2 python examples/spmd_mnist_fromscratch.py                # 2 processes

With several processes each one reads its own share of every global batch and feeds
its local devices; ``psum`` adds the gradients of all devices of all processes.
"""

from __future__ import annotations

import argparse
import time
from functools import partial
from pathlib import Path

import numpy as onp

import functrace as ft
import functrace.numpy as np
from functrace import distributed, grad, jit, lax, pmap
from functrace.nn import logsumexp
from functrace.tree_util import tree_map

DIGITS = Path(__file__).resolve().parent / "data" / "digits_8x8.npz"


def digits():
    """(train_x, train_y, test_x, test_y): 64 features in [0, 1], one-hot labels; the
    first 1,400 images train, the rest test."""
    with onp.load(DIGITS) as d:
        x = d["images"].reshape(len(d["images"]), -1).astype(onp.float32) / 16.0
        y = onp.eye(10, dtype=onp.float32)[d["labels"]]
    return x[:1400], y[:1400], x[1400:], y[1400:]


def init_params(scale, sizes, rng):
    return [(scale * rng.standard_normal((m, n)).astype(onp.float32),
             scale * rng.standard_normal(n).astype(onp.float32))
            for m, n in zip(sizes[:-1], sizes[1:])]


def predict(params, inputs):
    h = inputs
    for w, b in params[:-1]:
        h = np.tanh(np.dot(h, w) + b)
    w, b = params[-1]
    logits = np.dot(h, w) + b
    return logits - logsumexp(logits, axis=1, keepdims=True)


def loss(params, batch):
    inputs, targets = batch
    return -np.mean(np.sum(predict(params, inputs) * targets, axis=1))


@jit
def accuracy(params, batch):
    inputs, targets = batch
    return np.mean(np.argmax(predict(params, inputs), axis=1) == np.argmax(targets, axis=1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=128, help="global batch")
    parser.add_argument("--step-size", type=float, default=0.1)
    args = parser.parse_args(argv)
    distributed.initialize()
    nproc, rank = ft.process_count(), ft.process_index()
    ndev = ft.local_device_count()  # this process feeds its own devices
    train_x, train_y, test_x, test_y = digits()
    batches_per_epoch = len(train_x) // args.batch_size
    share = args.batch_size // nproc
    per_device = share // ndev
    # the gradient of the global batch's mean loss: each device's mean, psum, / devices
    scale = 1.0 / ft.device_count()

    @partial(pmap, axis_name="batch")
    def spmd_update(params, batch):
        grads = grad(loss)(params, batch)
        grads = [(lax.psum(dw, "batch"), lax.psum(db, "batch")) for dw, db in grads]
        return [(w - args.step_size * scale * dw, b - args.step_size * scale * db)
                for (w, b), (dw, db) in zip(params, grads)]

    params = init_params(0.1, [64, 128, 128, 10], onp.random.default_rng(0))
    replicated = tree_map(lambda x: onp.broadcast_to(x, (ndev,) + x.shape), params)
    rng = onp.random.default_rng(1)  # the same shuffle on every process
    for epoch in range(args.epochs):
        start = time.perf_counter()
        perm = rng.permutation(len(train_x))
        for i in range(batches_per_epoch):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            mine = idx[rank * share:(rank + 1) * share]
            batch = (train_x[mine].reshape(ndev, per_device, -1),
                     train_y[mine].reshape(ndev, per_device, -1))
            replicated = spmd_update(replicated, batch)
        one = tree_map(lambda x: x[0], replicated)
        if rank == 0:
            print(f"epoch {epoch} in {time.perf_counter() - start:0.2f} s: train accuracy "
                  f"{float(accuracy(one, (train_x, train_y))):.4f}, test accuracy "
                  f"{float(accuracy(one, (test_x, test_y))):.4f}", flush=True)
    return tree_map(lambda x: x[0], replicated)


if __name__ == "__main__":
    main()

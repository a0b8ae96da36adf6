"""The ``perexample`` section: a DP-SGD step, per-example clipped gradients (issue 12 item 5).

JAX's own DP-SGD example (``examples/differentially_private_sgd.py``: a stax CNN on
MNIST, ``vmap`` of ``grad`` over single-example batches, each gradient clipped to an L2
norm, summed, noised and averaged), ported to functrace with its imports changed, at
batch 64 under ``jit``; the same step in JAX (``jax.jit``) and in PyTorch
(``torch.func.vmap(torch.func.grad(...))``, the model written NCHW with the same
weights). Samples alternate between the three in one process; medians and ratios are
printed. Before timing, functrace's clipped per-example gradients are checked against
JAX's on the same weights and inputs.

``python -m benchmarks.perexample [--quick]``; ``python -m benchmarks --only perexample``.
Run JAX on the CPU: ``JAX_PLATFORMS=cpu``.
"""

from __future__ import annotations

import argparse

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, random, stax, tree_util

from .harness import time_alternating

try:
    import torch
    import torch.func
except ImportError:  # pragma: no cover - optional
    torch = None
try:
    import jax
    import jax.numpy as jnp
    from jax.example_libraries import stax as jstax
except ImportError:  # pragma: no cover - optional
    jax = None

BATCH, CLIP, NOISE = 64, 1.0, 1.1


def _layers(s):
    """The example's network in a stax module ``s`` (functrace's or JAX's)."""
    return s.serial(s.Conv(16, (8, 8), padding="SAME", strides=(2, 2)), s.Relu,
                    s.MaxPool((2, 2), (1, 1)),
                    s.Conv(32, (4, 4), padding="VALID", strides=(2, 2)), s.Relu,
                    s.MaxPool((2, 2), (1, 1)), s.Flatten, s.Dense(32), s.Relu, s.Dense(10))


def dp_functions(s, np_, grad, vmap, tree_util_, stop_gradient, normal):
    """``(init, private_grad, clipped_grads)`` of the example, written once for both
    functrace and JAX (the example's code with its imports as arguments)."""
    init_random_params, predict = _layers(s)

    def loss(params, batch):
        inputs, targets = batch
        logits = s.logsoftmax(predict(params, inputs))
        return -np_.mean(np_.sum(logits * targets, 1))

    def _clipped_grad(params, single_example_batch):
        grads = grad(loss)(params, single_example_batch)
        nonempty_grads, tree_def = tree_util_.tree_flatten(grads)
        total_grad_norm = np_.linalg.norm(
            np_.array([np_.linalg.norm(neg.ravel()) for neg in nonempty_grads]))
        divisor = stop_gradient(np_.amax(np_.array((total_grad_norm / CLIP, 1.))))
        return tree_util_.tree_unflatten(tree_def, [g / divisor for g in nonempty_grads])

    def clipped_grads(params, batch):
        return vmap(lambda b: _clipped_grad(params, b))(batch)

    def private_grad(params, batch, rng):
        std_dev = CLIP * NOISE
        summed = tree_util_.tree_map(lambda n: np_.sum(n, 0), clipped_grads(params, batch))
        noised = tree_util_.tree_map(lambda n: n + std_dev * normal(rng, n.shape), summed)
        return tree_util_.tree_map(lambda n: n / float(BATCH), noised)

    return init_random_params, private_grad, clipped_grads


def functrace_dp():
    return dp_functions(stax, fnp, ft.grad, ft.vmap, tree_util, lax.stop_gradient,
                        random.normal)


def jax_dp():
    return dp_functions(jstax, jnp, jax.grad, jax.vmap, jax.tree_util,
                        jax.lax.stop_gradient, jax.random.normal)


def torch_dp(params):
    """The same step with ``torch.func``: NCHW/OIHW copies of the stax (NHWC/HWIO) weights."""
    tf = torch.nn.functional
    (w1, b1), _, _, (w2, b2), _, _, _, (w3, b3), _, (w4, b4) = params
    tp = [torch.from_numpy(np.ascontiguousarray(a)) for a in (
        np.transpose(w1, (3, 2, 0, 1)), np.ravel(b1), np.transpose(w2, (3, 2, 0, 1)),
        np.ravel(b2),
        # Flatten of NHWC (5... -> 4x4x32): permute the dense rows to NCHW order
        np.asarray(w3).reshape(4, 4, 32, 32).transpose(2, 0, 1, 3).reshape(512, 32), b3,
        w4, b4)]

    def loss(p, x, y):
        h = tf.relu(tf.conv2d(x, p[0], p[1], stride=2, padding=3))
        h = tf.max_pool2d(h, 2, 1)
        h = tf.relu(tf.conv2d(h, p[2], p[3], stride=2))
        h = tf.max_pool2d(h, 2, 1).flatten(1)
        h = tf.relu(h @ p[4] + p[5]) @ p[6] + p[7]
        return -(tf.log_softmax(h, 1) * y).sum(1).mean()

    def clipped(p, x, y):
        g = torch.func.grad(loss)(p, x, y)
        total = torch.linalg.norm(torch.stack([torch.linalg.norm(t.reshape(-1)) for t in g]))
        divisor = torch.clamp(total / CLIP, min=1.0).detach()
        return [t / divisor for t in g]

    per_example = torch.func.vmap(clipped, in_dims=(None, 0, 0))
    gen = torch.Generator().manual_seed(0)

    def step(x, y):
        gs = per_example(tp, x, y)
        return [(t.sum(0) + CLIP * NOISE * torch.randn(t.shape[1:], generator=gen)) / BATCH
                for t in gs]

    return step


def _data(rng):
    x = rng.standard_normal((BATCH, 1, 28, 28, 1)).astype(np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, BATCH)]
    return x, y


def bench_perexample(repeat: int, record=None) -> dict:
    rng = np.random.default_rng(0)
    x, y = _data(rng)
    init, private_grad, clipped = functrace_dp()
    _, params = init(random.PRNGKey(0), (-1, 28, 28, 1))
    params = tree_util.tree_map(np.asarray, params)
    step = ft.jit(private_grad)
    key = random.PRNGKey(1)
    fns = {"functrace": lambda: step(params, (x, y), key)}
    if jax is not None:
        jinit, jprivate, jclipped = jax_dp()
        jparams = jax.tree_util.tree_map(jnp.asarray, params)
        jstep = jax.jit(jprivate)
        jx, jy, jkey = jnp.asarray(x), jnp.asarray(y), jax.random.PRNGKey(1)
        fns["jax"] = lambda: jax.block_until_ready(jstep(jparams, (jx, jy), jkey))
        ours = tree_util.tree_leaves(ft.jit(clipped)(params, (x, y)))
        theirs = jax.tree_util.tree_leaves(jax.jit(jclipped)(jparams, (jx, jy)))
        err = max(float(np.max(np.abs(np.asarray(a) - np.asarray(b))))
                  for a, b in zip(ours, theirs, strict=True))
        print(f"DP-SGD clipped per-example gradients, functrace vs JAX: max abs diff {err:.1e}")
    if torch is not None:
        tstep = torch_dp(params)
        tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 1, 4, 2, 3)))
        ty = torch.from_numpy(y[:, None])
        fns["torch"] = lambda: tstep(tx, ty)
    times = time_alternating(fns, repeat)
    name = f"DP-SGD step b{BATCH} (torch = torch.func)"
    if record is not None:
        record(name, times)
    else:
        parts = [f"{name:38s} ft {times['functrace'] * 1e3:8.2f} ms"]
        for k in ("torch", "jax"):
            if k in times:
                label = "torch.func" if k == "torch" else k
                parts.append(f"{label} {times[k] * 1e3:8.2f} ms "
                             f"(x{times['functrace'] / times[k]:.2f})")
        print("  ".join(parts), flush=True)
    return times


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    args = parser.parse_args(argv)
    bench_perexample(5 if args.quick else 15)


if __name__ == "__main__":
    main()

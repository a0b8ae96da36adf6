"""The ``control`` section: loops written with ``lax`` control flow.

- an RNN-style ``lax.scan`` (1,000 steps, batch 32, hidden 128, ``tanh(h W + x U)``),
  forward and backward, against a PyTorch eager loop and JAX ``jit`` when installed;
- a scalar-carry ``fori_loop`` of 10,000 iterations under ``jit``, in us per iteration
  (issue 9's target: <= 2 us).
"""

from __future__ import annotations

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

from .harness import time_alternating

STEPS, BATCH, HIDDEN = 1000, 32, 128


def _rnn_functrace(w, u, xs):
    def loss(w, u, xs):
        h, _ = lax.scan(lambda h, x: (fnp.tanh(h @ w + x @ u), None),
                        np.zeros((BATCH, HIDDEN), np.float32), xs)
        return fnp.sum(h)
    step = ft.jit(ft.grad(loss, (0, 1)))
    return lambda: step(w, u, xs)


def _rnn_torch(torch, w, u, xs):
    wt, ut = torch.tensor(w, requires_grad=True), torch.tensor(u, requires_grad=True)
    xt = torch.tensor(xs)

    def step():
        wt.grad = ut.grad = None
        h = torch.zeros(BATCH, HIDDEN)
        for x in xt:
            h = torch.tanh(h @ wt + x @ ut)
        h.sum().backward()
    return step


def _rnn_jax(jax, w, u, xs):
    jnp = jax.numpy

    def loss(w, u, xs):
        h, _ = jax.lax.scan(lambda h, x: (jnp.tanh(h @ w + x @ u), None),
                            jnp.zeros((BATCH, HIDDEN), jnp.float32), xs)
        return jnp.sum(h)
    step = jax.jit(jax.grad(loss, (0, 1)))
    return lambda: jax.block_until_ready(step(w, u, xs))


def bench_control(repeat: int, torch=None, jax=None) -> dict:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((HIDDEN, HIDDEN)) * 0.05).astype(np.float32)
    u = (rng.standard_normal((HIDDEN, HIDDEN)) * 0.05).astype(np.float32)
    xs = rng.standard_normal((STEPS, BATCH, HIDDEN)).astype(np.float32)
    fns = {"functrace": _rnn_functrace(w, u, xs)}
    if torch is not None:
        fns["torch"] = _rnn_torch(torch, w, u, xs)
    if jax is not None:
        fns["jax"] = _rnn_jax(jax, w, u, xs)
    times = time_alternating(fns, repeat=repeat)
    parts = [f"{k} {v * 1e3:8.1f} ms" for k, v in times.items()]
    print(f"RNN scan fwd+bwd ({STEPS} steps, b{BATCH} h{HIDDEN}): " + "  ".join(parts))
    loop = ft.jit(lambda x: lax.fori_loop(0, 10_000, lambda i, c: c * 0.9999 + 0.001, x))
    t = time_alternating({"fori": lambda: loop(np.float32(1.0))}, repeat=repeat)["fori"]
    print(f"fori_loop scalar carry, 10,000 iterations under jit: {t / 1e4 * 1e6:.2f} us/iter "
          "(target <= 2 us)", flush=True)
    return {"rnn": times, "fori_us_per_iter": t / 1e4 * 1e6}

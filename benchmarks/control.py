"""The ``control`` section: loops written with ``lax`` control flow.

- an RNN-style ``lax.scan`` (1,000 steps, batch 32, hidden 128, ``tanh(h W + x U)``),
  forward and backward, against a PyTorch eager loop and JAX ``jit`` when installed
  (issue 9's target: <= 1.0x PyTorch eager);
- a scalar-carry ``fori_loop`` of 10,000 iterations under ``jit``, in us per iteration
  (issue 9's target: <= 2 us), against JAX ``jit``.

functrace runs each loop as one Numba function (``backends/numba_cpu/native_loop.py``)
and, for comparison, stepped from Python (``config.cpu_native_loops`` off). All
contenders alternate sample by sample in one process (medians; the host is shared).
The first call of each native program is timed twice in fresh processes: with empty
kernel caches (Numba compiles) and with the caches it left (machine code loaded).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import config, lax

from .harness import time_alternating

STEPS, BATCH, HIDDEN = 1000, 32, 128
FORI_N = 10_000


def _rnn_loss(w, u, xs):
    h, _ = lax.scan(lambda h, x: (fnp.tanh(h @ w + x @ u), None),
                    np.zeros((BATCH, HIDDEN), np.float32), xs)
    return fnp.sum(h)


def _fori(x):
    return lax.fori_loop(0, FORI_N, lambda i, c: c * 0.9999 + 0.001, x)


def _jitted(fn, *args, native: bool):
    """``jit(fn)``, compiled for ``args`` now with native loops on or off."""
    jitted = ft.jit(fn)
    prev = config.cpu_native_loops
    config.update("cpu_native_loops", native)
    try:
        jitted(*args)
    finally:
        config.update("cpu_native_loops", prev)
    return jitted


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


def _fori_jax(jax):
    f = jax.jit(lambda x: jax.lax.fori_loop(0, FORI_N, lambda i, c: c * 0.9999 + 0.001, x))
    return lambda: jax.block_until_ready(f(np.float32(1.0)))


FIRST_CALL = """
import time, numpy as np
t0 = time.perf_counter()
from benchmarks.control import BATCH, HIDDEN, STEPS, _fori, _rnn_loss
import functrace as ft
t1 = time.perf_counter()
ft.jit(_fori)(np.float32(1.0))
t2 = time.perf_counter()
w = np.zeros((HIDDEN, HIDDEN), np.float32)
ft.jit(ft.grad(_rnn_loss, (0, 1)))(w, w, np.zeros((STEPS, BATCH, HIDDEN), np.float32))
t3 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2)
"""


def first_calls() -> dict:
    """First-call seconds of the fori_loop and of the RNN step in fresh processes, with
    empty caches ("cold": Numba compiles everything) and then warm ones."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, FUNCTRACE_CACHE_DIR=tmp, NUMBA_CACHE_DIR=os.path.join(tmp, "nb"),
                   PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        for label in ("cold", "warm"):
            res = subprocess.run([sys.executable, "-c", FIRST_CALL], env=env, cwd=root,
                                 capture_output=True, text=True, check=True).stdout.split()
            out[label] = {"import": float(res[0]), "fori": float(res[1]),
                          "rnn": float(res[2])}
    return out


def bench_control(repeat: int, torch=None, jax=None) -> dict:
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((HIDDEN, HIDDEN)) * 0.05).astype(np.float32)
    u = (rng.standard_normal((HIDDEN, HIDDEN)) * 0.05).astype(np.float32)
    xs = rng.standard_normal((STEPS, BATCH, HIDDEN)).astype(np.float32)
    grad = ft.grad(_rnn_loss, (0, 1))
    native = _jitted(grad, w, u, xs, native=True)
    python = _jitted(grad, w, u, xs, native=False)
    fns = {"functrace": lambda: native(w, u, xs), "ft-python-loop": lambda: python(w, u, xs)}
    if torch is not None:
        fns["torch"] = _rnn_torch(torch, w, u, xs)
    if jax is not None:
        fns["jax"] = _rnn_jax(jax, w, u, xs)
    rnn = time_alternating(fns, repeat=repeat)
    parts = [f"{k} {v * 1e3:7.1f} ms" for k, v in rnn.items()]
    ratios = [f"÷{k} {rnn['functrace'] / rnn[k]:.2f}" for k in ("torch", "jax") if k in rnn]
    print(f"RNN scan fwd+bwd ({STEPS} steps, b{BATCH} h{HIDDEN}): " + "  ".join(parts)
          + "  functrace " + " ".join(ratios) + " (target: ÷torch <= 1.0)", flush=True)

    one = np.float32(1.0)
    fori_native = _jitted(_fori, one, native=True)
    fori_python = _jitted(_fori, one, native=False)
    fns = {"functrace": lambda: fori_native(one), "ft-python-loop": lambda: fori_python(one)}
    if jax is not None:
        fns["jax"] = _fori_jax(jax)
    fori = {k: v / FORI_N * 1e6 for k, v in time_alternating(fns, repeat=repeat).items()}
    print(f"fori_loop scalar carry, {FORI_N:,} iterations under jit, us per iteration "
          "(call included): " + "  ".join(f"{k} {v:.4f}" for k, v in fori.items())
          + " (target <= 2 us)", flush=True)

    first = first_calls()
    for label in ("cold", "warm"):
        f = first[label]
        print(f"first call, {label} kernel cache: fori_loop {f['fori']:.2f} s, RNN grad "
              f"{f['rnn']:.2f} s (import {f['import']:.2f} s)", flush=True)
    return {"rnn_s": rnn, "fori_us_per_iter": fori, "first_call_s": first}

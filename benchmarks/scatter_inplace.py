"""In-place scatters under ``jit``: before (the NumPy reference, a copy per scatter),
after (the Numba loops, in place when the operand is dead) and JAX's jit.

Programs, each loop-free and jitted:

- ``chain``: 100 ``x.at[j].add(v[j])`` on a float32 array of 1e6 elements (the first
  update copies the input, the other 99 write in place);
- ``embed``: an embedding gradient, ``zeros((V, D)).at[ids].add(g)`` with
  V = 50,000, D = 64 and 4,096 ids (duplicates included);
- ``embed_grad``: ``jit(grad)`` of ``sum(W[ids] * g)``, whose transpose is that
  scatter-add.

The contenders alternate in blocks of calls (``harness.time_alternating``); medians in
µs per call. Run: ``PYTHONPATH=src python -m benchmarks.scatter_inplace``.
"""

from __future__ import annotations

import numpy as np

import functrace as ft
from functrace.backends.numba_cpu import lowerings, program_rewrites
from functrace.backends.numba_cpu import scatter as cpu_scatter
from functrace.lax.gather_scatter import SCATTER_PRIMITIVES

from .harness import time_alternating

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - optional
    jax = None

N_CHAIN, SIZE = 100, 1_000_000
V, D, B = 50_000, 64, 4096


def _programs(np_like, grad):
    def chain(x, v):
        for j in range(N_CHAIN):
            x = x.at[j * 9973].add(v[j])
        return x

    def embed(ids, g):
        return np_like.zeros((V, D), np.float32).at[ids].add(g)

    def embed_grad(w, ids, g):
        return grad(lambda w: np_like.sum(w[ids] * g))(w)

    return {"chain": chain, "embed": embed, "embed_grad": embed_grad}


def _args():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(SIZE).astype(np.float32)
    v = rng.standard_normal(N_CHAIN).astype(np.float32)
    ids = rng.integers(0, V, B).astype(np.int32)
    g = rng.standard_normal((B, D)).astype(np.float32)
    w = rng.standard_normal((V, D)).astype(np.float32)
    return {"chain": (x, v), "embed": (ids, g), "embed_grad": (w, ids, g)}


def _reference_jits(fns):
    """The programs jitted the way they were before the Numba scatters: every scatter
    runs the NumPy reference impl on a copy (compiled now, while the lowerings are out)."""
    saved = {p: lowerings.pop(p) for p in SCATTER_PRIMITIVES if p in lowerings}
    program_rewrites.remove(cpu_scatter.inplace_scatters)
    try:
        args = _args()
        jitted = {k: ft.jit(lambda *a, f=f: f(*a)) for k, f in fns.items()}
        for k, f in jitted.items():
            f(*args[k])  # compiles without the scatter kernels
    finally:
        lowerings.update(saved)
        program_rewrites.append(cpu_scatter.inplace_scatters)
    return jitted


def _block(fn, args, calls):
    def run():
        for _ in range(calls):
            out = fn(*args)
        if hasattr(out, "block_until_ready"):
            out.block_until_ready()
    return run


def main(repeat: int = 9) -> dict:
    fns = _programs(ft.numpy, ft.grad)
    before = _reference_jits(fns)
    after = {k: ft.jit(f) for k, f in fns.items()}
    args = _args()
    contenders = {"before": before, "after": after}
    if jax is not None:
        contenders["jax"] = {k: jax.jit(f) for k, f in _programs(jnp, jax.grad).items()}
    results = {}
    for name in fns:
        want = np.asarray(before[name](*args[name]))
        for c in contenders.values():
            np.testing.assert_allclose(np.asarray(c[name](*args[name])), want, rtol=1e-5,
                                       atol=1e-5)
        calls = 20 if name == "chain" else 10
        blocks = {c: _block(fs[name], args[name], calls) for c, fs in contenders.items()}
        t = time_alternating(blocks, repeat=repeat, pause=0.02)
        results[name] = {c: s / calls * 1e6 for c, s in t.items()}
        r = results[name]
        row = "  ".join(f"{c} {us:9.1f}" for c, us in r.items())
        ratios = f"before/after {r['before'] / r['after']:.1f}x"
        if "jax" in r:
            ratios += f"  after/jax {r['after'] / r['jax']:.2f}x"
        print(f"{name:11s} µs/call: {row}   {ratios}")
    counts = dict(cpu_scatter.counts)
    print("scatter runs (in place / copied):", counts)
    return results


if __name__ == "__main__":
    main()

"""The ``dispatch`` section: what one call of a jitted function costs, per kind of argument.

Two programs, each called with every kind of argument a user passes: Python scalars,
NumPy scalars (``np.float32(-2.0)``), 0-d arrays, n-d arrays and a pytree (a dict):

- ``jit(grad(f))`` of the lesson's ``f = (x + y) * z`` (summed when the arguments are
  arrays, so that ``grad`` sees a scalar);
- a small array function, ``maximum(x * y + 1, 0)`` (``jit``'s docstring example).

The same argument objects go to ``jax.jit`` of the same functions when JAX is installed
(NumPy inputs, as a user porting NumPy code passes them; JAX copies them to its device
on each call, which is part of its dispatch cost). The two alternate in blocks of calls
and the median block is reported, in µs per call. Issue 12's target is <= 5 µs for
every kind.
"""

from __future__ import annotations

import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp

try:
    import jax
    import jax.numpy as jnp
except ImportError:  # pragma: no cover - optional
    jax = None

KINDS = ("Python scalars", "NumPy scalars", "0-d arrays", "n-d arrays (8,)", "pytree (dict)")


def _values(kind: str, vals):
    """The lesson's values as arguments of the given kind."""
    if kind == "Python scalars":
        return tuple(float(v) for v in vals)
    if kind == "NumPy scalars":
        return tuple(np.float32(v) for v in vals)
    if kind == "0-d arrays":
        return tuple(np.array(v, np.float32) for v in vals)
    return tuple(np.full(8, v, np.float32) for v in vals)


def _programs(np_like, grad, jit):
    """``{(program, kind): (jitted function, args)}`` for one framework."""
    def f(x, y, z):
        return (x + y) * z

    def f_sum(x, y, z):
        return np_like.sum((x + y) * z)

    def f_tree(p):
        return np_like.sum((p["x"] + p["y"]) * p["z"])

    def small(x, y):
        return np_like.maximum(x * y + 1.0, 0.0)

    def small_tree(p):
        return np_like.maximum(p["x"] * p["y"] + 1.0, 0.0)

    lesson = {"scalar": jit(grad(f, argnums=(0, 1, 2))),
              "array": jit(grad(f_sum, argnums=(0, 1, 2))), "tree": jit(grad(f_tree))}
    array_fn = {"plain": jit(small), "tree": jit(small_tree)}
    out = {}
    for kind in KINDS:
        x, y, z = _values(kind, (-2.0, 5.0, -4.0))
        if kind == "pytree (dict)":
            out["lesson", kind] = (lesson["tree"], ({"x": x, "y": y, "z": z},))
            out["array fn", kind] = (array_fn["tree"], ({"x": x, "y": y},))
            continue
        scalar = kind != "n-d arrays (8,)"
        out["lesson", kind] = (lesson["scalar" if scalar else "array"], (x, y, z))
        out["array fn", kind] = (array_fn["plain"], (x, y))
    return out


def _block(fn, args, n: int, ready) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        ready(fn(*args))
    return (time.perf_counter() - t0) / n


def measure(repeat: int = 15, n: int = 500) -> dict:
    """``{(program, kind): {"functrace": s, "jax": s}}``: median seconds per call."""
    contenders = {"functrace": (_programs(fnp, ft.grad, ft.jit), lambda r: r)}
    if jax is not None:
        contenders["jax"] = (_programs(jnp, jax.grad, jax.jit), jax.block_until_ready)
    results: dict = {}
    for key in contenders["functrace"][0]:
        samples: dict = {name: [] for name in contenders}
        for programs, ready in contenders.values():
            fn, args = programs[key]
            for _ in range(3):  # compile and warm up
                ready(fn(*args))
        for _ in range(repeat):  # alternate the contenders block by block
            for name, (programs, ready) in contenders.items():
                fn, args = programs[key]
                samples[name].append(_block(fn, args, n, ready))
        results[key] = {name: float(np.median(s)) for name, s in samples.items()}
    return results


def bench_dispatch(repeat: int = 15) -> dict:
    results = measure(repeat)
    print("jit dispatch, µs per call (median of alternating blocks; target <= 5 µs):")
    for (program, kind), t in results.items():
        line = f"  {program:8s} {kind:16s} ft {t['functrace'] * 1e6:7.2f} µs"
        if "jax" in t:
            line += f"  jax {t['jax'] * 1e6:7.2f} µs (x{t['functrace'] / t['jax']:.2f})"
        print(line, flush=True)
    return results


if __name__ == "__main__":
    bench_dispatch()

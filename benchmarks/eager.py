"""Un-jitted work, what a notebook user runs first: eager ``grad`` and an eager stax step.

- the lesson's ``grad(f)(-2., 5., -4.)`` with ``f = (x + y) * z``: functrace's tape, the
  jaxpr path it replaced (``tape.disabled()``), PyTorch's backward and HIPS autograd (when
  installed), interleaved round by round in one process;
- the README's stax small CNN (NHWC, batch 64, 28x28) SGD step un-jitted (tape and jaxpr
  path) against the same step jitted, and PyTorch's eager step.

``python -m benchmarks.eager [--quick]``; ``python -m benchmarks --only eager`` runs it too.
``--ratios`` prints only the stax step's per-round eager/jit and eager/PyTorch ratios.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from functrace import random
from functrace.example_libraries import stax
from functrace.transforms import tape

from . import models
from .harness import time_alternating, time_alternating_samples

try:
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None
try:
    import autograd
except ImportError:  # pragma: no cover - optional
    autograd = None


def _lesson(x, y, z):
    return (x + y) * z


def _per_call_rounds(fns: dict, rounds: int, n: int) -> dict:
    """Median over ``rounds`` of the mean seconds per call; contenders alternate by round."""
    samples = {k: [] for k in fns}
    for fn in fns.values():
        fn()
    for _ in range(rounds):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {k: float(np.median(v)) for k, v in samples.items()}


def eager_grad_fns() -> dict:
    g = ft.grad(_lesson, argnums=(0, 1, 2))

    def jaxpr_path():
        with tape.disabled():
            return g(-2.0, 5.0, -4.0)

    fns = {"functrace": lambda: g(-2.0, 5.0, -4.0), "functrace jaxpr path": jaxpr_path}
    if torch is not None:
        def torch_grad():
            x, y, z = (torch.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
            return torch.autograd.grad(_lesson(x, y, z), (x, y, z))
        fns["torch"] = torch_grad
    if autograd is not None:
        ag = autograd.grad(_lesson, argnum=(0, 1, 2)) if hasattr(autograd, "grad") else None
        if ag is not None:
            fns["autograd"] = lambda: ag(-2.0, 5.0, -4.0)
    return fns


def bench_eager_grad(rounds: int = 7) -> dict:
    times = _per_call_rounds(eager_grad_fns(), rounds, 500)
    base = times["functrace"]
    print("eager grad(f)(-2., 5., -4.), f = (x + y) * z, per call:")
    for name, t in times.items():
        print(f"  {name:22s} {t * 1e6:8.1f} us  (functrace tape / this: {base / t:.2f})",
              flush=True)
    return times


def stax_step_fns(cfg=models.SMALL_CNN, lr=0.01) -> dict:
    init_fun, apply_fun = models.stax_model(cfg, stax)
    _, params = init_fun(random.PRNGKey(0), (-1, *cfg["shape"][1:], cfg["shape"][0]))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((cfg["batch"], *cfg["shape"])).astype(np.float32)
    y = np.eye(cfg["classes"], dtype=np.float32)[rng.integers(0, cfg["classes"], cfg["batch"])]
    xl = models.nhwc_input(cfg, x)

    def loss(params, x, y):
        return -fnp.mean(fnp.sum(apply_fun(params, x) * y, axis=-1))

    def step(params, x, y):
        value, grads = ft.value_and_grad(loss)(params, x, y)
        return value, ft.tree_util.tree_map(lambda p, g: p - lr * g, params, grads)

    jitted = ft.jit(step)

    def jaxpr_path():
        with tape.disabled():
            return step(params, xl, y)

    fns = {"functrace eager": lambda: step(params, xl, y),
           "functrace jit": lambda: jitted(params, xl, y),
           "functrace eager jaxpr path": jaxpr_path}
    if torch is not None:
        ts = models.torch_step(cfg, models.init_params(cfg, rng))
        tx, ty = torch.from_numpy(x), torch.from_numpy(y)
        fns["torch eager"] = lambda: ts(tx, ty)
    return fns


def bench_eager_stax(repeat: int = 7) -> dict:
    load = os.getloadavg()[0]
    times = time_alternating(stax_step_fns(), repeat)
    jit_t = times["functrace jit"]
    torch_t = times.get("torch eager")
    print(f"stax small CNN SGD step (NHWC, batch 64, 28x28; load average {load:.2f} before, "
          f"{os.getloadavg()[0]:.2f} after):")
    for name, t in times.items():
        vs_torch = f", {t / torch_t:.2f}x torch eager" if torch_t else ""
        print(f"  {name:28s} {t * 1e3:8.2f} ms  ({t / jit_t:.2f}x the jitted step{vs_torch})",
              flush=True)
    return times


def bench_eager_stax_ratios(rounds: int = 15) -> dict:
    """The stax step's eager/jit and eager/PyTorch ratios, per round (eager, jit and
    PyTorch back to back, the jaxpr path left out): medians and quartiles of the ratios
    are steadier on a shared machine than ratios of medians."""
    fns = stax_step_fns()
    del fns["functrace eager jaxpr path"]
    samples = {k: np.array(v) for k, v in time_alternating_samples(fns, rounds,
                                                                   pause=0.05).items()}
    e, j = samples["functrace eager"], samples["functrace jit"]
    print(f"stax small CNN SGD step, {rounds} rounds (load average {os.getloadavg()[0]:.2f}):"
          f" eager {np.median(e) * 1e3:.2f} ms, jit {np.median(j) * 1e3:.2f} ms")
    ratios = {"eager / jit": e / j}
    if "torch eager" in samples:
        ratios["eager / torch eager"] = e / samples["torch eager"]
    for name, r in ratios.items():
        lo, mid, hi = np.percentile(r, [25, 50, 75])
        print(f"  {name:22s} {mid:.2f} per round (quartiles {lo:.2f}-{hi:.2f})", flush=True)
    return ratios


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer samples")
    parser.add_argument("--ratios", action="store_true",
                        help="only the stax step's per-round ratios (15 rounds)")
    args = parser.parse_args(argv)
    if args.ratios:
        bench_eager_stax_ratios()
        return
    bench_eager_grad(3 if args.quick else 7)
    bench_eager_stax(3 if args.quick else 7)


if __name__ == "__main__":
    main()

"""Convolution passes one by one (forward, grad-input, grad-filter) against PyTorch
(channels_last, its fastest CPU layout) and JAX, with each pass's share of the
machine's FP32 FMA peak, measured here.

functrace runs each pass in both layouts the lowering sees: NHWC (stax) and NCHW
(``lax.conv``). All contenders' samples alternate in one process; the spread printed
is the (max - min) / median of functrace's NHWC samples, to show how noisy the run was.
"""

from __future__ import annotations

import time

import numpy as np

import functrace as ft
from functrace import lax
from functrace.backends.numba_cpu._simd import tile_fma, tile_store, tile_zeros

from .harness import time_alternating_samples

try:
    import torch
except ImportError:  # pragma: no cover - optional
    torch = None
try:
    import jax
except ImportError:  # pragma: no cover - optional
    jax = None

SHAPES = [(32, 3, 32, 64), (32, 64, 32, 64), (32, 128, 16, 128), (32, 256, 8, 256),
          (8, 64, 56, 64)]
PASSES = ("fwd", "grad-input", "grad-filter")


def _peak_kernel():
    from numba import njit, prange  # noqa: PLC0415

    @njit(nogil=True)
    def chain(a, b, reps):
        acc = tile_zeros(6, 4)
        for _ in range(reps):
            for c in range(64):
                acc = tile_fma(acc, b, c * 64, a, c, 64)
        tile_store(acc, b, 0, 64)

    @njit(parallel=True)
    def run(a, b, reps, nt):
        for t in prange(nt):
            chain(a[t], b[t], reps)

    return run


def fma_peak(seconds=0.3) -> float:
    """FP32 FLOP/s of a 6 x 4-vector FMA tile on L1-resident data, on every thread:
    what the direct convolution's inner loop can reach at best."""
    import numba  # noqa: PLC0415

    nt = numba.get_num_threads()
    run = _peak_kernel()
    a = np.ones((nt, 6 * 64), np.float32) * 1e-3
    b = np.ones((nt, 64 * 64 + 64), np.float32) * 1e-3
    run(a, b, 1, nt)
    best = 0.0
    reps = 200
    while True:
        t0 = time.perf_counter()
        run(a, b, reps, nt)
        dt = time.perf_counter() - t0
        if dt > seconds / 5:
            break
        reps *= 2
    for _ in range(5):
        t0 = time.perf_counter()
        run(a, b, reps, nt)
        best = max(best, 2 * 6 * 64 * 64 * reps * nt / (time.perf_counter() - t0))
    return best


def _dn(layout):
    return ("NHWC", "HWIO", "NHWC") if layout == "NHWC" else ("NCHW", "OIHW", "NCHW")


def _functrace_passes(x, w, ct, layout):
    """Zero-argument callables for the three passes (x, w, ct in ``layout``)."""
    dn = lax.conv_dimension_numbers(x.shape, w.shape, _dn(layout))
    params = dict(window_strides=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                  rhs_dilation=(1, 1), dimension_numbers=dn, feature_group_count=1,
                  batch_group_count=1, precision=None)
    fwd = ft.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                       dimension_numbers=_dn(layout)))
    gi = ft.jit(lambda ct, w: lax.conv_grad_input(ct, w, x.shape, **params))
    gf = ft.jit(lambda x, ct: lax.conv_grad_filter(x, ct, w.shape, **params))
    return {"fwd": lambda: fwd(x, w), "grad-input": lambda: gi(ct, w),
            "grad-filter": lambda: gf(x, ct)}


def _torch_passes(x, w, ct):
    cl = torch.channels_last
    tx = torch.from_numpy(x).contiguous(memory_format=cl)
    tw = torch.from_numpy(w).contiguous(memory_format=cl)
    tct = torch.from_numpy(ct).contiguous(memory_format=cl)
    bwd = torch.ops.aten.convolution_backward

    def pass_(mask):
        return lambda: bwd(tct, tx, tw, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, mask)

    return {"fwd": lambda: torch.nn.functional.conv2d(tx, tw, padding=1),
            "grad-input": pass_([True, False, False]),
            "grad-filter": pass_([False, True, False])}


def _jax_passes(x, w, ct):
    """NHWC arrays."""
    jnp, jl = jax.numpy, jax.lax
    dn = ("NHWC", "HWIO", "NHWC")

    def conv(a, b):
        return jl.conv_general_dilated(a, b, (1, 1), "SAME", dimension_numbers=dn)

    fwd = jax.jit(conv)
    gi = jax.jit(lambda a, b, c: jax.vjp(lambda a: conv(a, b), a)[1](c)[0])
    gf = jax.jit(lambda a, b, c: jax.vjp(lambda b: conv(a, b), b)[1](c)[0])
    jx, jw, jct = map(jnp.asarray, (x, w, ct))
    return {"fwd": lambda: fwd(jx, jw).block_until_ready(),
            "grad-input": lambda: gi(jx, jw, jct).block_until_ready(),
            "grad-filter": lambda: gf(jx, jw, jct).block_until_ready()}


def bench_conv_passes(repeat):
    """Times every pass of every shape; prints one line per (shape, pass)."""
    peak = fma_peak()
    print(f"measured FP32 FMA peak: {peak / 1e9:.0f} GFLOP/s", flush=True)
    rows = []
    for n, c, hw, o in SHAPES:
        rng = np.random.default_rng(0)
        x = rng.standard_normal((n, c, hw, hw)).astype(np.float32)
        w = (rng.standard_normal((o, c, 3, 3)) * 0.1).astype(np.float32)
        ct = rng.standard_normal((n, o, hw, hw)).astype(np.float32)
        xl, wl, ctl = (np.ascontiguousarray(x.transpose(0, 2, 3, 1)),
                       np.ascontiguousarray(w.transpose(2, 3, 1, 0)),
                       np.ascontiguousarray(ct.transpose(0, 2, 3, 1)))
        fns = {"ft_nhwc": _functrace_passes(xl, wl, ctl, "NHWC"),
               "ft_nchw": _functrace_passes(x, w, ct, "NCHW")}
        if torch is not None:
            fns["torch_cl"] = _torch_passes(x, w, ct)
        if jax is not None:
            fns["jax"] = _jax_passes(xl, wl, ctl)
        flops = 2.0 * n * hw * hw * o * c * 9
        for p in PASSES:
            samples = time_alternating_samples({k: v[p] for k, v in fns.items()}, repeat)
            med = {k: float(np.median(v)) for k, v in samples.items()}
            s = samples["ft_nhwc"]
            spread = (max(s) - min(s)) / med["ft_nhwc"]
            line = (f"conv {p:11s} {n}x{c}x{hw}x{hw}->{o}: ft NHWC {med['ft_nhwc'] * 1e3:7.2f} ms"
                    f" ({flops / med['ft_nhwc'] / peak:4.0%} peak)"
                    f"  NCHW {med['ft_nchw'] * 1e3:7.2f} ms")
            for k, label in (("torch_cl", "torch-cl"), ("jax", "jax")):
                if k in med:
                    line += (f"  {label} {med[k] * 1e3:7.2f} ms ({flops / med[k] / peak:4.0%})"
                             f" x{med['ft_nhwc'] / med[k]:.2f}/x{med['ft_nchw'] / med[k]:.2f}")
            print(line + f"  spread {spread:.0%}", flush=True)
            rows.append(((n, c, hw, o), p, med, flops / peak))
    return rows

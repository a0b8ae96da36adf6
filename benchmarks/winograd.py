"""Winograd F(2x2, 3x3) (``functrace.experimental.winograd``) against the default CPU
lowering (the direct kernels on AVX-512 hosts, else the GEMM path): forward and input
gradient on the shapes where Winograd applies, samples alternating, with an A/A pair
of the default as the run's noise floor. The table in docs/performance.md
("Winograd") came from it.

Run from the repo root: ``env -u OPENBLAS_CORETYPE python -m benchmarks.winograd
[repeat]``.
"""

from __future__ import annotations

import sys

import numpy as np

import functrace as ft
from functrace import lax
from functrace.backends.numba_cpu import conv_direct
from functrace.experimental import winograd

from .harness import time_alternating_samples

# (N, C, HW, O): the benchmark conv shape Winograd applies to (the others in
# benchmarks/run.py exceed its MAX_TRANSFORMED_BYTES) and the small CNN's second conv
SHAPES = [(32, 256, 8, 256), (64, 32, 14, 64)]
MODES = ("default", "default again", "winograd")


def _arrays(layout, n, c, hw, o):
    rng = np.random.default_rng(0)
    if layout == "NHWC":
        shapes = (n, hw, hw, c), (3, 3, c, o), (n, hw, hw, o)
    else:
        shapes = (n, c, hw, hw), (o, c, 3, 3), (n, o, hw, hw)
    x, w, ct = (rng.standard_normal(s).astype(np.float32) for s in shapes)
    return x, w * np.float32(0.1), ct


def _passes(layout, x, w, ct):
    """{(pass, mode): callable}, each mode's programs compiled with its lowering."""
    dns = ("NHWC", "HWIO", "NHWC") if layout == "NHWC" else ("NCHW", "OIHW", "NCHW")
    params = dict(window_strides=(1, 1), padding=((1, 1), (1, 1)), lhs_dilation=(1, 1),
                  rhs_dilation=(1, 1), dimension_numbers=lax.conv_dimension_numbers(
                      x.shape, w.shape, dns), feature_group_count=1, batch_group_count=1,
                  precision=None)
    fns, outs = {}, {}
    try:
        for mode in MODES:
            winograd.enable(mode == "winograd")
            fwd = ft.jit(lambda x, w: lax.conv_general_dilated(x, w, (1, 1), "SAME",
                                                               dimension_numbers=dns))
            gi = ft.jit(lambda ct, w: lax.conv_grad_input(ct, w, x.shape, **params))
            outs[mode] = np.asarray(fwd(x, w)), np.asarray(gi(ct, w))  # compiles here
            fns["fwd", mode] = lambda f=fwd: f(x, w)
            fns["grad-input", mode] = lambda f=gi: f(ct, w)
    finally:
        winograd.enable(False)
    for a, b in zip(outs["default"], outs["winograd"], strict=True):
        assert np.allclose(a, b, rtol=1e-3, atol=1e-3 * np.abs(a).max())
    return fns


def main(repeat: int = 15) -> None:
    print(f"direct kernels on this host: {conv_direct.host_ok()}", flush=True)
    for layout in ("NHWC", "NCHW"):
        for shape in SHAPES:
            samples = time_alternating_samples(_passes(layout, *_arrays(layout, *shape)),
                                               repeat=repeat)
            for p in ("fwd", "grad-input"):
                med = {m: np.median(samples[p, m]) * 1e3 for m in MODES}
                best = {m: np.min(samples[p, m]) * 1e3 for m in MODES}
                print(f"{layout} {shape} {p:10s} best ms default {best['default']:7.2f} "
                      f"winograd {best['winograd']:7.2f} ({best['winograd'] / best['default']:.2f})"
                      f" | medians winograd/default {med['winograd'] / med['default']:.2f}, "
                      f"A/A {med['default again'] / med['default']:.2f}", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 15)

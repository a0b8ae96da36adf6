"""Timing helpers: alternate the contenders sample by sample, report medians."""

from __future__ import annotations

import os
import time

import numpy as np


def time_alternating(fns: dict, repeat: int = 15, warmup: int = 2, pause: float = 0.15):
    """Median seconds per contender: ``time_alternating_samples`` summarised."""
    samples = time_alternating_samples(fns, repeat, warmup, pause)
    return {k: float(np.median(v)) for k, v in samples.items()}


def time_alternating_samples(fns: dict, repeat: int = 15, warmup: int = 2,
                             pause: float = 0.15):
    """Times each zero-argument callable in ``fns``; samples alternate between them.

    Returns ``{name: [seconds per sample]}``. Alternation makes the comparison fair on a
    shared, noisy machine: a slow period hits every contender alike. The pause
    before each sample keeps OpenBLAS threads that are still spinning after one
    contender's call from stealing the cores of the next (docs/performance.md); one
    untimed call after it wakes the contender's own thread pool, caches and clock
    up again (without it, a sub-millisecond op measured its wake-up: PyTorch's
    2M-element ReLU read 11 ms instead of 0.8), so samples are steady-state calls.
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    samples = {k: [] for k in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            time.sleep(pause)  # let the previous contender's BLAS threads stop spinning
            fn()               # and wake this one's up
            t0 = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - t0)
    return samples


def time_per_call(fn, n: int = 2000) -> float:
    """Mean seconds per call of a fast function."""
    fn()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def environment() -> dict:
    info = {"OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
            "cpu_count": os.cpu_count()}
    try:
        from threadpoolctl import threadpool_info  # noqa: PLC0415 - optional

        info["blas"] = "; ".join(f"{p.get('internal_api')} {p.get('version')} "
                                 f"({p.get('num_threads')} threads, {p.get('architecture')})"
                                 for p in threadpool_info() if p.get("user_api") == "blas")
    except ImportError:
        info["blas"] = "threadpoolctl not installed"
    import numba  # noqa: PLC0415

    info["numba_threads"] = numba.config.NUMBA_NUM_THREADS
    info["numba"] = numba.__version__
    info["numpy"] = np.__version__
    return info

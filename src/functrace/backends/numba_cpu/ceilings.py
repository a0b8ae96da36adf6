"""The machine's measured ceilings for ``profile()``: BLAS sgemm GFLOP/s and memory GB/s.

A roofline needs two numbers: how fast this machine multiplies (here: NumPy's BLAS
sgemm on a square float32 product, the practical peak for convolutions and matrix
products; see ``measure``) and how fast it streams memory (a STREAM-style copy and
triad written in Numba, one ``prange`` over all of Numba's threads, on arrays far
larger than the caches). Both are measured once, in about 0.3 s, and kept in
``$FUNCTRACE_CACHE_DIR/ceilings.json`` (default ``~/.cache/functrace/ceilings.json``,
beside Numba's own ``~/.cache/numba``), keyed by the CPU, the thread counts and the
BLAS environment, so another host or another ``OPENBLAS_CORETYPE`` measures again.

Bytes are counted as STREAM counts them (copy: 2 arrays, triad: 3 arrays; no
write-allocate traffic). The figures are the best of a few repetitions; on a busy,
shared machine they are what the process could get then, not the hardware's limits.
"""

from __future__ import annotations

import importlib
import json
import os
import platform
import time

import numpy as np

from .conv import blas_threads

CACHE_NAME = "ceilings.json"
GEMM_N = 768  # float32 n x n x n: 0.9 GFLOP, ~4 ms on two Zen 4 cores
STREAM_N = 1 << 23  # float32 elements per array: 32 MiB, several times the L3 a VM sees
REPEATS = 10  # best of: a shared machine often takes a core away for a run or two

_memo: dict = {}


def _kernels():
    # loaded on first use, so that importing functrace does not import Numba
    return importlib.import_module("._ceiling_kernels", __package__)


def cache_path() -> str:
    root = os.environ.get("FUNCTRACE_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "functrace")
    return os.path.join(root, CACHE_NAME)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_key() -> str:
    """What the ceilings depend on: CPU model and LLVM's name for it, core and thread
    counts, and the environment that changes OpenBLAS's speed."""
    env = ",".join(f"{k}={os.environ.get(k, '')}" for k in (
        "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS"))
    k = _kernels()
    return (f"{_cpu_model()}|{k.host_cpu_name()}|cpus={os.cpu_count()}|"
            f"numba_threads={k.configured_threads()}|{env}")


def _best(fn, repeats: int = REPEATS) -> float:
    fn()  # warm: compiles or loads the kernel, faults the pages in
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _stream() -> tuple[float, float]:
    """Copy and triad GB/s, counted as STREAM does."""
    a = np.ones(STREAM_N, np.float32)
    b = np.full(STREAM_N, 2.0, np.float32)
    c = np.full(STREAM_N, 0.5, np.float32)
    k = _kernels()
    copy_s = _best(lambda: k.copy(b, a))
    triad_s = _best(lambda: k.triad(a, b, c, np.float32(3.0)))
    return 2 * a.nbytes / copy_s / 1e9, 3 * a.nbytes / triad_s / 1e9


def _stream_best() -> tuple[float, float]:
    """``_stream`` on all of Numba's threads and on one, figure by figure the better:
    on a busy machine the split loop waits for its slowest thread, and one thread alone
    can get more of the bandwidth (measured here: 13 against 27 GB/s)."""
    k = _kernels()
    threads = k.get_num_threads()
    copy_gbs, triad_gbs = _stream()
    if threads > 1:
        k.set_num_threads(1)
        try:
            one = _stream()
        finally:
            k.set_num_threads(threads)
        copy_gbs, triad_gbs = max(copy_gbs, one[0]), max(triad_gbs, one[1])
    return copy_gbs, triad_gbs


def _sgemm() -> float:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    y = rng.standard_normal((GEMM_N, GEMM_N), dtype=np.float32)
    out = np.empty((GEMM_N, GEMM_N), np.float32)
    return 2 * GEMM_N ** 3 / _best(lambda: np.matmul(x, y, out=out)) / 1e9


def _sgemm_per_thread() -> tuple[float, float, int]:
    """``(GFLOP/s with BLAS's own thread count, GFLOP/s on one thread, that count)``.
    One thread keeps its speed when other processes share the cores; several threads
    each wait for the slowest, so on a busy machine they measure far below the peak."""
    threads = blas_threads(1)
    try:
        one = _sgemm()
    finally:
        if threads is not None:
            blas_threads(threads)
    return _sgemm(), one, threads or 1


def measure() -> dict:
    """Measures the ceilings now (about 0.2 s once Numba's kernels are cached). The
    stream loops run first: OpenBLAS's threads spin for a while after a call and
    would slow a ``prange`` loop right behind it.

    The compute ceiling is the larger of the multi-threaded sgemm and the one-thread
    sgemm times the thread count (a large sgemm scales with cores; the product is what
    the cores can do when they are free). The bandwidth is the better of all threads
    and one (``_stream_best``), not scaled: one thread cannot use all of it."""
    t_start = time.perf_counter()
    copy_gbs, triad_gbs = _stream_best()
    sgemm, one, threads = _sgemm_per_thread()
    return {"sgemm_gflops": max(sgemm, threads * one), "sgemm_all_threads_gflops": sgemm,
            "sgemm_one_thread_gflops": one, "blas_threads": threads,
            "copy_gbs": copy_gbs, "triad_gbs": triad_gbs,
            "measure_s": time.perf_counter() - t_start,
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def _read(path: str) -> dict:
    try:
        with open(path) as f:
            found = json.load(f)
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {}


def _write(path: str, table: dict) -> None:
    """Atomically (processes measuring at once agree); a cache that cannot be written
    only means the next process measures again."""
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tmp = f"{path}.{os.getpid()}.tmp"
        with open(tmp, "w") as f:
            json.dump(table, f, indent=1, sort_keys=True)
        os.replace(tmp, path)
    except OSError:
        pass


FIGURES = ("sgemm_gflops", "copy_gbs", "triad_gbs")


def _valid(entry) -> bool:
    return isinstance(entry, dict) and all(
        isinstance(entry.get(k), int | float) and entry[k] > 0 for k in FIGURES)


def machine_ceilings(refresh: bool = False) -> dict:
    """``{"sgemm_gflops", "copy_gbs", "triad_gbs", "bandwidth_gbs", "path", "cached",
    ...}`` for this machine: read from the on-disk cache when this machine was measured
    before, else measured now and stored. ``bandwidth_gbs`` is the triad's, the usual
    roofline choice; ``cached`` says whether the figures were read, not measured.

    ``refresh=True`` measures again and keeps, figure by figure, the better of the new
    and the stored value: a ceiling is the best the machine has done, and a measurement
    taken while other processes held the cores is only a floor of it.

    Example:
        >>> c = machine_ceilings()
        >>> c["sgemm_gflops"] > 0 and c["bandwidth_gbs"] > 0
        True
    """
    key = machine_key()
    path = cache_path()
    if not refresh and (key, path) in _memo:
        return dict(_memo[key, path])
    stored = _read(path).get(key)
    cached = not refresh and _valid(stored)
    if cached:
        entry = stored
    else:
        entry = measure()
        if refresh and _valid(stored):
            entry.update({k: max(entry[k], stored[k]) for k in FIGURES})
        table = _read(path)  # another process may have written meanwhile
        table[key] = entry
        _write(path, table)
    result = {**entry, "bandwidth_gbs": entry["triad_gbs"], "machine": key, "path": path,
              "cached": cached}
    _memo[key, path] = {**result, "cached": True}
    return result

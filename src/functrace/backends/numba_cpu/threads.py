"""How many threads a parallel kernel uses, and how its work is cut (docs/performance.md,
"Threads under load").

A ``prange`` loop ends at a barrier: the call lasts as long as its slowest thread. On a
machine where another process holds a core, one of the kernel's threads is descheduled
for a scheduler slice at a time and every parallel region waits for it; the small CNN
step took 3-4x longer with Numba's two threads than with one. Two measures:

- **Chunks.** ``chunk_count`` cuts a kernel's rows into several chunks per thread, and
  ``Governor.run`` has Numba hand them out one at a time
  (``numba.set_parallel_chunksize(1)``) rather than one fixed share per thread, so a
  thread that fell behind holds back at most one chunk. Results never depend on the
  thread count: rows are independent, and the filter gradient's partial sums go to a
  fixed number of slots (``SLOTS``) summed in order.
- **Thread count.** ``Governor`` times each call of one kernel and runs it with the
  count that was faster lately: all of Numba's threads (``numba.get_num_threads()``, so
  ``NUMBA_NUM_THREADS`` or ``numba.set_num_threads`` still sets the most) or one. The
  other count is tried again now and then (``EXPLORE``: the more it lost by, the
  rarer), and at once when a call of the chosen count took longer than the other's
  recent median (the load changed).

``BlasGovernor`` makes the same choice for OpenBLAS's threads (the GEMM path's conv
kernels); programs holding a direct kernel run BLAS on one thread anyway
(``one_blas_thread``, ``blas.blas_threads``). No example or user sets thread counts.
"""

from __future__ import annotations

import functools
import math
import time

import numpy as np

from ...lax.dots import dot_general_p
from .blas import blas_threads, get_blas_threads
from .table import lowerings, reference_lowering

CHUNKS_PER_THREAD = 4  # chunks a parallel loop is cut into, per thread
SLOTS = 8              # partial-sum copies of a reduction split over chunks (at most)
EXPLORE = (8, 256)     # the other thread count is tried every 8 * r**2 calls (r: how
#                        many times slower it was lately), within these bounds: a trial
#                        costs r - 1 calls' time, so trials cost at most ~3% (r = 2)
WINDOW = 5             # samples kept per thread count (their median decides)
FIRST = 2              # samples of each count taken (alternating) before one is chosen:
#                        a kernel's first timed calls can be several times slower than
#                        later ones (a 3.6x outlier on the second call of a conv kernel
#                        kept it on one thread for ~20 calls), and the median of two is
#                        the faster one
MODE = "auto"          # "auto": the governor decides; "all": every thread; "one": one
DOT_MIN_FLOPS = 1 << 22  # dot_generals this big choose OpenBLAS's thread count per call


def _numba():
    import numba  # noqa: PLC0415 - Numba is imported on first use of a kernel

    return numba


def chunk_count(items: int, threads: int, per_thread: int | None = None) -> int:
    """How many chunks ``items`` rows are cut into for ``threads`` threads: several per
    thread so that a late thread holds back little, never more than ``items``, at least
    one."""
    per = CHUNKS_PER_THREAD if per_thread is None else per_thread
    return max(1, min(items, per * max(1, threads)))


def chunk_bounds(items: int, chunks: int, k: int) -> tuple[int, int]:
    """Rows ``[lo, hi)`` of chunk ``k`` of ``chunks``: the kernels' split, in Python (the
    chunks tile ``range(items)`` in order, sizes differing by at most one)."""
    return items * k // chunks, items * (k + 1) // chunks


def slot_count(items: int) -> int:
    """Partial-sum slots of a reduction over ``items`` chunks of work: a fixed number
    (not the thread count), so that its sum is the same whatever ran it."""
    return max(1, min(items, SLOTS))


class Governor:
    """Chooses one kernel's thread count, all or one, from its recent call times.

    ``run(fn, *args)`` calls ``fn`` with Numba's thread count set for the call (the
    calling thread's count is restored after) and dynamic chunk hand-out on, and records
    how long it took. Example::

        gov = Governor()
        for _ in range(100):
            gov.run(kernel, x, out)     # settles on the faster of 1 and N threads
    """

    def __init__(self):
        self.samples: dict[int, list[float]] = {}
        self.calls = 0
        self.since = 0        # calls since the other count was last tried
        self.retry = False    # try the other count on the next call

    def _median(self, n):
        s = sorted(self.samples[n])
        return s[(len(s) - 1) // 2]

    def choose(self, most: int) -> int:
        """The thread count for the next call, given that ``most`` are allowed."""
        if most <= 1 or MODE == "one":
            return 1
        if MODE == "all":
            return most
        counts = (most, 1)
        for k in range(1, FIRST + 1):  # each count measured FIRST times, alternating (the
            for n in counts:           # first call is not timed)
                if len(self.samples.get(n, ())) < k:
                    return n
        best, other = sorted(counts, key=self._median)
        ratio = self._median(other) / max(self._median(best), 1e-9)
        every = min(EXPLORE[1], max(EXPLORE[0], int(EXPLORE[0] * ratio * ratio)))
        if self.retry or self.since + 1 >= every:
            return other
        return best

    def record(self, n: int, seconds: float):
        s = self.samples.setdefault(n, [])
        s.append(seconds)
        if len(s) > WINDOW:
            del s[0]
        others = [m for m in self.samples if m != n and self.samples[m]]
        if not others:
            return
        other = others[0]
        if self._median(n) <= self._median(other):
            self.since += 1
            # the chosen count ran slower than the other one did lately: load changed?
            self.retry = seconds > self._median(other)
        else:  # this was the other count's trial
            self.since = 0
            self.retry = False

    def _timed(self, fn, args, most: int, set_count):
        """``fn(*args)`` on the chosen count of ``most`` threads (``set_count(n)`` switches;
        the count is restored after, even if ``fn`` raises); the time feeds the medians."""
        self.calls += 1
        first = self.calls == 1  # compiles or loads the kernels: not a timing
        n = most if first else self.choose(most)
        if n != most:
            set_count(n)
        try:
            t0 = time.perf_counter()
            out = fn(*args)
            elapsed = time.perf_counter() - t0
        finally:
            if n != most:
                set_count(most)
        if not first and MODE == "auto":  # forced counts would skew the medians
            self.record(n, elapsed)
        return out

    def run(self, fn, *args):
        """``fn(*args)`` with Numba's thread count chosen (and chunks handed out one at a
        time); the calling thread's settings are restored after."""
        numba = _numba()
        prev_chunk = numba.set_parallel_chunksize(1)
        try:
            return self._timed(fn, args, numba.get_num_threads(), numba.set_num_threads)
        finally:
            numba.set_parallel_chunksize(prev_chunk)


class BlasGovernor(Governor):
    """The same choice for OpenBLAS's thread count (process-wide, restored after the
    call): kernels that call BLAS many times on small GEMMs (``conv.py``'s GEMM path)."""

    def run(self, fn, *args):
        most = get_blas_threads()
        if most is None or most <= 1:  # unknown library, or already one (one_blas_thread)
            return fn(*args)
        return self._timed(fn, args, most, blas_threads)


def governed(body, blas: bool = False):
    """``body`` run under a governor of its own (one per compiled kernel): of Numba's
    threads, or with ``blas`` of OpenBLAS's."""
    gov = BlasGovernor() if blas else Governor()

    def run(*args):
        return gov.run(body, *args)

    functools.update_wrapper(run, body)  # name and module, as ``with_scratch``
    run.governor = gov
    return run


def lower_dot_general(eqn):
    """``dot_general`` on its reference impl (NumPy's BLAS), with OpenBLAS's thread count
    chosen per call (``BlasGovernor``) when the product has at least ``DOT_MIN_FLOPS``:
    beside a busy process, a 64x3136 @ 3136x128 float32 product took 58 ms on two
    OpenBLAS threads and 1.5 ms on one (docs/performance.md). A product with nothing to
    sum (vmap's per-example weight gradients) is a Numba loop (``outer_lowering``)."""
    lhs = eqn.inputs[0].aval
    out = eqn.outvars[0].aval
    (lc, _), _ = eqn.params["dimension_numbers"]
    k = math.prod(lhs.shape[i] for i in lc)
    if k == 1 and math.prod(out.shape) >= OUTER_MIN_SIZE:
        outer = outer_lowering(eqn)
        if outer is not None:
            return outer
    run = reference_lowering(eqn)
    flops = 2 * math.prod(out.shape) * k
    if flops < DOT_MIN_FLOPS or not np.issubdtype(out.dtype, np.inexact):
        return run
    return governed(run, blas=True)


OUTER_MIN_SIZE = 1 << 14  # outputs this big: NumPy's broadcast product of (B, M, 1) and
#                           (B, 1, N) ran 0.48 ms on (64, 512, 32), the loop 0.04 ms


def outer_lowering(eqn):
    """A batched outer product ``out[batch, lhs free, rhs free]`` of float operands of
    the output's dtype, or None."""
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    lhs, rhs = (v.aval for v in eqn.inputs)
    out = eqn.outvars[0].aval
    floats = (np.dtype(np.float32), np.dtype(np.float64))
    if not (lhs.dtype == rhs.dtype == out.dtype and out.dtype in floats):
        return None
    lf = [d for d in range(lhs.ndim) if d not in lc and d not in lb]
    rf = [d for d in range(rhs.ndim) if d not in rc and d not in rb]
    b = math.prod(lhs.shape[d] for d in lb)
    m = math.prod(lhs.shape[d] for d in lf)
    n = math.prod(rhs.shape[d] for d in rf)
    lperm, rperm = (*lb, *lf, *lc), (*rb, *rf, *rc)
    dtype = out.dtype
    import importlib  # noqa: PLC0415 - Numba is imported on first use of a kernel

    kern = importlib.import_module("._outer_kernels", __package__).outer

    def run(x, y):
        a = np.transpose(np.asarray(x), lperm).reshape(b, m)
        c = np.transpose(np.asarray(y), rperm).reshape(b, n)
        res = np.empty((b, m, n), dtype)
        gov.run(kern, a, c, res, chunk_count(b * m, _numba().get_num_threads()))
        return [res.reshape(out.shape)]

    gov = Governor()
    return run


lowerings[dot_general_p] = lower_dot_general

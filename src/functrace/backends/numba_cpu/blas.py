"""``cblas_?gemm`` of the OpenBLAS that NumPy itself uses, bound through ctypes.

The convolution kernels (``conv.py``) need what ``np.matmul`` cannot give: a GEMM
that accumulates (``beta = 1``) into a strided view of a buffer, with arbitrary
leading dimensions and offsets. ``Gemm`` calls the CBLAS symbol of NumPy's own
OpenBLAS (one thread pool, found in the process's maps or next to NumPy, and
checked on a small product before use), or falls back to ``np.matmul`` on views
where that library cannot be found. ``blas_threads`` sets that library's thread
count (programs with ``prange`` kernels run BLAS on one thread).
"""

from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


class _Cblas:
    """``cblas_?gemm`` of the OpenBLAS that NumPy itself uses (one thread pool)."""

    def __init__(self, lib, sname, dname, int_t):
        self.fns = {}
        for dt, name, ct in ((np.dtype(np.float32), sname, ctypes.c_float),
                             (np.dtype(np.float64), dname, ctypes.c_double)):
            fn = getattr(lib, name)
            fn.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, int_t, int_t, int_t, ct,
                           ctypes.c_void_p, int_t, ctypes.c_void_p, int_t, ct,
                           ctypes.c_void_p, int_t]
            fn.restype = None
            self.fns[dt] = fn
        # the library's thread-count functions, named as its sgemm is (prefix, suffix)
        pre, _, suf = sname.partition("cblas_sgemm")
        set_, get_ = (getattr(lib, f"{pre}openblas_{w}_num_threads{suf}", None)
                      for w in ("set", "get"))
        self.set_threads = self.get_threads = None
        if set_ is not None and get_ is not None:
            set_.argtypes, set_.restype, get_.restype = [ctypes.c_int], None, ctypes.c_int
            self.set_threads, self.get_threads = set_, get_


def blas_threads(n):
    """Sets the thread count of NumPy's OpenBLAS to ``n``; returns the previous count, or
    None (nothing changed) where the library or its thread functions are not found.

    Programs with direct convolutions run their BLAS calls on one thread: OpenBLAS's
    threads spin after each call and fought the kernels' ``prange`` for the two cores
    (docs/performance.md, "Thread pools").
    """
    blas = find_cblas()
    if blas is None or blas.set_threads is None:
        return None
    prev = blas.get_threads()
    if prev != n:
        blas.set_threads(n)
    return prev


def get_blas_threads():
    """The thread count of NumPy's OpenBLAS, or None where it cannot be read."""
    blas = find_cblas()
    if blas is None or blas.get_threads is None:
        return None
    return blas.get_threads()


_ROW_MAJOR, _NO_TRANS, _TRANS = 101, 111, 112
_cblas_state: list = []  # [] until looked up, then [_Cblas or None]


def _candidate_libs():
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and "openblas" in parts[-1].lower():
                    paths.append(parts[-1])
    except OSError:
        pass
    libs = os.path.join(os.path.dirname(np.__file__), os.pardir, "numpy.libs")
    paths += sorted(glob.glob(os.path.join(libs, "*openblas*")))
    seen, out = set(), []
    for p in sorted(paths, key=lambda p: "numpy" not in p):  # NumPy's own first
        if p not in seen:
            seen.add(p)
            out.append(p)
    return out


def _self_test(blas) -> bool:
    """Checks the binding (symbol, int width, offsets, leading dims, transposes, beta)."""
    rng = np.random.default_rng(0)
    for dt in _FLOATS:
        a = rng.standard_normal((7, 5)).astype(dt)
        b = rng.standard_normal(80).astype(dt)
        c = np.ones((4, 8), dt)
        isz = dt.itemsize
        # c[:, 1:] (4 x 7, ldc 8) += a[:3, 1:5].T (4 x 3, stored 3 x 4, lda 5) @ B (3 x 7, ldb 9)
        blas.fns[dt](_ROW_MAJOR, _TRANS, _NO_TRANS, 4, 7, 3, 1.0, a.ctypes.data + isz, 5,
                     b.ctypes.data + 8 * isz, 9, 1.0, c.ctypes.data + isz, 8)
        want = np.ones((4, 8), dt)
        want[:, 1:] += a[:3, 1:5].T @ b[8:8 + 27].reshape(3, 9)[:, :7]
        if not np.allclose(c, want, rtol=1e-4, atol=1e-4):
            return False
    return True


def find_cblas():
    if _cblas_state:
        return _cblas_state[0]
    found = None
    for path in _candidate_libs():
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, int_t in (("scipy_", "64_", ctypes.c_int64),
                                      ("", "64_", ctypes.c_int64),
                                      ("scipy_", "", ctypes.c_int32), ("", "", ctypes.c_int32)):
            sname, dname = f"{prefix}cblas_sgemm{suffix}", f"{prefix}cblas_dgemm{suffix}"
            if not (hasattr(lib, sname) and hasattr(lib, dname)):
                continue
            blas = _Cblas(lib, sname, dname, int_t)
            if _self_test(blas):
                found = blas
                break
        if found is not None:
            break
    _cblas_state.append(found)
    return found


class Gemm:
    """``C[co:] (m x n, ldc) = beta * C + op(A[ao:]) @ op(B[bo:])`` on flat buffers, all
    row-major; offsets and leading dimensions in elements."""

    def __init__(self, dtype, use_cblas: bool = True):
        self.dtype = np.dtype(dtype)
        blas = find_cblas() if use_cblas else None
        self.fn = None if blas is None else blas.fns[self.dtype]
        self.isz = self.dtype.itemsize

    def bind(self, arr):
        """A handle for a contiguous buffer: (flat array, address)."""
        return arr.reshape(-1), arr.ctypes.data

    def __call__(self, ta, tb, m, n, k, a, ao, lda, b, bo, ldb, beta, c, co, ldc):
        if m == 0 or n == 0:
            return
        if self.fn is not None:
            isz = self.isz
            self.fn(_ROW_MAJOR, _TRANS if ta else _NO_TRANS, _TRANS if tb else _NO_TRANS,
                    m, n, k, 1.0, a[1] + ao * isz, lda, b[1] + bo * isz, ldb, beta,
                    c[1] + co * isz, ldc)
            return
        av = self._view(a[0], ao, m, k, lda, ta)
        bv = self._view(b[0], bo, k, n, ldb, tb)
        cv = self._view(c[0], co, m, n, ldc, False)
        if beta:
            cv += av @ bv
        else:
            np.matmul(av, bv, out=cv)

    def _view(self, flat, off, rows, cols, ld, trans):
        s = self.isz
        if trans:
            return np.lib.stride_tricks.as_strided(flat[off:], (cols, rows), (ld * s, s)).T
        return np.lib.stride_tricks.as_strided(flat[off:], (rows, cols), (ld * s, s))

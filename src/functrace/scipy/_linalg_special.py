"""Special matrices of ``functrace.scipy.linalg``: the ones built from arrays
(``block_diag``, ``toeplitz``, ``hankel``, ``circulant``, ``companion``, ``leslie``,
``fiedler``, ``fiedler_companion``, ``convolution_matrix``) are gathers and pads, so they
differentiate and batch (leading axes map, as JAX's ``vectorize``); the ones built from a
size (``hilbert``, ``pascal``, ``hadamard``, ``dft``, ...) are constants computed on the host
in exact arithmetic and cast to JAX's dtype."""

from __future__ import annotations

import math
import operator

import numpy as np

from .. import numpy as fnp
from ..core.avals import canonicalize_dtype, default_float_dtype
from ..errors import ShapeError
from ..numpy._promote import _fmt, as_array, broadcast_shapes, promote_dtypes
from ._linalg_common import dtype_of, inexact, shape_of

__all__ = [
    "block_diag", "circulant", "companion", "convolution_matrix", "dft", "fiedler",
    "fiedler_companion", "hadamard", "hankel", "helmert", "hilbert", "invhilbert",
    "invpascal", "leslie", "pascal", "toeplitz",
]


def _vectors(op: str, *xs):
    """Promoted, at-least-1-D operands with their batch (all but the last axis)
    broadcast together."""
    xs = [fnp.atleast_1d(x) for x in promote_dtypes(*[as_array(x) for x in xs])]
    batch = broadcast_shapes(f"scipy.linalg.{op}", *[shape_of(x)[:-1] for x in xs])
    return [fnp.broadcast_to(x, batch + shape_of(x)[-1:]) for x in xs]


def _gather_last(v, idx: np.ndarray):
    """``v[..., idx]`` for an integer matrix ``idx`` (a traceable gather)."""
    return fnp.take(v, idx, axis=-1)


def block_diag(*arrs):
    """The block-diagonal matrix of the (at most 2-D) ``arrs``.

    Example:
        >>> block_diag(np.ones((1, 1), np.float32), 2 * np.ones((1, 2), np.float32))
        array([[1., 0., 0.],
               [0., 2., 2.]], dtype=float32)
    """
    if not arrs:
        arrs = (np.zeros((1, 0), default_float_dtype()),)
    arrs = promote_dtypes(*[as_array(a) for a in arrs])
    for i, a in enumerate(arrs):
        if len(shape_of(a)) > 2:
            raise ShapeError(f"scipy.linalg.block_diag: arguments must have at most 2 "
                             f"dimensions, got shape {_fmt(shape_of(a))} at argument {i}")
    mats = [fnp.atleast_2d(a) for a in arrs]
    total = sum(shape_of(a)[1] for a in mats)
    rows, col = [], 0
    for a in mats:
        cols = shape_of(a)[1]
        rows.append(fnp.pad(a, ((0, 0), (col, total - cols - col))))
        col += cols
    return fnp.concatenate(rows, axis=0)


def toeplitz(c, r=None):
    """The Toeplitz matrix with first column ``c`` and first row ``r`` (``r[0]`` is
    ignored; ``r = conj(c)`` by default, a Hermitian matrix). Leading axes are batch axes.

    Example:
        >>> toeplitz(np.array([1., 2., 3.], np.float32), np.array([1., 4.], np.float32))
        array([[1., 4.],
               [2., 1.],
               [3., 2.]], dtype=float32)
    """
    c = fnp.atleast_1d(as_array(c))
    r = fnp.conj(c) if r is None else r
    c, r = _vectors("toeplitz", c, r)
    m, n = shape_of(c)[-1], shape_of(r)[-1]
    if m == 0 or n == 0:
        return fnp.zeros(shape_of(c)[:-1] + (m, n), dtype_of(c))
    # out[i, j] = c[i - j] for i >= j, r[j - i] above: one gather from [c[::-1], r[1:]]
    elems = fnp.concatenate([fnp.flip(c, -1), r[..., 1:]], axis=-1)
    idx = (m - 1) - np.arange(m)[:, None] + np.arange(n)[None, :]
    return _gather_last(elems, idx)


def hankel(c, r=None):
    """The Hankel matrix with first column ``c`` and last row ``r`` (``r[0]`` is ignored;
    zeros by default). Leading axes are batch axes.

    Example:
        >>> hankel(np.array([1., 2., 3.], np.float32), np.array([3., 4.], np.float32))
        array([[1., 2.],
               [2., 3.],
               [3., 4.]], dtype=float32)
    """
    c = as_array(c)
    r = fnp.zeros_like(c) if r is None else as_array(r)
    for name, v in (("c", c), ("r", r)):
        if len(shape_of(v)) == 0:
            raise ShapeError(f"scipy.linalg.hankel: {name} must be at least 1-dimensional, "
                             "got a scalar")
    c, r = _vectors("hankel", c, r)
    m, n = shape_of(c)[-1], shape_of(r)[-1]
    if m == 0 or n == 0:
        return fnp.zeros(shape_of(c)[:-1] + (m, n), dtype_of(c))
    v = fnp.concatenate([c, r[..., 1:]], axis=-1)
    return _gather_last(v, np.arange(m)[:, None] + np.arange(n)[None, :])


def circulant(c):
    """The circulant matrix with first column ``c``: ``out[i, j] = c[(i - j) % n]``.

    Example:
        >>> circulant(np.array([1., 2., 3.], np.float32))
        array([[1., 3., 2.],
               [2., 1., 3.],
               [3., 2., 1.]], dtype=float32)
    """
    (c,) = _vectors("circulant", c)
    n = shape_of(c)[-1]
    return _gather_last(c, (np.arange(n)[:, None] - np.arange(n)[None, :]) % n)


def leslie(f, s):
    """The Leslie matrix: fecundities ``f`` (length ``n >= 2``) in the first row,
    survival rates ``s`` (length ``n - 1``) on the subdiagonal.

    Example:
        >>> leslie(np.array([0.5, 2.], np.float32), np.array([0.25], np.float32))
        array([[0.5 , 2.  ],
               [0.25, 0.  ]], dtype=float32)
    """
    f, s = (fnp.atleast_1d(x) for x in promote_dtypes(as_array(f), as_array(s)))
    n = shape_of(f)[-1]
    if n < 2:
        raise ShapeError(f"scipy.linalg.leslie: the length of f along the last axis must be at "
                         f"least 2; got shape {_fmt(shape_of(f))}")
    if shape_of(s)[-1] != n - 1:
        raise ShapeError(f"scipy.linalg.leslie: s must be one shorter than f along the last "
                         f"axis; got f of shape {_fmt(shape_of(f))} and s of shape "
                         f"{_fmt(shape_of(s))}")
    f, s = _vectors("leslie", f, s)
    zero = fnp.zeros(shape_of(s)[:-1] + (1,), dtype_of(s))
    sub = _gather_last(fnp.concatenate([zero, s], axis=-1),
                       np.where(np.eye(n, k=-1, dtype=bool),
                                np.arange(n)[None, :] + 1, 0)[1:])
    return fnp.concatenate([fnp.expand_dims(f, -2), sub], axis=-2)


def companion(a):
    """The companion matrix of the polynomial with coefficients ``a`` (highest first,
    length >= 2): first row ``-a[1:] / a[0]``, ones on the subdiagonal.

    Example:
        >>> companion(np.array([1., -3., 2.], np.float32))
        array([[ 3., -2.],
               [ 1.,  0.]], dtype=float32)
    """
    (a,) = inexact(a)
    a = fnp.atleast_1d(a)
    n = shape_of(a)[-1]
    if n < 2:
        raise ShapeError(f"scipy.linalg.companion: the length of a along the last axis must "
                         f"be at least 2; got shape {_fmt(shape_of(a))}")
    first = -a[..., 1:] / a[..., :1]
    m = n - 1
    rest = np.broadcast_to(np.eye(m, k=-1, dtype=dtype_of(a))[1:],
                           shape_of(a)[:-1] + (m - 1, m))
    return fnp.concatenate([fnp.expand_dims(first, -2), rest], axis=-2)


def fiedler(a):
    """The Fiedler matrix ``abs(a[i] - a[j])`` of the 1-D ``a``.

    Example:
        >>> fiedler(np.array([1., 4.], np.float32))
        array([[0., 3.],
               [3., 0.]], dtype=float32)
    """
    a = fnp.atleast_1d(as_array(a))
    return fnp.abs(fnp.expand_dims(a, -1) - fnp.expand_dims(a, -2))


def _fiedler_companion_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per entry of the ``(n, n)`` Fiedler companion matrix: the index into ``[0, 1, -a]``
    (0 and 1 are constants, ``2 + k`` is ``-a[k]``), as SciPy builds it."""
    idx = np.zeros((n, n), np.int64)
    for i in range(n):
        for j in range(n):
            even = i % 2 == 0
            if i == 0 and j == 0:
                idx[i, j] = 2 + 1
            elif i == 1 and j == 0:
                idx[i, j] = 1
            elif even and j == i + 1:
                idx[i, j] = 2 + min(i + 2, n)
            elif even and j == i + 2:
                idx[i, j] = 1
            elif even and j == i - 1 and i >= 2:
                idx[i, j] = 2 + min(i + 1, n)
            elif not even and j == i - 2 and i >= 3:
                idx[i, j] = 1
    return idx


def fiedler_companion(a):
    """The Fiedler companion matrix of the polynomial with coefficients ``a`` (highest
    first): a pentadiagonal matrix with the same eigenvalues as ``companion(a)``.

    Example:
        >>> fiedler_companion(np.array([1., -3., 2.], np.float32))
        array([[ 3., -2.],
               [ 1.,  0.]], dtype=float32)
    """
    (a,) = inexact(a)
    a = fnp.atleast_1d(a)
    if shape_of(a)[-1] == 0:
        raise ShapeError("scipy.linalg.fiedler_companion: the last axis of a must have nonzero "
                         f"length, got shape {_fmt(shape_of(a))}")
    n = shape_of(a)[-1] - 1
    if n == 0:
        return fnp.zeros(shape_of(a)[:-1] + (0, 0), dtype_of(a))
    a = a / a[..., :1]
    consts = np.broadcast_to(np.array([0, 1], dtype_of(a)), shape_of(a)[:-1] + (2,))
    table = fnp.concatenate([consts, -a], axis=-1)
    return _gather_last(table, _fiedler_companion_index(n))


def convolution_matrix(a, n: int, mode: str = "full"):
    """The Toeplitz matrix ``A`` with ``A @ v == convolve(a, v, mode)`` for ``v`` of length
    ``n``.

    Example:
        >>> convolution_matrix(np.array([1., 2.], np.float32), 2)
        array([[1., 0.],
               [2., 1.],
               [0., 2.]], dtype=float32)
    """
    n = operator.index(n)
    if n <= 0:
        raise ShapeError(f"scipy.linalg.convolution_matrix: n must be a positive integer; got "
                         f"{n}")
    a = as_array(a)
    if len(shape_of(a)) == 0:
        raise ShapeError("scipy.linalg.convolution_matrix: a must be at least 1-dimensional, "
                         "got a scalar")
    m = shape_of(a)[-1]
    if m < 1:
        raise ShapeError(f"scipy.linalg.convolution_matrix: len(a) must be at least 1; got "
                         f"shape {_fmt(shape_of(a))}")
    if mode not in ("full", "valid", "same"):
        raise ShapeError(f"scipy.linalg.convolution_matrix: mode must be one of 'full', "
                         f"'valid', 'same'; got {mode!r}")
    pad = [(0, 0)] * (len(shape_of(a)) - 1) + [(0, n - 1)]
    az, raz = fnp.pad(a, pad), fnp.pad(fnp.flip(a, -1), pad)
    total = m + n - 1
    trim = min(n, m) - 1
    tb, te = {"full": (0, 0), "valid": (trim, trim), "same": (trim // 2, trim - trim // 2)}[mode]
    return toeplitz(az[..., tb:total - te], raz[..., total - n - tb:total - tb])


# ---------------------------------------------------------------------------
# constants of a size

def _n(n, op: str) -> int:
    return operator.index(n)


def hilbert(n: int):
    """The Hilbert matrix ``1 / (i + j + 1)`` (default float dtype).

    Example:
        >>> hilbert(2)
        array([[1.        , 0.5       ],
               [0.5       , 0.33333334]], dtype=float32)
    """
    n = _n(n, "hilbert")
    a = np.arange(n, dtype=np.float64)
    return fnp.asarray((1 / (a[:, None] + a[None, :] + 1)).astype(default_float_dtype()))


def invhilbert(n: int):
    """The inverse of ``hilbert(n)``, from its closed form in exact integers (default float
    dtype; large ``n`` loses precision in float32, as in JAX).

    Example:
        >>> invhilbert(2)
        array([[ 4., -6.],
               [-6., 12.]], dtype=float32)
    """
    n = _n(n, "invhilbert")
    out = np.empty((n, n), np.float64)
    for i in range(n):
        for j in range(n):
            s = i + j
            out[i, j] = ((-1) ** s * (s + 1) * math.comb(n + i, n - j - 1)
                         * math.comb(n + j, n - i - 1) * math.comb(s, i) ** 2)
    return fnp.asarray(out.astype(default_float_dtype()))


_KINDS = ("symmetric", "lower", "upper")


def _pascal_lower(n: int) -> np.ndarray:
    return np.array([[math.comb(i, j) for j in range(n)] for i in range(n)], np.float64)


def pascal(n: int, kind: str | None = None):
    """The Pascal matrix: binomial coefficients, ``kind`` 'symmetric' (default), 'lower'
    or 'upper'. float32, as JAX.

    Example:
        >>> pascal(3)
        array([[1., 1., 1.],
               [1., 2., 3.],
               [1., 3., 6.]], dtype=float32)
    """
    kind = "symmetric" if kind is None else kind
    if kind not in _KINDS:
        raise ShapeError(f"scipy.linalg.pascal: expected kind to be one of {list(_KINDS)}; got "
                         f"{kind!r}")
    low = _pascal_lower(_n(n, "pascal"))
    out = {"lower": low, "upper": low.T, "symmetric": low @ low.T}[kind]
    return fnp.asarray(out.astype(np.float32))


def invpascal(n: int, kind: str | None = None):
    """The inverse of ``pascal(n, kind)`` (default float dtype).

    Example:
        >>> invpascal(3, kind="lower")
        array([[ 1.,  0.,  0.],
               [-1.,  1.,  0.],
               [ 1., -2.,  1.]], dtype=float32)
    """
    kind = "symmetric" if kind is None else kind
    if kind not in _KINDS:
        raise ShapeError(f"scipy.linalg.invpascal: expected kind to be one of {list(_KINDS)}; "
                         f"got {kind!r}")
    n = _n(n, "invpascal")
    i, j = np.arange(n)[:, None], np.arange(n)[None, :]
    low = (-1.0) ** (i - j) * _pascal_lower(n)
    out = {"lower": low, "upper": low.T, "symmetric": low.T @ low}[kind] + 0.0  # no -0.
    return fnp.asarray(out.astype(default_float_dtype()))


def helmert(n: int, full: bool = False):
    """The Helmert matrix: ``n - 1`` orthonormal rows orthogonal to the ones vector (with
    ``full=True`` also the first row ``1 / sqrt(n)``, an orthogonal matrix).

    Example:
        >>> helmert(2)
        array([[ 0.70710677, -0.70710677]], dtype=float32)
    """
    n = _n(n, "helmert")
    if n < 1:
        raise ShapeError(f"scipy.linalg.helmert: n must be a positive integer; got {n}")
    i, j = np.arange(n - 1)[:, None], np.arange(n)[None, :]
    k = (i + 1).astype(np.float64)
    denom = np.sqrt(k * (k + 1))
    h = np.where(j <= i, 1 / denom, np.where(j == i + 1, -k / denom, 0.0))
    if full:
        h = np.concatenate([np.full((1, n), 1 / np.sqrt(n)), h], axis=0)
    return fnp.asarray(h.astype(default_float_dtype()))


def hadamard(n: int, dtype=int):
    """The ``n x n`` Hadamard matrix (Sylvester's construction; ``n`` a power of 2).

    Example:
        >>> hadamard(2)
        array([[ 1,  1],
               [ 1, -1]], dtype=int32)
    """
    n = _n(n, "hadamard")
    if n < 1 or not math.log2(n).is_integer():
        raise ShapeError(f"scipy.linalg.hadamard: n must be a positive power of 2; got {n}")
    h = np.ones((1, 1), np.int64)
    for _ in range(int(math.log2(n))):
        h = np.block([[h, h], [h, -h]])
    return fnp.asarray(h.astype(canonicalize_dtype(dtype)))


def dft(n: int, scale: str | None = None, *, dtype=None):
    """The discrete Fourier transform matrix ``exp(-2 pi i j k / n)``: ``dft(n) @ x ==
    fft(x)``; ``scale`` None, 'sqrtn' or 'n' divides by 1, ``sqrt(n)`` or ``n``.

    Example:
        >>> dft(2).real
        array([[ 1.,  1.],
               [ 1., -1.]], dtype=float32)
    """
    n = _n(n, "dft")
    if scale is not None and scale not in ("sqrtn", "n"):
        raise ShapeError(f"scipy.linalg.dft: scale must be None, 'sqrtn', or 'n'; got {scale!r}")
    dt = canonicalize_dtype(np.complex128 if dtype is None else dtype)
    if dt.kind != "c":
        raise ShapeError(f"scipy.linalg.dft: dtype must be a complex floating-point type; got "
                         f"{dt}")
    a = np.arange(n)
    w = np.exp(-2j * np.pi * ((a[:, None] * a[None, :]) % max(n, 1)) / max(n, 1))
    w = w / {None: 1, "sqrtn": np.sqrt(n), "n": n}[scale]
    return fnp.asarray(w.astype(dt))


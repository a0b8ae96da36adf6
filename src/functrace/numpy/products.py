"""Products: ``matmul``, ``dot``, ``vdot``, ``inner``, ``outer``, ``tensordot``, ``einsum``,
``trace`` (``functrace.numpy``'s, NumPy's signatures). All of them lower to
``lax.dot_general`` (plus transposes and sums). ``functrace.numpy.linalg`` (``linalg.py``)
has the array API's ``matmul``, ``outer``, ``tensordot`` and ``trace``
(``linalg_extra.py``).
"""

from __future__ import annotations

import operator

import numpy as np

from .. import lax
from ..core.trace import get_aval
from ..errors import FunctraceError, ShapeError, no_sharding
from ._promote import (
    _fmt,
    as_array,
    broadcast_shapes,
    broadcast_to_shape,
    canonical_axis,
    promote_dtypes,
)
from .manip import ravel, reshape
from .math import multiply
from .reductions import sum as _sum


def _shape(x) -> tuple[int, ...]:
    return get_aval(x).shape


def _dot_general(a, b, contract, batch=((), ()), precision=None, preferred_element_type=None):
    return lax.dot_general(a, b, (tuple(map(tuple, contract)), tuple(map(tuple, batch))),
                           precision=precision, preferred_element_type=preferred_element_type)


def matmul(a, b, *, precision=None, preferred_element_type=None, out_sharding=None):
    """The matrix product ``a @ b`` with NumPy's rules: batch dims broadcast, and a 1-D
    operand is a row (``a``) or column (``b``) vector whose axis is removed afterwards.

    Example:
        >>> matmul(np.ones((5, 2, 3), np.float32), np.ones((3, 4), np.float32)).shape
        (5, 2, 4)
    """
    a, b = promote_dtypes(as_array(a), as_array(b))
    sa0, sb0 = _shape(a), _shape(b)
    if not sa0 or not sb0:
        raise ShapeError(f"matmul: operands must be at least 1-D, got shapes {_fmt(sa0)} and "
                         f"{_fmt(sb0)}; use multiply (*) for scalars")
    a_vec, b_vec = len(sa0) == 1, len(sb0) == 1
    if a_vec:
        a = lax.expand_dims(a, (0,))
    if b_vec:
        b = lax.expand_dims(b, (1,))
    sa, sb = _shape(a), _shape(b)
    if sa[-1] != sb[-2]:
        raise ShapeError(
            f"matmul: contraction dimension mismatch between shapes {_fmt(sa0)} and "
            f"{_fmt(sb0)}: the last axis of the first has size {sa[-1]} but the "
            f"{'only' if b_vec else 'second-to-last'} axis of the second has size {sb[-2]}")
    no_sharding("matmul", out_sharding=out_sharding)
    batch = broadcast_shapes("matmul", sa[:-2], sb[:-2])
    kw = dict(precision=precision, preferred_element_type=preferred_element_type)
    if len(sb) == 2:
        out = _dot_general(a, b, ((len(sa) - 1,), (0,)), **kw)
    elif len(sa) == 2:
        out = _dot_general(a, b, ((1,), (len(sb) - 2,)), **kw)  # (m,) + batch + (n,)
        nb = len(sb) - 2
        out = lax.transpose(out, tuple(range(1, nb + 1)) + (0, nb + 1))
    else:
        a = broadcast_to_shape(a, batch + sa[-2:], "matmul")
        b = broadcast_to_shape(b, batch + sb[-2:], "matmul")
        nb = len(batch)
        out = _dot_general(a, b, ((nb + 1,), (nb,)), (range(nb), range(nb)), **kw)
    nd = len(_shape(out))
    if b_vec:
        out = lax.squeeze(out, (nd - 1,))
        nd -= 1
    if a_vec:
        out = lax.squeeze(out, (nd - 1 if b_vec else nd - 2,))
    return out


def dot(a, b, *, precision=None, preferred_element_type=None, out_sharding=None):
    """NumPy's ``dot``: a scalar product for scalars, the inner product of vectors, and
    otherwise a sum over the last axis of ``a`` and the second-to-last of ``b``.

    Example:
        >>> dot(np.ones((2, 3), np.float32), np.ones(3, np.float32))
        array([3., 3.], dtype=float32)
    """
    no_sharding("dot", out_sharding=out_sharding)
    a, b = promote_dtypes(a, b)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return _scalar_product(a, b, preferred_element_type)
    cb = 0 if len(sb) == 1 else len(sb) - 2
    if sa[-1] != sb[cb]:
        raise ShapeError(f"dot: shapes {_fmt(sa)} and {_fmt(sb)} not aligned: {sa[-1]} "
                         f"(dim {len(sa) - 1}) != {sb[cb]} (dim {cb})")
    return _dot_general(a, b, ((len(sa) - 1,), (cb,)), precision=precision,
                        preferred_element_type=preferred_element_type)


def _scalar_product(a, b, preferred_element_type):
    if preferred_element_type is not None:  # as JAX: both operands cast first
        a, b = (lax.convert_element_type(x, preferred_element_type) for x in (a, b))
    return multiply(a, b)


def vdot(a, b, *, precision=None, preferred_element_type=None):
    """The dot product of the flattened inputs, conjugating the first if complex.

    Example:
        >>> vdot(np.array([1 + 1j], np.complex64), np.array([1 + 0j], np.complex64))
        array(1.-1.j, dtype=complex64)
    """
    a, b = promote_dtypes(a, b)
    if get_aval(a).dtype.kind == "c":
        a = lax.conj(a)
    return dot(ravel(a), ravel(b), precision=precision,
               preferred_element_type=preferred_element_type)


def inner(a, b, *, precision=None, preferred_element_type=None):
    """The sum product over the last axes of ``a`` and ``b``; ``preferred_element_type``
    is the accumulation and result dtype.

    Example:
        >>> inner(np.ones(3, np.int8), np.ones(3, np.int8), preferred_element_type=np.int32)
        array(3, dtype=int32)
    """
    a, b = promote_dtypes(a, b)
    sa, sb = _shape(a), _shape(b)
    if not sa or not sb:
        return _scalar_product(a, b, preferred_element_type)
    if sa[-1] != sb[-1]:
        raise ShapeError(f"inner: shapes {_fmt(sa)} and {_fmt(sb)} not aligned: the last axes "
                         f"have sizes {sa[-1]} and {sb[-1]}")
    return _dot_general(a, b, ((len(sa) - 1,), (len(sb) - 1,)), precision=precision,
                        preferred_element_type=preferred_element_type)


def outer(a, b, out=None):
    """The outer product of the flattened inputs: ``out[i, j] = a[i] * b[j]`` (``out``
    must be None: arrays are immutable)."""
    no_sharding("outer", out=out)
    a, b = (ravel(x) for x in promote_dtypes(a, b))
    return multiply(reshape(a, (-1, 1)), reshape(b, (1, -1)))


def _axes_list(ax, nd: int) -> tuple[int, ...]:
    if isinstance(ax, int | np.integer):
        ax = (ax,)
    return tuple(canonical_axis(operator.index(x), nd, "tensordot") for x in ax)


def tensordot(a, b, axes=2, *, precision=None, preferred_element_type=None,
              out_sharding=None):
    """Sums products over ``axes``: an int ``n`` (the last ``n`` of ``a`` with the first
    ``n`` of ``b``) or a pair ``(axes_a, axes_b)``.

    Example:
        >>> tensordot(np.ones((2, 3, 4), np.float32), np.ones((3, 4, 5), np.float32)).shape
        (2, 5)
    """
    no_sharding("tensordot", out_sharding=out_sharding)
    a, b = promote_dtypes(as_array(a), as_array(b))
    sa, sb = _shape(a), _shape(b)
    if isinstance(axes, int | np.integer):
        n = int(axes)
        if n < 0 or n > len(sa) or n > len(sb):
            raise ShapeError(f"tensordot: axes={n} is out of range for shapes {_fmt(sa)} and "
                             f"{_fmt(sb)}")
        ca, cb = tuple(range(len(sa) - n, len(sa))), tuple(range(n))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError):
            raise ShapeError("tensordot: axes must be an int or a pair of axis sequences, got "
                             f"{axes!r}") from None
        ca, cb = _axes_list(axes_a, len(sa)), _axes_list(axes_b, len(sb))
    if len(ca) != len(cb) or any(sa[i] != sb[j] for i, j in zip(ca, cb, strict=False)):
        raise ShapeError(f"tensordot: shape mismatch: axes {ca} of {_fmt(sa)} do not match "
                         f"axes {cb} of {_fmt(sb)}")
    return _dot_general(a, b, (ca, cb), precision=precision,
                        preferred_element_type=preferred_element_type)


# ---------------------------------------------------------------------------
# einsum

_ELLIPSIS_POOL = [chr(0x100 + i) for i in range(64)]  # private labels for '...' dims


def _parse_einsum(subscripts: str, ndims: list[int]) -> tuple[list[str], str]:
    spec = subscripts.replace(" ", "")
    if "->" in spec:
        lhs, out = spec.split("->")
        explicit = True
    else:
        lhs, out, explicit = spec, "", False
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ShapeError(f"einsum: {subscripts!r} names {len(terms)} operand(s) but "
                         f"{len(ndims)} were given")
    n_ell = 0
    for t, nd in zip(terms, ndims, strict=True):
        if "..." in t:
            n_ell = max(n_ell, nd - len(t.replace("...", "")))
    ell = "".join(_ELLIPSIS_POOL[:n_ell])
    labels = []
    for t, nd in zip(terms, ndims, strict=True):
        plain = t.replace("...", "")
        if not all(c.isalpha() for c in plain) or t.count("...") > 1:
            raise ShapeError(f"einsum: invalid subscripts {t!r} in {subscripts!r}")
        k = nd - len(plain)
        if (k != 0 and "..." not in t) or k < 0:
            raise ShapeError(f"einsum: subscripts {t!r} name {len(plain)} axes but the operand "
                             f"has {nd}")
        labels.append(t.replace("...", ell[n_ell - k:]))
    if explicit:
        out = out.replace("...", ell)
        if not all(c.isalpha() or c in ell for c in out) or len(set(out)) != len(out):
            raise ShapeError(f"einsum: invalid output subscripts in {subscripts!r}")
        missing = [c for c in out if not any(c in t for t in labels)]
        if missing:
            raise ShapeError(f"einsum: output subscript {missing[0]!r} does not appear in the "
                             f"inputs of {subscripts!r}")
    else:
        counts: dict[str, int] = {}
        for t in labels:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    return labels, out


def _label_sizes(labels: list[str], operands, subscripts: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for t, x in zip(labels, operands, strict=True):
        for c, n in zip(t, _shape(x), strict=True):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ShapeError(f"einsum: size of label {c!r} differs between operands "
                                 f"({sizes[c]} and {n}) in {subscripts!r}")
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
    return sizes


def _take_diagonals(x, labels: str):
    """Removes repeated labels of one operand by keeping only its diagonal."""
    while len(set(labels)) != len(labels):
        c = next(c for c in labels if labels.count(c) > 1)
        i = labels.index(c)
        j = labels.index(c, i + 1)
        shape = _shape(x)
        mask = lax.eq(lax.broadcasted_iota(np.int32, shape, i),
                      lax.broadcasted_iota(np.int32, shape, j))
        x = lax.select(mask, x, lax.full(shape, 0, get_aval(x).dtype))
        x = lax.reduce_sum(x, (j,))
        labels = labels[:j] + labels[j + 1:]
    return x, labels


def _sum_labels(x, labels: str, drop: set[str]):
    axes = tuple(i for i, c in enumerate(labels) if c in drop)
    if not axes:
        return x, labels
    return lax.reduce_sum(x, axes), "".join(c for c in labels if c not in drop)


def einsum(subscripts: str, /, *operands, out=None, optimize=None, precision=None,
           preferred_element_type=None, out_sharding=None):
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', x, y)`` (explicit) or
    ``einsum('ij,jk', x, y)`` (implicit: labels seen once, sorted). ``...`` stands for
    broadcast leading axes; several operands are contracted pairwise from the left.

    Example:
        >>> einsum('ij,jk->ik', np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)).shape
        (2, 4)
    """
    del optimize
    no_sharding("einsum", out=out, out_sharding=out_sharding)
    if not isinstance(subscripts, str):
        raise FunctraceError("einsum: only the string form einsum('ij,jk->ik', a, b) is "
                             "supported")
    if not operands:
        raise ShapeError("einsum: needs at least one operand")
    ops = promote_dtypes(*[as_array(o) for o in operands])
    labels, out = _parse_einsum(subscripts, [len(_shape(o)) for o in ops])
    sizes = _label_sizes(labels, ops, subscripts)
    prepared = []
    for x, t in zip(ops, labels, strict=True):
        x, t = _take_diagonals(x, t)
        target = tuple(sizes[c] for c in t)
        if _shape(x) != target:
            x = broadcast_to_shape(x, target, "einsum")
        prepared.append((x, t))
    kw = dict(precision=precision, preferred_element_type=preferred_element_type)
    for k in range(len(prepared)):
        x, t = prepared[k]
        others = set(out).union(*[s for _, s in prepared[k + 1:]])
        if k == 0:
            res, rl = _sum_labels(x, t, set(t) - others)
            continue
        x, t = _sum_labels(x, t, set(t) - others - set(rl))
        res, rl = _sum_labels(res, rl, set(rl) - others - set(t))
        batch = [c for c in rl if c in t and c in others]
        contract = [c for c in rl if c in t and c not in others]
        res = _dot_general(res, x, ([rl.index(c) for c in contract],
                                    [t.index(c) for c in contract]),
                           ([rl.index(c) for c in batch], [t.index(c) for c in batch]), **kw)
        rl = ("".join(batch) + "".join(c for c in rl if c not in t)
              + "".join(c for c in t if c not in rl))
    res, rl = _sum_labels(res, rl, set(rl) - set(out))
    return lax.transpose(res, tuple(rl.index(c) for c in out))


def trace(a, offset: int = 0, axis1: int = 0, axis2: int = 1, dtype=None, out=None):
    """The sum along a diagonal of ``a`` (over ``axis1``/``axis2``); ``out`` must be None.

    Example:
        >>> trace(np.eye(3, dtype=np.float32), offset=1)
        array(0., dtype=float32)
    """
    no_sharding("trace", out=out)
    x = as_array(a)
    nd = len(_shape(x))
    i, j = canonical_axis(axis1, nd, "trace"), canonical_axis(axis2, nd, "trace")
    shape = _shape(x)
    mask = lax.eq(lax.add(lax.broadcasted_iota(np.int32, shape, i), np.int32(offset)),
                  lax.broadcasted_iota(np.int32, shape, j))
    x = lax.select(mask, x, lax.full(shape, 0, get_aval(x).dtype))
    return _sum(x, axis=(i, j), dtype=dtype)  # fnp.sum's accumulation dtypes (bool -> int)

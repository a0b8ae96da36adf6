"""Convolution helpers under JAX's names: the shape functions (``conv_shape_tuple``,
``conv_general_shape_tuple``, ``conv_transpose_shape_tuple``,
``reduce_window_shape_tuple``, ``conv_general_permutations``), patch extraction
(``conv_general_dilated_patches``) and the unshared convolution
(``conv_general_dilated_local``), all built on ``conv_general_dilated``."""

from __future__ import annotations

import numpy as np

from ..core.trace import get_aval
from ..errors import ShapeError
from ._geometry import dilate_dim, padtype_to_pads
from .convolution import (
    _conv_general_permutations,
    _conv_transpose_padding,
    conv_dimension_numbers,
    conv_general_dilated,
)
from .dots import dot_general
from .shape_ops import reshape, transpose

__all__ = ["conv_general_dilated_local", "conv_general_dilated_patches",
           "conv_general_permutations", "conv_general_shape_tuple", "conv_shape_tuple",
           "conv_transpose_shape_tuple", "reduce_window_shape_tuple"]


def conv_general_permutations(dimension_numbers):
    """The permutations that put each operand in ``(N, C, *spatial)`` /
    ``(O, I, *spatial)`` order, for three spec strings (``jax.lax``).

    Example:
        >>> conv_general_permutations(("NHWC", "HWIO", "NHWC"))
        ((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    """
    if not (isinstance(dimension_numbers, tuple | list) and len(dimension_numbers) == 3
            and all(isinstance(s, str) for s in dimension_numbers)):
        raise TypeError("conv_general_permutations: dimension_numbers must be three spec "
                        f"strings such as ('NHWC', 'HWIO', 'NHWC'), got {dimension_numbers!r}")
    try:
        dn = _conv_general_permutations(tuple(dimension_numbers), len(dimension_numbers[0]))
    except ShapeError as e:
        raise TypeError(str(e)) from None
    return tuple(dn)


def conv_shape_tuple(lhs_shape, rhs_shape, strides, pads, batch_group_count: int = 1):
    """The output shape of a convolution in ``NC...``/``OI...`` layout (``jax.lax``).

    Example:
        >>> conv_shape_tuple((2, 3, 9, 9), (8, 3, 3, 3), (2, 2), "SAME")
        (2, 8, 5, 5)
    """
    if isinstance(pads, str):
        pads = padtype_to_pads(lhs_shape[2:], rhs_shape[2:], strides, pads,
                               op="conv_shape_tuple")
    if len(pads) != len(lhs_shape) - 2:
        raise TypeError(f"conv_shape_tuple: {len(pads)} padding pairs for "
                        f"{len(lhs_shape) - 2} spatial dims")
    space = tuple(max(0, (n + lo + hi - k) // s + 1) for n, k, s, (lo, hi) in
                  zip(lhs_shape[2:], rhs_shape[2:], strides, pads, strict=True))
    batch = lhs_shape[0] // batch_group_count if batch_group_count > 1 else lhs_shape[0]
    return (int(batch), int(rhs_shape[0])) + tuple(int(n) for n in space)


def _perms(lhs_shape, rhs_shape, dimension_numbers):
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    return dn.lhs_spec, dn.rhs_spec, dn.out_spec


def conv_general_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                             dimension_numbers):
    """``conv_shape_tuple`` for operands laid out by ``dimension_numbers``; the result is
    in the output's layout (``jax.lax``)."""
    lp, rp, op = _perms(lhs_shape, rhs_shape, dimension_numbers)
    out = conv_shape_tuple([lhs_shape[i] for i in lp], [rhs_shape[i] for i in rp],
                           window_strides, padding)
    return tuple(out[i] for i in np.argsort(op))


def conv_transpose_shape_tuple(lhs_shape, rhs_shape, window_strides, padding,
                               dimension_numbers):
    """The output shape of ``conv_transpose`` with these operands (``jax.lax``)."""
    lp, rp, op = _perms(lhs_shape, rhs_shape, dimension_numbers)
    lhs = [lhs_shape[i] for i in lp]
    rhs = [rhs_shape[i] for i in rp]
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise ShapeError(f"conv_transpose_shape_tuple: unknown padding {padding!r}")
        padding = [_conv_transpose_padding(k, s, padding.upper())
                   for k, s in zip(rhs[2:], window_strides, strict=True)]
    space = [(n - 1) * s - k + 2 + lo + hi for n, k, s, (lo, hi) in
             zip(lhs[2:], rhs[2:], window_strides, padding, strict=True)]
    out = (lhs[0], rhs[0], *space)
    return tuple(int(out[i]) for i in np.argsort(op))


def reduce_window_shape_tuple(operand_shape, window_dimensions, window_strides, padding,
                              base_dilation=None, window_dilation=None):
    """The output shape of ``reduce_window`` with explicit ``(lo, hi)`` padding
    (``jax.lax``).

    Example:
        >>> reduce_window_shape_tuple((4, 6), (2, 2), (2, 2), ((0, 0), (0, 0)))
        (2, 3)
    """
    n = len(operand_shape)
    base = base_dilation or (1,) * n
    wdil = window_dilation or (1,) * n
    return tuple(int((dilate_dim(d, b) + lo + hi - dilate_dim(w, r)) // s + 1)
                 for d, w, s, (lo, hi), b, r in zip(operand_shape, window_dimensions,
                                                    window_strides, padding, base, wdil,
                                                    strict=True))


def conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                 lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                                 precision=None, preferred_element_type=None):
    """The patches a convolution with this geometry would see, flattened into the
    feature dim (``jax.lax.conv_general_dilated_patches``): feature ``c * P + p`` of the
    output holds input channel ``c`` at filter position ``p`` (row-major over
    ``filter_shape``, given in the rhs spec's spatial order).

    Example:
        >>> import numpy as np
        >>> x = np.arange(16, dtype=np.float32).reshape(1, 1, 4, 4)
        >>> conv_general_dilated_patches(x, (2, 2), (2, 2), "VALID")[0, :, 0, 0]
        array([0., 1., 4., 5.], dtype=float32)
    """
    shape = get_aval(lhs).shape
    nd = len(shape) - 2
    filter_shape = tuple(int(k) for k in filter_shape)
    if len(filter_shape) != nd:
        raise ShapeError(f"conv_general_dilated_patches: filter_shape {filter_shape} must "
                         f"have {nd} spatial sizes for an operand of rank {len(shape)}")
    rhs_like = (1, 1) + filter_shape
    dn = conv_dimension_numbers(shape, rhs_like, dimension_numbers)
    channels = shape[dn.lhs_spec[1]]
    positions = int(np.prod(filter_shape))
    dtype = get_aval(lhs).dtype
    # one output feature per (channel, position): a one-hot filter, grouped by channel
    eye = np.eye(positions, dtype=dtype).reshape((positions, 1) + filter_shape)
    rhs = np.tile(eye, (channels,) + (1,) * (nd + 1))  # (C * P, 1, *filter) in OI...
    rhs_spec = dimension_numbers[1] if (isinstance(dimension_numbers, tuple | list)
                                        and isinstance(dimension_numbers[1], str)) else None
    canonical = "OI" + "".join(chr(ord("a") + i) for i in range(nd))
    if rhs_spec is not None:  # the caller's rhs layout: filter_shape is in its order
        spatial = [c for c in rhs_spec if c not in "OI"]
        canonical = "OI" + "".join(spatial)
        rhs = np.transpose(rhs, [canonical.index(c) for c in rhs_spec])
    else:
        rhs = np.transpose(rhs, np.argsort(dn.rhs_spec))
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
                                feature_group_count=channels, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_general_dilated_local(lhs, rhs, window_strides, padding, filter_shape,
                               lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                               precision=None):
    """An unshared convolution (``jax.lax.conv_general_dilated_local``): every output
    position has its own filter. ``rhs`` has the output's spatial sizes, an ``I`` dim of
    ``in_features * prod(filter_shape)`` (channel-major, as
    ``conv_general_dilated_patches`` orders patches) and an ``O`` dim of out features.
    """
    patches = conv_general_dilated_patches(lhs, filter_shape, window_strides, padding,
                                           lhs_dilation, rhs_dilation, dimension_numbers,
                                           precision)
    pshape = get_aval(patches).shape
    rshape = get_aval(rhs).shape
    dn = conv_dimension_numbers(pshape, rshape, dimension_numbers)
    # canonical orders: patches (N, K, *S), rhs (O, K, *S)
    p = transpose(patches, dn.out_spec)
    r = transpose(rhs, dn.rhs_spec)
    n, k, space = p.shape[0], p.shape[1], p.shape[2:]
    o = r.shape[0]
    if tuple(r.shape[1:]) != (k, *space):
        raise ShapeError(f"conv_general_dilated_local: rhs must have I = {k} (in features "
                         f"x filter positions) and the output's spatial sizes {tuple(space)}"
                         f", got {tuple(rshape)}")
    size = int(np.prod(space))
    p2 = transpose(reshape(p, (n, k, size)), (2, 0, 1))           # (S, N, K)
    r2 = transpose(reshape(r, (o, k, size)), (2, 1, 0))           # (S, K, O)
    out = dot_general(p2, r2, (((2,), (1,)), ((0,), (0,))), precision=precision)  # (S,N,O)
    out = reshape(transpose(out, (1, 2, 0)), (n, o, *space))     # (N, O, *S)
    return transpose(out, tuple(np.argsort(dn.out_spec)))

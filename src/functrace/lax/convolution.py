"""Convolution: ``conv_general_dilated`` and the two primitives of its derivatives.

``conv_general_dilated(lhs, rhs)`` is bilinear, and so are its cotangents:

- ``conv_grad_input(ct, rhs)``: the cotangent of lhs given the output cotangent;
- ``conv_grad_filter(lhs, ct)``: the cotangent of rhs given the output cotangent.

All three share the forward convolution's params (the grad primitives add the
shape of the operand they produce, which strides make ambiguous), and all three
are slices of one trilinear form ``T(lhs, rhs, ct) = <conv(lhs, rhs), ct>``, so
each one's jvp is itself applied to one tangent at a time and each one's
transposes are the other two. They are dedicated primitives, not generic dilated
convolutions, so that each gets its own fast kernel (see DESIGN.md).

Dimension numbers follow ``jax.lax``: ``ConvDimensionNumbers(lhs_spec, rhs_spec,
out_spec)`` gives, for each operand, the positions of (batch, feature, *spatial),
resp. (out feature, in feature, *spatial). The NumPy kernels are in ``_conv_impl``.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

from ..core.avals import ShapedArray, canonicalize_dtype
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, FunctraceError, ShapeError
from ..transforms.ad import defjvp, is_undefined_primal, transpose_rules
from ..transforms.batching import axis_size, batching_rules, bdim_at_front, moveaxis, not_mapped
from . import _conv_impl
from ._conv_impl import dilate_dim
from .dots import canonical_precision
from .shape_ops import convert_element_type, reshape, transpose
from .slicing import rev

__all__ = [
    "ConvDimensionNumbers", "conv", "conv_dimension_numbers", "conv_general_dilated",
    "conv_general_dilated_p", "conv_grad_filter", "conv_grad_filter_p", "conv_grad_input",
    "conv_grad_input_p", "conv_transpose", "conv_with_general_padding", "padtype_to_pads",
]


class ConvDimensionNumbers(NamedTuple):
    """Where the dims of each convolution operand are (``jax.lax.ConvDimensionNumbers``).

    ``lhs_spec = (batch, feature, *spatial)``, ``rhs_spec = (out feature, in feature,
    *spatial)`` and ``out_spec = (batch, feature, *spatial)``, each a permutation of
    the operand's dims; spatial dims are listed in the same order in all three.
    """
    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


_PADDINGS = ("VALID", "SAME", "SAME_LOWER")


# ---------------------------------------------------------------------------
# dimension numbers, padding, params

def _conv_general_permutations(specs, ndim: int) -> ConvDimensionNumbers:
    pairs = (("lhs", "NC"), ("rhs", "OI"), ("out", "NC"))
    for spec, (name, pair) in zip(specs, pairs, strict=True):
        if len(spec) != ndim:
            raise ShapeError(
                f"conv: dimension_numbers {name} spec {spec!r} has {len(spec)} characters but "
                f"the operands have rank {ndim}; give one character per dim (e.g. "
                f"{'NCHW' if pair == 'NC' else 'OIHW'!r} for rank 4).")
        if spec.count(pair[0]) != 1 or spec.count(pair[1]) != 1 or len(set(spec)) != ndim:
            raise ShapeError(
                f"conv: unknown dimension_numbers {name} spec {spec!r}: it must contain "
                f"{pair[0]!r} and {pair[1]!r} exactly once and name each dim once (e.g. "
                f"{'NHWC' if pair == 'NC' else 'HWIO'!r}).")
    lhs, rhs, out = specs
    if not set(lhs) - set("NC") == set(rhs) - set("OI") == set(out) - set("NC"):
        raise ShapeError(f"conv: dimension_numbers {tuple(specs)} must use the same spatial "
                         "characters in all three specs.")

    def perm(spec, pair, is_rhs):
        spatial = [i for i, c in enumerate(spec) if c not in pair]
        if not is_rhs:  # spatial dims in the order the rhs spec lists them
            spatial.sort(key=lambda i: rhs.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1])) + tuple(spatial)

    return ConvDimensionNumbers(perm(lhs, "NC", False), perm(rhs, "OI", True),
                                perm(out, "NC", False))


def conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers) -> ConvDimensionNumbers:
    """Canonicalises ``dimension_numbers`` (``jax.lax.conv_dimension_numbers``).

    Args:
        lhs_shape, rhs_shape: the operand shapes (same rank, at least 3).
        dimension_numbers: ``None`` (``NC...``/``OI...``/``NC...``: ``NCHW``, ``OIHW``,
            ``NCHW`` in 2-D), a triple of strings such as ``('NHWC', 'HWIO', 'NHWC')``,
            or a ``ConvDimensionNumbers``.
    Returns:
        A ``ConvDimensionNumbers`` of int tuples.

    Example:
        >>> conv_dimension_numbers((1, 5, 5, 3), (3, 3, 3, 8), ('NHWC', 'HWIO', 'NHWC'))
        ConvDimensionNumbers(lhs_spec=(0, 3, 1, 2), rhs_spec=(3, 2, 0, 1), out_spec=(0, 3, 1, 2))
    """
    ndim = len(lhs_shape)
    if ndim != len(rhs_shape) or ndim < 3:
        raise ShapeError(
            f"conv: lhs of shape {tuple(lhs_shape)} and rhs of shape {tuple(rhs_shape)} must "
            "have the same rank, at least 3 (batch, feature and one or more spatial dims).")
    if dimension_numbers is None:
        iota = tuple(range(ndim))
        return ConvDimensionNumbers(iota, iota, iota)
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        dn = ConvDimensionNumbers(*(tuple(int(d) for d in s) for s in dimension_numbers))
        _check_dimension_numbers(dn, ndim, "conv")
        return dn
    if (isinstance(dimension_numbers, tuple | list) and len(dimension_numbers) == 3
            and all(isinstance(s, str) for s in dimension_numbers)):
        return _conv_general_permutations(tuple(dimension_numbers), ndim)
    raise ShapeError(
        "conv: dimension_numbers must be None, a ConvDimensionNumbers or three strings such "
        f"as ('NHWC', 'HWIO', 'NHWC'), got {dimension_numbers!r}")


def _check_dimension_numbers(dn, ndim: int, op: str) -> None:
    if not isinstance(dn, ConvDimensionNumbers):
        raise ShapeError(f"{op}: dimension_numbers must be a ConvDimensionNumbers, got {dn!r}; "
                         "use conv_dimension_numbers to build one.")
    for name, spec in zip(ConvDimensionNumbers._fields, dn, strict=True):
        if sorted(spec) != list(range(ndim)):
            raise ShapeError(f"{op}: dimension_numbers.{name} {spec} is not a permutation of "
                             f"the {ndim} dims of the operands.")


def padtype_to_pads(in_shape, window_shape, window_strides, padding) -> tuple:
    """Explicit ``(lo, hi)`` pairs for a padding name (``jax.lax.padtype_to_pads``).

    ``'SAME'`` pads so that ``out = ceil(in / stride)``, the odd element going high;
    ``'SAME_LOWER'`` puts it low; ``'VALID'`` does not pad.

    Example:
        >>> padtype_to_pads((6,), (3,), (2,), 'SAME')
        ((0, 1),)
    """
    name = padding.upper()
    if name not in _PADDINGS:
        raise ShapeError(f"conv: unknown padding {padding!r}; use one of {_PADDINGS} or a "
                         "sequence of (low, high) pairs, one per spatial dim.")
    if name == "VALID":
        return ((0, 0),) * len(in_shape)
    pads = []
    for d, k, s in zip(in_shape, window_shape, window_strides, strict=True):
        total = max((-(-d // s) - 1) * s + k - d, 0)
        half = total // 2
        pads.append((half, total - half) if name == "SAME" else (total - half, half))
    return tuple(pads)


def _int_tuple(xs, n: int, what: str, default: int | None = None) -> tuple[int, ...]:
    if xs is None and default is not None:
        return (default,) * n
    try:
        out = tuple(operator.index(x) for x in xs)
    except TypeError:
        raise ShapeError(f"conv: {what} must be a sequence of {n} ints (one per spatial "
                         f"dim), got {xs!r}") from None
    if len(out) != n:
        raise ShapeError(f"conv: {what} {out} has {len(out)} entries but the operands have "
                         f"{n} spatial dims; give one per spatial dim.")
    return out


def _check_positive(values, what: str, op: str) -> None:
    if any(v < 1 for v in values):
        raise ShapeError(f"{op}: {what} must be positive, got {values}.")


def _spatial(shape, spec) -> tuple[int, ...]:
    return tuple(shape[d] for d in spec[2:])


# ---------------------------------------------------------------------------
# the shared shape rule

def _conv_out_shape(lhs: ShapedArray, rhs: ShapedArray, *, window_strides, padding,
                    lhs_dilation, rhs_dilation, dimension_numbers, feature_group_count,
                    batch_group_count, op: str) -> tuple[int, ...]:
    """Checks a convolution of ``lhs`` by ``rhs``; returns the output shape."""
    if lhs.ndim != rhs.ndim or lhs.ndim < 3:
        raise ShapeError(f"{op}: lhs of shape {lhs.shape} and rhs of shape {rhs.shape} must "
                         "have the same rank, at least 3.")
    if lhs.dtype != rhs.dtype:
        raise DTypeError(
            f"{op} requires lhs and rhs of the same dtype, got {lhs.str_short()} and "
            f"{rhs.str_short()}; cast one with lax.convert_element_type "
            "(preferred_element_type chooses the output dtype).")
    if lhs.dtype == np.bool_:
        raise DTypeError(f"{op}: boolean operands are not supported, got {lhs.str_short()}.")
    nd = lhs.ndim - 2
    _check_dimension_numbers(dimension_numbers, lhs.ndim, op)
    for what, vals in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                       ("rhs_dilation", rhs_dilation), ("padding", padding)):
        if len(vals) != nd:
            raise ShapeError(f"{op}: {what} {vals} has {len(vals)} entries but the operands "
                             f"have {nd} spatial dims.")
        if what != "padding":
            _check_positive(vals, what, op)
    groups, bgroups = feature_group_count, batch_group_count
    _check_positive((groups,), "feature_group_count", op)
    _check_positive((bgroups,), "batch_group_count", op)
    if groups > 1 and bgroups > 1:
        raise ShapeError(f"{op}: at most one of feature_group_count ({groups}) and "
                         f"batch_group_count ({bgroups}) may exceed 1.")
    lspec, rspec, ospec = dimension_numbers
    n, c = lhs.shape[lspec[0]], lhs.shape[lspec[1]]
    o, i = rhs.shape[rspec[0]], rhs.shape[rspec[1]]
    if c % groups or c // groups != i:
        raise ShapeError(
            f"{op}: lhs of shape {lhs.shape} has {c} input features (dim {lspec[1]}), but rhs "
            f"of shape {rhs.shape} has {i} input features (dim {rspec[1]}) and "
            f"feature_group_count={groups}; the lhs feature count must equal rhs in-features "
            f"* feature_group_count = {i * groups}.")
    for what, count, size, dim in (("feature_group_count", groups, o, "output features"),
                                   ("batch_group_count", bgroups, o, "output features"),
                                   ("batch_group_count", bgroups, n, "lhs batch size")):
        if size % count:
            raise ShapeError(f"{op}: {what}={count} must divide the {dim} ({size}); lhs shape "
                             f"{lhs.shape}, rhs shape {rhs.shape}.")
    in_sp, k_sp = _spatial(lhs.shape, lspec), _spatial(rhs.shape, rspec)
    for d, (s, (lo, hi), ld) in enumerate(zip(in_sp, padding, lhs_dilation, strict=True)):
        padded = dilate_dim(s, ld) + lo + hi
        if padded < 0:
            raise ShapeError(
                f"{op}: along spatial dim {d} the negative padding {(lo, hi)} is larger than "
                f"the input (lhs shape {lhs.shape}, size {s}, {dilate_dim(s, ld)} after "
                f"lhs_dilation {ld}); use smaller negative padding.")
    # a filter larger than the padded input gives an empty output, as in JAX
    out_sp = _conv_impl.conv_out_spatial(in_sp, k_sp, window_strides, padding, lhs_dilation,
                                         rhs_dilation)
    out = [0] * lhs.ndim
    for d, size in zip(ospec, (n // bgroups, o) + out_sp, strict=True):
        out[d] = size
    return tuple(out)


def _common_params(params) -> dict:
    """The params of the grad primitives: the forward's, less preferred_element_type."""
    return {k: v for k, v in params.items() if k != "preferred_element_type"}


def _convert(x, dtype):
    return x if get_aval(x).dtype == dtype else convert_element_type(x, dtype)


def _both_linear_error(op: str) -> FunctraceError:
    return FunctraceError(f"{op}: transpose w.r.t. both operands (the product of two linear "
                          "values is not linear)")


def _from_canonical(x, spec):
    return np.transpose(x, np.argsort(spec))


def _kernel_params(window_strides, padding, lhs_dilation, rhs_dilation, feature_group_count,
                   batch_group_count):
    return dict(strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
                rhs_dilation=rhs_dilation, feature_group_count=feature_group_count,
                batch_group_count=batch_group_count)


# ---------------------------------------------------------------------------
# batching: fold the vmap axis into a dimension of the convolution (JAX's rule)
#
# A batched lhs folds into the batch dim N (each example is convolved on its own), a
# batched rhs into the output features O, and both at once into the input features
# with feature_group_count * size groups (or into N with batch_group_count * size).
# Each fold is a plan of reshapes and moves (``_Fold``) that can be undone, so the two
# gradient primitives, which are slices of the same trilinear form, batch with the
# folds of the forward convolution: conv_grad_input folds like a batched lhs,
# conv_grad_filter like a batched rhs.

class _Fold:
    """Takes an operand batched at 0 to its folded layout (``apply``) and back (``undo``).

    Steps: ``("move", src, dst)``, ``("merge", d, n)`` (dims ``d`` and ``d + 1``, ``d`` of
    size ``n``, become one) and ``("split", d, n)`` (the inverse).
    """

    def __init__(self, steps):
        self.steps = steps

    @staticmethod
    def _step_shape(shape, step):
        shape = list(shape)
        if step[0] == "move":
            _, src, dst = step
            shape.insert(dst, shape.pop(src))
        elif step[0] == "merge":
            _, d, _n = step
            shape[d:d + 2] = [shape[d] * shape[d + 1]]
        else:
            _, d, n = step
            shape[d:d + 1] = [n, shape[d] // n]
        return tuple(shape)

    def _run(self, x, steps):
        for step in steps:
            if step[0] == "move":
                x = moveaxis(x, step[1], step[2])
            else:
                x = reshape(x, self._step_shape(get_aval(x).shape, step))
        return x

    def apply_shape(self, shape):
        for step in self.steps:
            shape = self._step_shape(shape, step)
        return shape

    def apply(self, x):
        return self._run(x, self.steps)

    def undo(self, x):
        inverse = {"move": lambda s, d: ("move", d, s), "merge": lambda d, n: ("split", d, n),
                   "split": lambda d, n: ("merge", d, n)}
        return self._run(x, [inverse[kind](*rest) for kind, *rest in reversed(self.steps)])


def _into(dim: int, size: int) -> list:
    """The batch axis (first) merged into ``dim`` of the operand, as its outer part."""
    return [("move", 0, dim), ("merge", dim, size)]


def _into_groups(dim: int, groups: int, size: int) -> list:
    """``dim`` holds ``groups`` groups: the batch goes inside each group (groups outermost)."""
    return [("split", dim + 1, groups), ("move", 0, dim + 1), ("merge", dim + 1, size),
            ("merge", dim, groups)]


def _conv_folds(dnums, groups: int, batch_groups: int, size: int, lhs_batched: bool,
                rhs_batched: bool):
    """The folds of lhs, rhs and output, and the new group counts."""
    lspec, rspec, ospec = dnums
    lhs = rhs = None
    if lhs_batched and rhs_batched:
        if batch_groups > 1:
            lhs, batch_groups = _into(lspec[0], size), batch_groups * size
        else:
            lhs, groups = _into(lspec[1], size), groups * size
        rhs, out = _into(rspec[0], size), _into(ospec[1], size)
    elif lhs_batched:
        lhs = (_into(lspec[0], size) if batch_groups == 1
               else _into_groups(lspec[0], batch_groups, size))
        out = _into(ospec[0], size)
    else:
        if groups == 1 and batch_groups == 1:
            rhs, out = _into(rspec[0], size), _into(ospec[1], size)
        else:
            g = max(groups, batch_groups)
            rhs, out = _into_groups(rspec[0], g, size), _into_groups(ospec[1], g, size)
    return (_Fold(lhs or []), _Fold(rhs or []), _Fold(out), groups, batch_groups)


def _folded_params(params, groups, batch_groups) -> dict:
    return {**params, "feature_group_count": groups, "batch_group_count": batch_groups}


def _conv_batch(args, dims, **params):
    (lhs, rhs), (ld, rd) = args, dims
    size = axis_size(args, dims)
    lf, rf, of, g, bg = _conv_folds(params["dimension_numbers"], params["feature_group_count"],
                                    params["batch_group_count"], size, ld is not not_mapped,
                                    rd is not not_mapped)
    if ld is not not_mapped:
        lhs = lf.apply(moveaxis(lhs, ld, 0))
    if rd is not not_mapped:
        rhs = rf.apply(moveaxis(rhs, rd, 0))
    out = conv_general_dilated_p.bind(lhs, rhs, **_folded_params(params, g, bg))
    return of.undo(out), 0


def _grad_input_batch(args, dims, *, lhs_shape, **params):
    (ct, rhs), (cd, rd) = args, dims
    size = axis_size(args, dims)
    both = rd is not not_mapped
    lf, rf, of, g, bg = _conv_folds(params["dimension_numbers"], params["feature_group_count"],
                                    params["batch_group_count"], size, True, both)
    ct = of.apply(bdim_at_front(ct, cd, size))
    if both:
        rhs = rf.apply(moveaxis(rhs, rd, 0))
    out = conv_grad_input_p.bind(ct, rhs, lhs_shape=lf.apply_shape((size, *lhs_shape)),
                                 **_folded_params(params, g, bg))
    return lf.undo(out), 0


def _grad_filter_batch(args, dims, *, rhs_shape, **params):
    (lhs, ct), (ld, cd) = args, dims
    size = axis_size(args, dims)
    both = ld is not not_mapped
    lf, rf, of, g, bg = _conv_folds(params["dimension_numbers"], params["feature_group_count"],
                                    params["batch_group_count"], size, both, True)
    if both:
        lhs = lf.apply(moveaxis(lhs, ld, 0))
    ct = of.apply(bdim_at_front(ct, cd, size))
    out = conv_grad_filter_p.bind(lhs, ct, rhs_shape=rf.apply_shape((size, *rhs_shape)),
                                  **_folded_params(params, g, bg))
    return rf.undo(out), 0


# ---------------------------------------------------------------------------
# conv_general_dilated

conv_general_dilated_p = Primitive("conv_general_dilated")


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None):
    """General n-d convolution (``jax.lax.conv_general_dilated``; a cross-correlation,
    as in every deep-learning library: the filter is not flipped).

    Args:
        lhs: the input, ``(N, C, *spatial)`` in the layout of ``dimension_numbers``.
        rhs: the filter, ``(O, I, *window)``; ``C == I * feature_group_count``.
        window_strides: the stride of each spatial dim.
        padding: ``'VALID'``, ``'SAME'``, ``'SAME_LOWER'`` or one ``(low, high)`` pair per
            spatial dim (negative values crop). A name is resolved to pairs before
            binding with ``padtype_to_pads`` from the *undilated* lhs shape and the
            rhs-dilated window, as JAX does.
        lhs_dilation: zeros inserted between input elements (``d - 1`` each); a
            fractionally strided (transposed) convolution. Default all 1.
        rhs_dilation: dilation of the filter ("atrous" convolution). Default all 1.
        dimension_numbers: see ``conv_dimension_numbers``.
        feature_group_count: splits the input features and the output features into
            that many groups, each convolved separately (``C`` groups: depthwise).
        batch_group_count: splits the lhs batch and the output features into groups
            (the output batch is ``N / batch_group_count``).
        precision: recorded (the NumPy kernels compute at full precision).
        preferred_element_type: the output dtype (default: the input dtype).
    Returns:
        The output, ``(N / batch_group_count, O, *out_spatial)`` in the layout of
        ``out_spec``, where ``out = (dilated(in) + lo + hi - dilated(window)) // stride + 1``.

    Example:
        >>> x, w = np.ones((5, 3, 50, 50), np.float32), np.ones((7, 3, 3, 3), np.float32)
        >>> conv_general_dilated(x, w, (1, 1), ((1, 1), (1, 1))).shape
        (5, 7, 50, 50)
    """
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    dnums = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    nd = len(lhs_shape) - 2
    window_strides = _int_tuple(window_strides, nd, "window_strides")
    lhs_dilation = _int_tuple(lhs_dilation, nd, "lhs_dilation", 1)
    rhs_dilation = _int_tuple(rhs_dilation, nd, "rhs_dilation", 1)
    for what, vals in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                       ("rhs_dilation", rhs_dilation)):
        _check_positive(vals, what, "conv_general_dilated")
    if isinstance(padding, str):
        window = tuple(dilate_dim(k, r) for k, r
                       in zip(_spatial(rhs_shape, dnums.rhs_spec), rhs_dilation, strict=True))
        padding = padtype_to_pads(_spatial(lhs_shape, dnums.lhs_spec), window,
                                  window_strides, padding)
    else:
        try:
            padding = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
        except (TypeError, ValueError):
            raise ShapeError("conv_general_dilated: padding must be 'VALID', 'SAME', "
                             "'SAME_LOWER' or a sequence of (low, high) int pairs, got "
                             f"{padding!r}") from None
    if preferred_element_type is not None:
        preferred_element_type = canonicalize_dtype(preferred_element_type)
    return conv_general_dilated_p.bind(
        lhs, rhs, window_strides=window_strides, padding=padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dnums,
        feature_group_count=operator.index(feature_group_count),
        batch_group_count=operator.index(batch_group_count),
        precision=canonical_precision(precision, "conv"),
        preferred_element_type=preferred_element_type)


def _conv_abstract(lhs, rhs, *, precision, preferred_element_type, **params):
    shape = _conv_out_shape(lhs, rhs, op="conv_general_dilated", **params)
    if preferred_element_type is None:
        return ShapedArray(shape, lhs.dtype, lhs.weak_type and rhs.weak_type)
    return ShapedArray(shape, preferred_element_type)


def _conv_impl_rule(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation,
                    dimension_numbers, feature_group_count, batch_group_count, precision,
                    preferred_element_type):
    lspec, rspec, ospec = dimension_numbers
    out = _conv_impl.conv(
        np.transpose(lhs, lspec), np.transpose(rhs, rspec),
        out_dtype=lhs.dtype if preferred_element_type is None else preferred_element_type,
        **_kernel_params(window_strides, padding, lhs_dilation, rhs_dilation,
                         feature_group_count, batch_group_count))
    return _from_canonical(out, ospec)


def _conv_transpose_rule(ct, lhs, rhs, **params):
    common = _common_params(params)
    if is_undefined_primal(lhs) and is_undefined_primal(rhs):
        raise _both_linear_error("conv_general_dilated")
    if is_undefined_primal(lhs):
        # with preferred_element_type the cotangent may be wider than rhs: compute in its dtype
        g = conv_grad_input_p.bind(ct, _convert(rhs, get_aval(ct).dtype),
                                   lhs_shape=lhs.aval.shape, **common)
        return [_convert(g, lhs.aval.dtype), None]
    g = conv_grad_filter_p.bind(_convert(lhs, get_aval(ct).dtype), ct,
                                rhs_shape=rhs.aval.shape, **common)
    return [None, _convert(g, rhs.aval.dtype)]


impl_rules[conv_general_dilated_p] = _conv_impl_rule
abstract_eval_rules[conv_general_dilated_p] = _conv_abstract
defjvp(conv_general_dilated_p,
       lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(g, rhs, **params),
       lambda g, lhs, rhs, **params: conv_general_dilated_p.bind(lhs, g, **params))
transpose_rules[conv_general_dilated_p] = _conv_transpose_rule
batching_rules[conv_general_dilated_p] = _conv_batch


# ---------------------------------------------------------------------------
# conv_grad_input: the cotangent of lhs, from the output cotangent and rhs

conv_grad_input_p = Primitive("conv_grad_input")


def conv_grad_input(ct, rhs, lhs_shape, **conv_params):
    """The gradient of ``conv_general_dilated`` w.r.t. its lhs, given the output
    cotangent ``ct`` and the filter ``rhs``; ``conv_params`` are the forward's params
    as bound (canonical: padding pairs, ``ConvDimensionNumbers``, ...).

    Example:
        >>> dn = conv_dimension_numbers((1, 1, 5, 5), (1, 1, 3, 3), None)
        >>> conv_grad_input(np.ones((1, 1, 2, 2), np.float32), np.ones((1, 1, 3, 3), np.float32),
        ...     (1, 1, 5, 5), window_strides=(2, 2), padding=((0, 0), (0, 0)),
        ...     lhs_dilation=(1, 1), rhs_dilation=(1, 1), dimension_numbers=dn,
        ...     feature_group_count=1, batch_group_count=1, precision=None)[0, 0, 0]
        array([1., 1., 2., 1., 1.], dtype=float32)
    """
    return conv_grad_input_p.bind(ct, rhs, lhs_shape=tuple(lhs_shape), **conv_params)


def _grad_input_abstract(ct, rhs, *, lhs_shape, precision, **params):
    op = "conv_grad_input"
    lhs = ShapedArray(lhs_shape, rhs.dtype)
    expected = _conv_out_shape(lhs, rhs, op=op, **params)
    if ct.shape != expected or ct.dtype != rhs.dtype:
        raise ShapeError(
            f"{op}: the cotangent {ct.str_short()} does not match the output "
            f"{ShapedArray(expected, rhs.dtype).str_short()} of the convolution of lhs_shape "
            f"{lhs_shape} by rhs {rhs.str_short()}.")
    return ShapedArray(lhs_shape, ct.dtype)


def _grad_input_impl(ct, rhs, *, lhs_shape, window_strides, padding, lhs_dilation,
                     rhs_dilation, dimension_numbers, feature_group_count, batch_group_count,
                     precision):
    lspec, rspec, ospec = dimension_numbers
    g = _conv_impl.conv_grad_input(
        np.transpose(ct, ospec), np.transpose(rhs, rspec),
        in_spatial=_spatial(lhs_shape, lspec),
        **_kernel_params(window_strides, padding, lhs_dilation, rhs_dilation,
                         feature_group_count, batch_group_count))
    return _from_canonical(g, lspec)


def _grad_input_transpose(g, ct, rhs, *, lhs_shape, **params):
    if is_undefined_primal(ct) and is_undefined_primal(rhs):
        raise _both_linear_error("conv_grad_input")
    if is_undefined_primal(ct):
        return [conv_general_dilated_p.bind(g, rhs, preferred_element_type=None, **params),
                None]
    return [None, conv_grad_filter_p.bind(g, ct, rhs_shape=rhs.aval.shape, **params)]


impl_rules[conv_grad_input_p] = _grad_input_impl
abstract_eval_rules[conv_grad_input_p] = _grad_input_abstract
defjvp(conv_grad_input_p,
       lambda t, ct, rhs, **params: conv_grad_input_p.bind(t, rhs, **params),
       lambda t, ct, rhs, **params: conv_grad_input_p.bind(ct, t, **params))
transpose_rules[conv_grad_input_p] = _grad_input_transpose
batching_rules[conv_grad_input_p] = _grad_input_batch


# ---------------------------------------------------------------------------
# conv_grad_filter: the cotangent of rhs, from lhs and the output cotangent

conv_grad_filter_p = Primitive("conv_grad_filter")


def conv_grad_filter(lhs, ct, rhs_shape, **conv_params):
    """The gradient of ``conv_general_dilated`` w.r.t. its rhs, given the input ``lhs``
    and the output cotangent ``ct``; ``conv_params`` as in ``conv_grad_input``.

    Example:
        >>> dn = conv_dimension_numbers((1, 1, 5, 5), (1, 1, 3, 3), None)
        >>> conv_grad_filter(np.ones((1, 1, 5, 5), np.float32), np.ones((1, 1, 2, 2), np.float32),
        ...     (1, 1, 3, 3), window_strides=(2, 2), padding=((0, 0), (0, 0)),
        ...     lhs_dilation=(1, 1), rhs_dilation=(1, 1), dimension_numbers=dn,
        ...     feature_group_count=1, batch_group_count=1, precision=None)[0, 0, 0]
        array([4., 4., 4.], dtype=float32)
    """
    return conv_grad_filter_p.bind(lhs, ct, rhs_shape=tuple(rhs_shape), **conv_params)


def _grad_filter_abstract(lhs, ct, *, rhs_shape, precision, **params):
    op = "conv_grad_filter"
    rhs = ShapedArray(rhs_shape, lhs.dtype)
    expected = _conv_out_shape(lhs, rhs, op=op, **params)
    if ct.shape != expected or ct.dtype != lhs.dtype:
        raise ShapeError(
            f"{op}: the cotangent {ct.str_short()} does not match the output "
            f"{ShapedArray(expected, lhs.dtype).str_short()} of the convolution of lhs "
            f"{lhs.str_short()} by rhs_shape {rhs_shape}.")
    return ShapedArray(rhs_shape, ct.dtype)


def _grad_filter_impl(lhs, ct, *, rhs_shape, window_strides, padding, lhs_dilation,
                      rhs_dilation, dimension_numbers, feature_group_count, batch_group_count,
                      precision):
    lspec, rspec, ospec = dimension_numbers
    g = _conv_impl.conv_grad_filter(
        np.transpose(lhs, lspec), np.transpose(ct, ospec),
        k_spatial=_spatial(rhs_shape, rspec),
        **_kernel_params(window_strides, padding, lhs_dilation, rhs_dilation,
                         feature_group_count, batch_group_count))
    return _from_canonical(g, rspec)


def _grad_filter_transpose(g, lhs, ct, *, rhs_shape, **params):
    if is_undefined_primal(lhs) and is_undefined_primal(ct):
        raise _both_linear_error("conv_grad_filter")
    if is_undefined_primal(lhs):
        return [conv_grad_input_p.bind(ct, g, lhs_shape=lhs.aval.shape, **params), None]
    return [None, conv_general_dilated_p.bind(lhs, g, preferred_element_type=None, **params)]


impl_rules[conv_grad_filter_p] = _grad_filter_impl
abstract_eval_rules[conv_grad_filter_p] = _grad_filter_abstract
defjvp(conv_grad_filter_p,
       lambda t, lhs, ct, **params: conv_grad_filter_p.bind(t, ct, **params),
       lambda t, lhs, ct, **params: conv_grad_filter_p.bind(lhs, t, **params))
transpose_rules[conv_grad_filter_p] = _grad_filter_transpose
batching_rules[conv_grad_filter_p] = _grad_filter_batch


# ---------------------------------------------------------------------------
# conveniences: conv, conv_with_general_padding, conv_transpose

def conv(lhs, rhs, window_strides, padding, precision=None, preferred_element_type=None):
    """``conv_general_dilated`` in the default ``NC...``/``OI...`` layout, no dilation
    (``jax.lax.conv``).

    Example:
        >>> conv(np.ones((5, 3, 50, 50), np.float32), np.ones((7, 3, 3, 3), np.float32),
        ...      (1, 1), 'VALID').shape
        (5, 7, 48, 48)
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                              precision=None, preferred_element_type=None):
    """``conv_general_dilated`` in the default layout (``jax.lax.conv_with_general_padding``).

    Example:
        >>> conv_with_general_padding(np.ones((1, 1, 4, 4), np.float32),
        ...     np.ones((1, 1, 2, 2), np.float32), (1, 1), ((0, 0), (0, 0)), (2, 2), (1, 1)).shape
        (1, 1, 6, 6)
    """
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation, rhs_dilation,
                                precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k: int, s: int, padding: str) -> tuple[int, int]:
    if padding == "SAME":
        pad_len = k + s - 2
        pad_a = k - 1 if s > k - 1 else -(-pad_len // 2)
    else:  # VALID
        pad_len = k + s - 2 + max(k - s, 0)
        pad_a = k - 1
    return pad_a, pad_len - pad_a


_TRANSPOSE_DEFAULTS = {3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"),
                       5: ("NHWDC", "HWDIO", "NHWDC")}


def conv_transpose(lhs, rhs, strides, padding, rhs_dilation=None, dimension_numbers=None,
                   transpose_kernel=False, precision=None, preferred_element_type=None):
    """Transposed ("deconvolution") convolution (``jax.lax.conv_transpose``): a
    convolution with ``lhs_dilation = strides``.

    Args:
        lhs, rhs: input and filter; the default layout is channels-last
            (``NHWC``/``HWIO``/``NHWC`` in 2-D, as in JAX).
        strides: the upsampling factor of each spatial dim.
        padding: ``'SAME'`` (output ``in * stride``), ``'VALID'`` (output
            ``in * stride + max(k - stride, 0)``) or explicit ``(low, high)`` pairs.
        rhs_dilation: filter dilation.
        dimension_numbers: as in ``conv_general_dilated``.
        transpose_kernel: flip the filter spatially and swap its in/out feature dims,
            making this the gradient of a strided ``conv_general_dilated`` w.r.t. its input.
    Returns:
        The upsampled output.

    Example:
        >>> conv_transpose(np.ones((1, 4, 4, 3), np.float32), np.ones((3, 3, 3, 8), np.float32),
        ...                (2, 2), 'SAME').shape
        (1, 8, 8, 8)
    """
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    ndim = len(lhs_shape)
    if dimension_numbers is None:
        if ndim not in _TRANSPOSE_DEFAULTS:
            raise ShapeError(f"conv_transpose: no default dimension_numbers for rank {ndim}; "
                             "operands need rank 3, 4 or 5, or give dimension_numbers.")
        dimension_numbers = _TRANSPOSE_DEFAULTS[ndim]
    dn = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    nd = ndim - 2
    strides = _int_tuple(strides, nd, "strides")
    if isinstance(padding, str):
        if padding.upper() not in ("SAME", "VALID"):
            raise ShapeError(f"conv_transpose: padding must be 'SAME', 'VALID' or (low, high) "
                             f"pairs, got {padding!r}")
        rhs_dilation = _int_tuple(rhs_dilation, nd, "rhs_dilation", 1)
        window = [dilate_dim(k, r) for k, r
                  in zip(_spatial(rhs_shape, dn.rhs_spec), rhs_dilation, strict=True)]
        padding = tuple(_conv_transpose_padding(k, s, padding.upper())
                        for k, s in zip(window, strides, strict=True))
    if transpose_kernel:
        o_dim, i_dim = dn.rhs_spec[:2]
        rhs = rev(rhs, dn.rhs_spec[2:])
        perm = list(range(ndim))
        perm[o_dim], perm[i_dim] = i_dim, o_dim
        rhs = transpose(rhs, tuple(perm))
    return conv_general_dilated(lhs, rhs, (1,) * nd, padding, strides, rhs_dilation, dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)

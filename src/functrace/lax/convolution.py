"""Convolution: ``conv_general_dilated`` and the two primitives of its derivatives.

``conv_general_dilated(lhs, rhs)`` is bilinear, and so are its cotangents:

- ``conv_grad_input(ct, rhs)``: the cotangent of lhs given the output cotangent;
- ``conv_grad_filter(lhs, ct)``: the cotangent of rhs given the output cotangent.

All three share the forward convolution's params (the grad primitives add the
shape of the operand they produce, which strides make ambiguous), and all three
are slices of one trilinear form ``T(lhs, rhs, out) = <conv(lhs, rhs), out>``: each
computes one slot from the other two. So each one's jvp is itself applied to one
tangent at a time, each one's transposes are the other two, and each one batches
with the forward convolution's folds (``_conv_folds.py``); one set of slot rules
below serves all three. They are dedicated primitives, not generic dilated
convolutions, so that each gets its own fast kernel (docs/architecture.md,
"Convolution and pooling").

Dimension numbers follow ``jax.lax``: ``ConvDimensionNumbers(lhs_spec, rhs_spec,
out_spec)`` gives, for each operand, the positions of (batch, feature, *spatial),
resp. (out feature, in feature, *spatial). The NumPy kernels are in ``_conv_impl``;
the window arithmetic shared with pooling and padding in ``_geometry``.
"""

from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

from ..core.avals import ShapedArray, canonicalize_dtype
from ..core.trace import Primitive, abstract_eval_rules, get_aval, impl_rules
from ..errors import DTypeError, FunctraceError, ShapeError, no_sharding
from ..transforms.ad import defbilinear, is_undefined_primal
from ..transforms.batching import axis_size, batching_rules, bdim_at_front, moveaxis, not_mapped
from . import _conv_impl
from ._conv_folds import conv_folds
from ._geometry import dilate_dim, int_tuple, out_sizes, padtype_to_pads
from .dots import canonical_precision
from .shape_ops import convert_element_type, transpose
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


# ---------------------------------------------------------------------------
# dimension numbers and params

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


def _spatial_ints(xs, nd: int, what: str, default: int | None = None) -> tuple[int, ...]:
    """One int per spatial dim (``default`` for all of them when ``xs`` is None)."""
    if xs is None and default is not None:
        return (default,) * nd
    return int_tuple(xs, "conv", what, nd, "spatial dim")


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
    out_sp = out_sizes(in_sp, k_sp, window_strides, padding, lhs_dilation, rhs_dilation)
    out = [0] * lhs.ndim
    for d, size in zip(ospec, (n // bgroups, o) + out_sp, strict=True):
        out[d] = size
    return tuple(out)


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
# the trilinear form T(lhs, rhs, out): each primitive computes one slot from the other two

_SHAPE_PARAM = {"lhs": "lhs_shape", "rhs": "rhs_shape"}  # the grad primitives' extra param


def _bind_slot(slot: str, shape, params, operands: dict):
    """The primitive that computes ``slot`` (of ``shape``) from the two other slots."""
    if slot == "out":
        return conv_general_dilated_p.bind(operands["lhs"], operands["rhs"],
                                           preferred_element_type=None, **params)
    if slot == "lhs":
        return conv_grad_input_p.bind(operands["out"], operands["rhs"], lhs_shape=shape,
                                      **params)
    return conv_grad_filter_p.bind(operands["lhs"], operands["out"], rhs_shape=shape, **params)


def _slot_transpose(name: str, slots: tuple, produced: str):
    """The transpose of the primitive that computes ``produced`` from ``slots``: w.r.t.
    either operand slot, the primitive that computes that slot (the cotangent fills
    ``produced``). With ``preferred_element_type`` the cotangent may be wider than the
    operands: the other operand is cast to it, the result back to the operand's dtype."""
    def rule(g, x, y, **params):
        common = {k: v for k, v in params.items()
                  if k not in ("preferred_element_type", *_SHAPE_PARAM.values())}
        args = dict(zip(slots, (x, y), strict=True))
        linear = [s for s in slots if is_undefined_primal(args[s])]
        if len(linear) == 2:
            raise FunctraceError(f"{name}: transpose w.r.t. both operands (the product of two "
                                 "linear values is not linear)")
        slot, dtype = linear[0], get_aval(g).dtype
        operands = {s: _convert(v, dtype) for s, v in args.items() if s != slot}
        aval = args[slot].aval
        out = _convert(_bind_slot(slot, aval.shape, common, {**operands, produced: g}),
                       aval.dtype)
        return [out if s == slot else None for s in slots]
    return rule


def _slot_batch(prim: Primitive, slots: tuple, produced: str, args, dims, **params):
    """Batching by folds: the produced slot counts as batched, the output cotangent is
    always brought to the front (broadcast if it is not mapped)."""
    size = axis_size(args, dims)
    mapped = {s: d is not not_mapped for s, d in zip(slots, dims, strict=True)}
    lhs_f, rhs_f, out_f, groups, batch_groups = conv_folds(
        params["dimension_numbers"], params["feature_group_count"],
        params["batch_group_count"], size, produced == "lhs" or mapped.get("lhs", False),
        produced == "rhs" or mapped.get("rhs", False))
    folds = {"lhs": lhs_f, "rhs": rhs_f, "out": out_f}
    xs = []
    for s, x, d in zip(slots, args, dims, strict=True):
        if s == "out":
            x = folds[s].apply(bdim_at_front(x, d, size))
        elif mapped[s]:
            x = folds[s].apply(moveaxis(x, d, 0))
        xs.append(x)
    new = {**params, "feature_group_count": groups, "batch_group_count": batch_groups}
    if produced in _SHAPE_PARAM:
        key = _SHAPE_PARAM[produced]
        new[key] = folds[produced].apply_shape((size, *params[key]))
    return folds[produced].undo(prim.bind(*xs, **new)), 0


def _def_slot_rules(prim: Primitive, slots: tuple, produced: str) -> None:
    """jvp, transpose and batching of one slice of the trilinear form."""
    defbilinear(prim, _slot_transpose(prim.name, slots, produced))
    batching_rules[prim] = lambda args, dims, **params: _slot_batch(
        prim, slots, produced, args, dims, **params)


# ---------------------------------------------------------------------------
# conv_general_dilated

conv_general_dilated_p = Primitive("conv_general_dilated")


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None, feature_group_count=1,
                         batch_group_count=1, precision=None, preferred_element_type=None,
                         out_sharding=None):
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
    no_sharding("lax.conv_general_dilated", out_sharding=out_sharding)
    lhs_shape, rhs_shape = get_aval(lhs).shape, get_aval(rhs).shape
    dnums = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    nd = len(lhs_shape) - 2
    window_strides = _spatial_ints(window_strides, nd, "window_strides")
    lhs_dilation = _spatial_ints(lhs_dilation, nd, "lhs_dilation", 1)
    rhs_dilation = _spatial_ints(rhs_dilation, nd, "rhs_dilation", 1)
    for what, vals in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                       ("rhs_dilation", rhs_dilation)):
        _check_positive(vals, what, "conv_general_dilated")
    if isinstance(padding, str):
        window = tuple(dilate_dim(k, r) for k, r
                       in zip(_spatial(rhs_shape, dnums.rhs_spec), rhs_dilation, strict=True))
        padding = padtype_to_pads(_spatial(lhs_shape, dnums.lhs_spec), window,
                                  window_strides, padding, op="conv")
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


# the forward slice has its own abstract eval and impl: it alone takes preferred_element_type
impl_rules[conv_general_dilated_p] = _conv_impl_rule
abstract_eval_rules[conv_general_dilated_p] = _conv_abstract
_def_slot_rules(conv_general_dilated_p, ("lhs", "rhs"), "out")


# ---------------------------------------------------------------------------
# conv_grad_input and conv_grad_filter: the lhs and rhs slots, from the other two

def _grad_primitive(name: str, slots: tuple, produced: str, kernel, kernel_spatial: str):
    """A primitive computing the ``produced`` slot of shape ``<produced>_shape`` from
    ``slots`` (one of them the output cotangent), with ``kernel`` of ``_conv_impl``."""
    prim = Primitive(name)
    shape_param = _SHAPE_PARAM[produced]
    other = "rhs" if produced == "lhs" else "lhs"

    def abstract(x, y, *, precision, **params):
        shape = params.pop(shape_param)
        avals = dict(zip(slots, (x, y), strict=True))
        dtype = avals[other].dtype
        avals[produced] = ShapedArray(shape, dtype)
        expected = _conv_out_shape(avals["lhs"], avals["rhs"], op=name, **params)
        ct = avals["out"]
        if ct.shape != expected or ct.dtype != dtype:
            said = {produced: f"{shape_param} {shape}",
                    other: f"{other} {avals[other].str_short()}"}
            raise ShapeError(
                f"{name}: the cotangent {ct.str_short()} does not match the output "
                f"{ShapedArray(expected, dtype).str_short()} of the convolution of "
                f"{said['lhs']} by {said['rhs']}.")
        return ShapedArray(shape, ct.dtype)

    def impl(x, y, *, dimension_numbers, precision, **params):
        shape = params.pop(shape_param)
        specs = dict(zip(("lhs", "rhs", "out"), dimension_numbers, strict=True))
        a, b = (np.transpose(v, specs[s]) for s, v in zip(slots, (x, y), strict=True))
        g = kernel(a, b, **{kernel_spatial: _spatial(shape, specs[produced])},
                   **_kernel_params(**params))
        return _from_canonical(g, specs[produced])

    impl_rules[prim] = impl
    abstract_eval_rules[prim] = abstract
    _def_slot_rules(prim, slots, produced)
    return prim


conv_grad_input_p = _grad_primitive("conv_grad_input", ("out", "rhs"), "lhs",
                                    _conv_impl.conv_grad_input, "in_spatial")
conv_grad_filter_p = _grad_primitive("conv_grad_filter", ("lhs", "out"), "rhs",
                                     _conv_impl.conv_grad_filter, "k_spatial")


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


def _conv_transpose_padding(k: int, s: int, padding) -> tuple[int, int]:
    if not isinstance(padding, str):  # a forward conv's (low, high): k - 1 - each side
        lo, hi = (int(p) for p in padding)
        return k - 1 - lo, k - 1 - hi
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
                   transpose_kernel=False, precision=None, preferred_element_type=None,
                   use_consistent_padding: bool = False):
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
        use_consistent_padding: read explicit ``(low, high)`` pairs, like the strings, as
            the padding of the forward convolution (PyTorch's convention: the transposed
            convolution pads ``dilated_k - 1 - low`` and ``dilated_k - 1 - high``); by
            default (JAX's older behaviour) pairs pad the transposed convolution itself.
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
    strides = _spatial_ints(strides, nd, "strides")
    if isinstance(padding, str) or use_consistent_padding:
        if isinstance(padding, str) and padding.upper() not in ("SAME", "VALID"):
            raise ShapeError(f"conv_transpose: padding must be 'SAME', 'VALID' or (low, high) "
                             f"pairs, got {padding!r}")
        rhs_dilation = _spatial_ints(rhs_dilation, nd, "rhs_dilation", 1)
        window = [dilate_dim(k, r) for k, r
                  in zip(_spatial(rhs_shape, dn.rhs_spec), rhs_dilation, strict=True)]
        pads = [padding.upper()] * nd if isinstance(padding, str) else list(padding)
        if len(pads) != nd:
            raise ShapeError(f"conv_transpose: padding needs one (low, high) pair per spatial "
                             f"dim ({nd}), got {padding!r}")
        padding = tuple(_conv_transpose_padding(k, s, p)
                        for k, s, p in zip(window, strides, pads, strict=True))
    if transpose_kernel:
        o_dim, i_dim = dn.rhs_spec[:2]
        rhs = rev(rhs, dn.rhs_spec[2:])
        perm = list(range(ndim))
        perm[o_dim], perm[i_dim] = i_dim, o_dim
        rhs = transpose(rhs, tuple(perm))
    return conv_general_dilated(lhs, rhs, (1,) * nd, padding, strides, rhs_dilation, dn,
                                precision=precision,
                                preferred_element_type=preferred_element_type)

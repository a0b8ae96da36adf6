"""What one step of a compiled program costs on paper: floating-point operations and
bytes moved, from the equations' primitives, params and shapes (no kernel is run).

``profile()`` (``compiler/profile.py``) divides these by the measured time of each step.
The conventions, the ones roofline analyses use:

- ``dot_general``: ``2 * size(out) * K`` (one multiply and one add per term), ``K`` the
  product of the contracted sizes.
- ``conv_general_dilated`` and its two gradients (``conv_grad_input``,
  ``conv_grad_filter``): the three are slices of one trilinear form and cost the same,
  ``2 * size(out) * I * prod(window)``, ``out`` the forward output (the cotangent in the
  gradients) and ``I`` the filter's input features per group. Padding taps and the
  zeros of a dilation are counted, as in the dense formula.
- pooling: ``reduce_window_*`` does ``prod(window) - 1`` comparisons or additions per
  output; ``select_and_scatter_add`` and ``select_and_gather_add`` do ``prod(window)``
  per window (``- 1`` to select, one to add).
- reductions: ``size(in) - size(out)`` binary operations.
- elementwise equations, alone or in a fused loop: one operation per output element;
  loads (``broadcast_in_dim`` inside a loop), casts and ``stop_gradient`` are free.
  ``exp`` or ``tanh`` count as one, as in most FLOP counters.
- shape ops (``reshape``, ``transpose``, ``pad``, ``gather``...) do no arithmetic.
- ``scan``: its length times its body; ``while`` and ``cond`` (a trip count or a
  branch known only at run time) and unknown primitives with a nested program: ``None``.

Bytes are the compulsory traffic: every array a step reads from outside, once, plus every
array it writes, once, at its own size (a broadcast operand at its small size). A
``reshape``, ``squeeze`` or ``expand_dims`` of a contiguous array is a view: 0 bytes.
Caches and the kernels' own re-reads are not modelled, so measured GB/s is a lower bound
of what the memory system did.
"""

from __future__ import annotations

import math

import numpy as np

from ..core.jaxpr import ClosedJaxpr, Eqn, Jaxpr, Literal
from ..lax.control_flow import cond_p, scan_p, while_p
from ..lax.convolution import conv_general_dilated_p, conv_grad_filter_p, conv_grad_input_p
from ..lax.dots import dot_general_p
from ..lax.elementwise import stop_gradient_p
from ..lax.reductions import (
    argmax_p,
    argmin_p,
    reduce_and_p,
    reduce_max_p,
    reduce_min_p,
    reduce_or_p,
    reduce_prod_p,
)
from ..lax.shape_ops import (
    broadcast_in_dim_p,
    convert_element_type_p,
    expand_dims_p,
    reduce_sum_p,
    reshape_p,
    squeeze_p,
)
from ..lax.windowed import (
    reduce_window_max_p,
    reduce_window_min_p,
    reduce_window_sum_p,
    select_and_gather_add_p,
    select_and_scatter_add_p,
)


def size(aval) -> int:
    return math.prod(aval.shape)


def nbytes(aval) -> int:
    return size(aval) * np.dtype(aval.dtype).itemsize


def _dot_flops(eqn: Eqn) -> int:
    (lc, _), _ = eqn.params["dimension_numbers"]
    lhs = eqn.inputs[0].aval.shape
    return 2 * size(eqn.outvars[0].aval) * math.prod(lhs[d] for d in lc)


def _conv_flops(out_shape, rhs_shape, rhs_spec) -> int:
    """``2 * size(out) * I * prod(window)``: ``rhs_shape`` without its output features."""
    return 2 * math.prod(out_shape) * math.prod(rhs_shape) // rhs_shape[rhs_spec[0]]


def _conv_fwd_flops(eqn: Eqn) -> int:
    spec = eqn.params["dimension_numbers"].rhs_spec
    return _conv_flops(eqn.outvars[0].aval.shape, eqn.inputs[1].aval.shape, spec)


def _conv_grad_input_flops(eqn: Eqn) -> int:  # inputs (cotangent, rhs)
    spec = eqn.params["dimension_numbers"].rhs_spec
    return _conv_flops(eqn.inputs[0].aval.shape, eqn.inputs[1].aval.shape, spec)


def _conv_grad_filter_flops(eqn: Eqn) -> int:  # inputs (lhs, cotangent), rhs_shape param
    spec = eqn.params["dimension_numbers"].rhs_spec
    return _conv_flops(eqn.inputs[1].aval.shape, eqn.params["rhs_shape"], spec)


def _window(eqn: Eqn) -> int:
    return math.prod(eqn.params["window_dimensions"])


def _reduce_window_flops(eqn: Eqn) -> int:
    return size(eqn.outvars[0].aval) * (_window(eqn) - 1)


def _scatter_flops(eqn: Eqn) -> int:
    """Per window (one per ``source`` element): ``prod(window) - 1`` comparisons to
    select, one addition."""
    return size(eqn.inputs[0].aval) * _window(eqn)


def _gather_flops(eqn: Eqn) -> int:  # one output per window
    return size(eqn.outvars[0].aval) * _window(eqn)


def _reduction_flops(eqn: Eqn) -> int:
    return size(eqn.inputs[0].aval) - size(eqn.outvars[0].aval)


def _scan_flops(eqn: Eqn) -> int | None:
    body = jaxpr_flops(eqn.params["jaxpr"])
    return None if body is None else eqn.params["length"] * body


def _unknown(eqn: Eqn) -> None:
    return None


# primitive -> flops(eqn); elementwise primitives not listed cost one per output element
flop_rules: dict = {
    dot_general_p: _dot_flops,
    conv_general_dilated_p: _conv_fwd_flops,
    conv_grad_input_p: _conv_grad_input_flops,
    conv_grad_filter_p: _conv_grad_filter_flops,
    reduce_window_sum_p: _reduce_window_flops,
    reduce_window_max_p: _reduce_window_flops,
    reduce_window_min_p: _reduce_window_flops,
    select_and_scatter_add_p: _scatter_flops,
    select_and_gather_add_p: _gather_flops,
    scan_p: _scan_flops,
    while_p: _unknown,
    cond_p: _unknown,
}
for _p in (reduce_sum_p, reduce_max_p, reduce_min_p, reduce_prod_p, reduce_and_p, reduce_or_p,
           argmax_p, argmin_p):
    flop_rules[_p] = _reduction_flops

FREE_ELEMENTWISE = frozenset({broadcast_in_dim_p, convert_element_type_p, stop_gradient_p})
VIEWS = frozenset({reshape_p, squeeze_p, expand_dims_p})  # no copy of a contiguous array


def eqn_flops(eqn: Eqn) -> int | None:
    """Floating-point (or comparison) operations of one equation; None when they depend
    on run-time values (a ``while`` loop's trip count)."""
    rule = flop_rules.get(eqn.primitive)
    if rule is not None:
        return rule(eqn)
    if eqn.primitive in FREE_ELEMENTWISE:
        return 0
    if eqn.primitive.elementwise:
        return size(eqn.outvars[0].aval)
    nested = [p for p in eqn.params.values() if isinstance(p, ClosedJaxpr | Jaxpr)]
    if nested:  # remat, custom_jvp_call...: the program they hold, run once
        costs = [jaxpr_flops(j) for j in nested]
        return None if None in costs else max(costs)
    return 0  # shape ops, gathers, creation: data movement only


def jaxpr_flops(jaxpr: Jaxpr | ClosedJaxpr) -> int | None:
    """The operations of a whole program (None if any equation's are unknown)."""
    jaxpr = jaxpr.jaxpr if isinstance(jaxpr, ClosedJaxpr) else jaxpr
    total = 0
    for eqn in jaxpr.eqns:
        f = eqn_flops(eqn)
        if f is None:
            return None
        total += f
    return total


def step_cost(step) -> tuple[int | None, int]:
    """``(flops, bytes)`` of one step of a ``fusion.plan``: its equations' operations, and
    the bytes of the arrays it reads from outside plus those it writes."""
    flops = 0
    for eqn in step.eqns:
        f = eqn_flops(eqn)
        flops = None if f is None or flops is None else flops + f
    if not step.fused:
        eqn = step.eqns[0]
        if eqn.primitive in VIEWS:
            return flops, 0
        reads = list({id(x): x for x in eqn.inputs if not isinstance(x, Literal)}.values())
        writes = eqn.outvars
    else:
        reads, writes = step.inputs, step.outputs
    moved = sum(nbytes(x.aval) for x in reads if not isinstance(x, Literal))
    return flops, moved + sum(nbytes(v.aval) for v in writes)

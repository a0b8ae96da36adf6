"""How JAX 0.10 prints some equations whose parameters differ from ours.

``make_jaxpr`` output should read like JAX's. Where JAX's primitive carries a
parameter ours does not need (XLA sharding annotations, always ``None`` on one
device) or prints one differently (``broadcast_in_dim`` leaves out the shape,
which the output type already shows), a rule here gives the parameters to print.
"""

from __future__ import annotations

from ..core.jaxpr import pp_params_rules
from .convolution import conv_general_dilated_p
from .creation import iota_p
from .dots import dot_general_p
from .shape_ops import broadcast_in_dim_p, reduce_sum_p, reshape_p


def _with_sharding(name: str):
    return lambda eqn: {**eqn.params, name: None}


def _broadcast_in_dim(eqn):
    dims = eqn.params["broadcast_dimensions"]
    return {"broadcast_dimensions": dims} if dims else {}


def _dot_general(eqn):
    (lc, rc), (lb, rb) = eqn.params["dimension_numbers"]
    dims = ((list(lc), list(rc)), (list(lb), list(rb)))
    out = {"dimension_numbers": dims}
    if eqn.params.get("precision") is not None:
        out["precision"] = eqn.params["precision"]
    pet = eqn.params.get("preferred_element_type")
    out["preferred_element_type"] = pet if pet is not None else eqn.outvars[0].aval.dtype
    return out


pp_params_rules[reduce_sum_p] = _with_sharding("out_sharding")
pp_params_rules[conv_general_dilated_p] = _with_sharding("out_sharding")
pp_params_rules[reshape_p] = _with_sharding("sharding")
pp_params_rules[iota_p] = _with_sharding("sharding")
pp_params_rules[broadcast_in_dim_p] = _broadcast_in_dim
pp_params_rules[dot_general_p] = _dot_general

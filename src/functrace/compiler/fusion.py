"""Elementwise fusion: groups runs of elementwise equations into clusters.

A cluster is a chain of elementwise equations over one output shape; operands
that are broadcast into it (rank-0 values, ``broadcast_in_dim`` of an input
computed outside the cluster) become broadcast loads. The backend turns each
cluster into one generated loop; every other equation is lowered on its own.

What may join a cluster is the primitive's metadata: ``Primitive.elementwise``
(the generators compute it with a scalar expression, ``scalar_expr.py``). With
``reductions=True`` (backends that can generate it say so with
``fuses_reductions``), a reduction marked ``fusible_reduction`` (``reduce_sum``,
``reduce_max``, ``reduce_min``) that directly follows a cluster and reads a value
it computed ends the cluster: the loop accumulates the reduction as it goes (a
bias gradient no longer re-reads the cotangent it was just computed from).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..core.jaxpr import Eqn, Jaxpr, Literal, Var
from ..lax.shape_ops import broadcast_in_dim_p


@dataclass
class Step:
    """One unit of the compiled program: a single equation or a fused cluster."""

    eqns: list[Eqn]
    inputs: list = field(default_factory=list)   # atoms read from outside
    outputs: list[Var] = field(default_factory=list)  # vars used after the step
    fused: bool = False

    @property
    def reduction(self) -> Eqn | None:
        """The trailing reduction of a fused step, if it has one."""
        last = self.eqns[-1]
        return last if self.fused and last.primitive.fusible_reduction else None

    @property
    def shape(self) -> tuple[int, ...]:
        """The loop's shape (for a trailing reduction: the shape it reduces)."""
        last = self.eqns[-1]
        return (last.inputs[0] if self.reduction is not None else last.outvars[0]).aval.shape


def _fusible(eqn: Eqn) -> bool:
    return (eqn.primitive.elementwise and len(eqn.outvars) == 1
            and all(_loop_dtype(x.aval.dtype) for x in (*eqn.inputs, *eqn.outvars)))


def _loop_dtype(dtype) -> bool:
    # complex values run through NumPy: the generated scalar code spells max, sign,
    # logistic... with real-only comparisons; bfloat16 (kind "V") and float16 have no
    # Numba CPU type, so they run unfused through NumPy (which rounds after each op)
    dtype = np.dtype(dtype)
    return dtype.kind in "biuf" and dtype != np.float16


def _bcast_load(eqn: Eqn, produced: set) -> bool:
    """A broadcast_in_dim of a value computed outside the cluster: a strided load."""
    return (eqn.primitive is broadcast_in_dim_p
            and not (isinstance(eqn.inputs[0], Var) and eqn.inputs[0] in produced)
            and _loop_dtype(eqn.outvars[0].aval.dtype))


def _trailing_reduction(eqn: Eqn, current: list[Eqn], produced: set) -> bool:
    x = eqn.inputs[0] if eqn.inputs else None
    return (eqn.primitive.fusible_reduction and bool(current) and isinstance(x, Var)
            and x in produced and x.aval.shape == current[-1].outvars[0].aval.shape
            and _loop_dtype(x.aval.dtype) and np.dtype(x.aval.dtype).kind != "b"
            and any(e.primitive is not broadcast_in_dim_p for e in current))


def plan(jaxpr: Jaxpr, reductions: bool = False) -> list[Step]:
    """Splits ``jaxpr.eqns`` into steps, fusing maximal runs of elementwise equations
    (and, with ``reductions``, a reduction that ends a run: the next equation, or a later
    one that reads only the run's values, pulled forward; vmap's per-example clipping
    divides every gradient, then sums each over the batch)."""
    steps: list[Step] = []
    current: list[Eqn] = []
    produced: set = set()
    eqns = jaxpr.eqns
    pulled: set[int] = set()
    later: dict = {}  # var -> positions of the fusible reductions reading it
    if reductions:
        for i, eqn in enumerate(eqns):
            if eqn.primitive.fusible_reduction and eqn.inputs and isinstance(eqn.inputs[0],
                                                                             Var):
                later.setdefault(eqn.inputs[0], []).append(i)

    def close(at: int):
        if current and later and not current[-1].primitive.fusible_reduction:
            ahead = [j for v in current[-1].outvars for j in later.get(v, ()) if j >= at]
            for j in sorted(ahead)[:1]:
                if j not in pulled and _trailing_reduction(eqns[j], current, produced):
                    current.append(eqns[j])
                    pulled.add(j)
        if current:
            steps.append(Step(list(current), fused=True))
            current.clear()
            produced.clear()

    for i, eqn in enumerate(eqns):
        if i in pulled:
            continue
        if reductions and _trailing_reduction(eqn, current, produced):
            current.append(eqn)
            close(i)
            continue
        shape = eqn.outvars[0].aval.shape if eqn.outvars else None
        joinable = (_fusible(eqn) or _bcast_load(eqn, produced)) and (
            not current or current[-1].outvars[0].aval.shape == shape)
        if joinable:
            current.append(eqn)
            produced.update(eqn.outvars)
            continue
        close(i)
        if _fusible(eqn) or _bcast_load(eqn, produced):  # a broadcast may start a cluster
            current.append(eqn)
            produced.update(eqn.outvars)
        else:
            steps.append(Step([eqn]))
    close(len(eqns))
    _fill_io(steps, jaxpr)
    return [s for step in steps for s in _split_trivial(step)]


def _split_trivial(step: Step) -> list[Step]:
    """A "cluster" made only of broadcasts is just broadcasts."""
    if step.fused and all(e.primitive is broadcast_in_dim_p for e in step.eqns):
        out = [Step([e]) for e in step.eqns]
        for s, e in zip(out, step.eqns, strict=True):
            s.inputs, s.outputs = list(e.inputs), list(e.outvars)
        return out
    return [step]


def _fill_io(steps: list[Step], jaxpr: Jaxpr) -> None:
    used_later: list[set] = []
    live = {v for v in jaxpr.outvars if isinstance(v, Var)}
    for step in reversed(steps):
        used_later.append(set(live))
        for e in step.eqns:
            live.update(x for x in e.inputs if isinstance(x, Var))
    used_later.reverse()
    for step, later in zip(steps, used_later, strict=True):
        inside = {v for e in step.eqns for v in e.outvars}
        seen = set()
        for e in step.eqns:
            for x in e.inputs:
                key = x if isinstance(x, Var) else id(x)
                if (isinstance(x, Literal) or x not in inside) and key not in seen:
                    seen.add(key)
                    if isinstance(x, Var):
                        step.inputs.append(x)
        step.outputs = [v for e in step.eqns for v in e.outvars if v in later]

"""CUDA-side rewrites of the fusion plan that save kernel launches.

A launch costs tens of microseconds from Python, whatever the kernel does, so the
backend removes the ones that carry no work of their own:

- ``alias``: a fused step that only copies (``stop_gradient``, a same-dtype
  ``convert_element_type``) becomes a second name for its input, no kernel;
- ``fold_broadcasts``: a standalone ``broadcast_in_dim`` whose value is read only by
  fused steps of its shape becomes a strided load inside each of them (the
  broadcast is never materialised);
- ``epilogues``: a fused step that reads a convolution's or matmul's output (and
  nothing else at its own shape: a broadcast bias, literals) becomes that kernel's
  epilogue: the conv/matmul writes the cluster's outputs instead of its own
  (``epilogue.py``), so bias + ReLU cost no launch and the product is never stored;
- ``group``: consecutive fused steps that do not read each other's outputs (an
  optimizer's per-parameter updates) run as one launch, each cluster over its own
  range of thread indices (``codegen.build_group``).

The plan's ``Step``s and equations are not modified: rewrites build new ``Step``s.
"""

from __future__ import annotations

from ...compiler.fusion import Step
from ...core.jaxpr import Var

_COPIES = {"stop_gradient"}


def alias_of(step: Step):
    """``(output var, input var)`` when the fused step only copies its input, else None."""
    if not step.fused or len(step.eqns) != 1 or len(step.outputs) != 1:
        return None
    eqn = step.eqns[0]
    x = eqn.inputs[0] if eqn.inputs else None
    same = isinstance(x, Var) and x.aval.dtype == eqn.outvars[0].aval.dtype
    copies = eqn.primitive.name in _COPIES or eqn.primitive.name == "convert_element_type"
    return (eqn.outvars[0], x) if same and copies and x.aval.shape == step.shape else None


def fold_broadcasts(steps: list[Step], outvars) -> list[Step]:
    """Folds each standalone broadcast read only by same-shape fused steps into them."""
    readers: dict = {}
    for k, s in enumerate(steps):
        for x in s.inputs:
            readers.setdefault(x, []).append(k)
    program_outs = {v for v in outvars if isinstance(v, Var)}
    out = list(steps)
    dropped = set()
    for k, s in enumerate(steps):
        if s.fused or s.eqns[0].primitive.name != "broadcast_in_dim":
            continue
        eqn = s.eqns[0]
        v, x = eqn.outvars[0], eqn.inputs[0]
        users = readers.get(v, [])
        if (not isinstance(x, Var) or v in program_outs or not users or any(
                not steps[u].fused or steps[u].shape != v.aval.shape for u in users)):
            continue
        for u in users:
            c = out[u]
            inputs = [y for y in c.inputs if y is not v]
            if x not in inputs:
                inputs.append(x)
            out[u] = Step([eqn, *c.eqns], inputs, list(c.outputs), fused=True)
        dropped.add(k)
    return [s for k, s in enumerate(out) if k not in dropped]


_PRODUCERS = {"conv_general_dilated", "dot_general"}


def epilogue_input(step: Step, x) -> bool:
    """Whether fused ``step`` reads ``x`` only at the thread's own element (a load of
    its full shape, not through a broadcast)."""
    direct = {v for e in step.eqns if e.primitive.name != "broadcast_in_dim" for v in e.inputs}
    broadcast = {e.inputs[0] for e in step.eqns if e.primitive.name == "broadcast_in_dim"}
    return x in direct and x not in broadcast and x.aval.shape == step.shape


def epilogues(steps: list[Step], outvars) -> list[Step]:
    """Joins each fused step (no reduction) that reads a conv's or matmul's output ``y``
    -- its only reader, not a program output -- and reads nothing else of its own shape
    to that producer: one step, at the fused step's place, ``Step(producer eqns, producer
    inputs + the cluster's other inputs, the cluster's outputs)`` with ``.epilogue`` set
    to the cluster."""
    readers: dict = {}
    for k, s in enumerate(steps):
        for x in s.inputs:
            readers.setdefault(x, []).append(k)
    program_outs = {v for v in outvars if isinstance(v, Var)}
    joined: dict[int, int] = {}  # fused step -> producer step
    for k, s in enumerate(steps):
        if s.fused or s.eqns[0].primitive.name not in _PRODUCERS or len(s.outputs) != 1:
            continue
        y = s.outputs[0]
        users = readers.get(y, [])
        if y in program_outs or len(users) != 1 or y.aval.dtype.kind != "f":
            continue
        f = steps[users[0]]
        if (not f.fused or f.reduction is not None or not epilogue_input(f, y)
                or any(epilogue_input(f, x) for x in f.inputs if x is not y)):
            continue
        joined[users[0]] = k
    out = []
    producers = set(joined.values())
    for k, s in enumerate(steps):
        if k in producers:
            continue
        if k in joined:
            p = steps[joined[k]]
            y = p.outputs[0]
            merged = Step(list(p.eqns), [*p.inputs, *[x for x in s.inputs if x is not y]],
                          list(s.outputs), fused=False)
            merged.epilogue = s
            out.append(merged)
        else:
            out.append(s)
    return out


def group(steps: list[Step]) -> list[list[Step]]:
    """Runs of consecutive fused steps (no reductions) that read nothing another member
    writes; every other step is a group of one."""
    groups: list[list[Step]] = []
    written: set = set()
    def joinable(s):
        return s.fused and s.reduction is None and alias_of(s) is None

    for s in steps:
        if (joinable(s) and groups and joinable(groups[-1][-1])
                and not any(x in written for x in s.inputs)):
            groups[-1].append(s)
        else:
            groups.append([s])
            written = set()
        written.update(s.outputs)
    return groups

"""Draws the computation graph of a function, with forward values and gradients.

``draw_graph(f, *args)`` traces ``f`` to its jaxpr, evaluates it forward and
then backward (each equation's local derivative times the gradient flowing
into it, accumulated over uses: backpropagation, step by step) and returns an
SVG figure that Jupyter displays inline. No graphviz needed.

Example:
    >>> g = draw_graph(lambda x, y, z: (x + y) * z, -2.0, 5.0, -4.0, names=("x", "y", "z"))
    >>> [float(v) for v in g.grads[:3]]
    [-4.0, -4.0, 3.0]
"""

from __future__ import annotations

import html

import numpy as np

from .core.jaxpr import Literal, Var
from .transforms.api import vjp
from .transforms.make_jaxpr import make_jaxpr

_SYMBOL = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "neg": "−", "max": "max",
           "exp": "exp", "log": "log", "tanh": "tanh", "integer_pow": "pow"}


class GraphFigure:
    """The drawn graph: ``.svg`` (text), ``.values``/``.grads`` per variable, Jupyter repr."""

    def __init__(self, svg: str, nodes, values, grads):
        self.svg = svg
        self.nodes = nodes
        self.values = values
        self.grads = grads

    def _repr_svg_(self) -> str:
        return self.svg

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            f.write(self.svg)


def _backprop(jaxpr, env):
    """Per-variable gradient of the (scalar) output, by local vjps in reverse order."""
    grads = {}
    out = jaxpr.outvars[0]
    if isinstance(out, Var):
        grads[out] = np.ones_like(np.asarray(env[out]))
    for eqn in reversed(jaxpr.eqns):
        ct = grads.get(eqn.outvars[0])
        if ct is None or eqn.primitive.multiple_results:
            continue
        ins = [x.val if isinstance(x, Literal) else env[x] for x in eqn.inputs]

        def local(*xs, _eqn=eqn):
            return _eqn.primitive.bind(*xs, **_eqn.params)

        cts = vjp(local, *ins)[1](ct)
        for x, c in zip(eqn.inputs, cts, strict=True):
            if isinstance(x, Var):
                grads[x] = grads[x] + c if x in grads else c
    return grads


def _fmt(v) -> str:
    v = np.asarray(v)
    if v.size == 1:
        return f"{float(v):g}"
    return f"{v.dtype.name}{list(v.shape)}"


def draw_graph(fun, *args, names=None, show_grads: bool = True) -> GraphFigure:
    """Traces ``fun(*args)`` (scalar output) and draws its graph with values and gradients.

    Args:
        fun: the function; its output must be a scalar for the gradients.
        args: concrete arguments.
        names: optional display names: the inputs first, then the result of each
            equation in program order (defaults to the jaxpr's letters).
        show_grads: also write each node's gradient (in red) below its value.
    Returns:
        A ``GraphFigure``; in Jupyter it renders as an SVG.
    """
    closed = make_jaxpr(fun)(*args)
    jaxpr = closed.jaxpr
    flat_args = [np.asarray(a, v.aval.dtype) for a, v in zip(args, jaxpr.invars, strict=True)]
    env = {}
    for v, c in zip(jaxpr.constvars, closed.consts, strict=True):
        env[v] = c
    for v, a in zip(jaxpr.invars, flat_args, strict=True):
        env[v] = a
    for eqn in jaxpr.eqns:
        ins = [x.val if isinstance(x, Literal) else env[x] for x in eqn.inputs]
        outs = eval_jaxpr_eqn(eqn, ins)
        for v, o in zip(eqn.outvars, outs, strict=True):
            env[v] = o
    grads = _backprop(jaxpr, env) if show_grads else {}
    letters = {}
    for v in jaxpr.invars + [o for e in jaxpr.eqns for o in e.outvars]:
        letters[v] = chr(ord("a") + len(letters)) if len(letters) < 26 else f"v{len(letters)}"
    if names:  # the inputs first, then each equation's output, in program order
        order = jaxpr.invars + [o for e in jaxpr.eqns for o in e.outvars]
        for v, n in zip(order, names, strict=False):
            letters[v] = n
    depth = {v: 0 for v in jaxpr.invars + jaxpr.constvars}
    for eqn in jaxpr.eqns:
        d = 1 + max((depth.get(x, 0) for x in eqn.inputs if isinstance(x, Var)), default=0)
        for o in eqn.outvars:
            depth[o] = d
    svg, nodes = _layout_svg(jaxpr, letters, depth, env, grads)
    order = jaxpr.invars + [o for e in jaxpr.eqns for o in e.outvars]
    return GraphFigure(svg, nodes, [env[v] for v in order],
                       [grads.get(v, np.zeros_like(np.asarray(env[v]))) for v in order])


def eval_jaxpr_eqn(eqn, ins):
    out = eqn.primitive.bind(*ins, **eqn.params)
    return out if eqn.primitive.multiple_results else [out]


def _layout_svg(jaxpr, letters, depth, env, grads):
    col_w, row_h, box_w, box_h = 170, 90, 96, 52
    columns: dict[int, list] = {}
    for v in jaxpr.invars + [o for e in jaxpr.eqns for o in e.outvars]:
        columns.setdefault(depth[v], []).append(v)
    pos = {}
    for d, vs in columns.items():
        for i, v in enumerate(vs):
            pos[v] = (40 + d * col_w, 30 + i * row_h)
    width = 40 + (max(columns) + 1) * col_w
    height = 30 + max(len(vs) for vs in columns.values()) * row_h
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             'font-family="monospace" font-size="13">',
             '<defs><marker id="arr" markerWidth="8" markerHeight="8" refX="8" refY="4" '
             'orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#555"/></marker></defs>']
    nodes = []
    for eqn in jaxpr.eqns:
        out = eqn.outvars[0]
        ox, oy = pos[out]
        for x in eqn.inputs:
            if isinstance(x, Var) and x in pos:
                ix, iy = pos[x]
                parts.append(f'<line x1="{ix + box_w}" y1="{iy + box_h / 2}" x2="{ox - 2}" '
                             f'y2="{oy + box_h / 2}" stroke="#555" marker-end="url(#arr)"/>')
        sym = html.escape(_SYMBOL.get(eqn.primitive.name, eqn.primitive.name))
        parts.append(f'<circle cx="{ox - 22}" cy="{oy + box_h / 2}" r="14" fill="#fff" '
                     f'stroke="#333"/><text x="{ox - 22}" y="{oy + box_h / 2 + 4}" '
                     f'text-anchor="middle">{sym}</text>')
    for v, (x, y) in pos.items():
        value = _fmt(env[v])
        grad = _fmt(grads[v]) if v in grads else None
        nodes.append((letters[v], value, grad))
        parts.append(f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="6" '
                     'fill="#f4f7fb" stroke="#345"/>')
        parts.append(f'<text x="{x + 8}" y="{y + 16}" font-weight="bold">'
                     f'{html.escape(letters[v])}</text>')
        parts.append(f'<text x="{x + 8}" y="{y + 32}" fill="#1a7f37">{html.escape(value)}</text>')
        if grad is not None:
            parts.append(f'<text x="{x + 8}" y="{y + 47}" fill="#c0392b">'
                         f'{html.escape(grad)}</text>')
    parts.append("</svg>")
    return "\n".join(parts), nodes

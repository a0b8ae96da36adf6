"""The batching plan of the convolution primitives: fold the vmap axis into a
dimension of the convolution (JAX's rule).

A batched lhs folds into the batch dim N (each example is convolved on its own), a
batched rhs into the output features O, and both at once into the input features
with ``feature_group_count * size`` groups (or into N with ``batch_group_count * size``).
Each fold is a plan of reshapes and moves (``Fold``) that can be undone, so the two
gradient primitives, which are slices of the same trilinear form as the forward
convolution, batch with the folds of the forward convolution: ``conv_grad_input``
folds like a batched lhs, ``conv_grad_filter`` like a batched rhs. The batching rules
themselves are in ``convolution.py``, beside their primitives.
"""

from __future__ import annotations

from ..core.trace import get_aval
from ..transforms.batching import moveaxis
from .shape_ops import reshape


class Fold:
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


def conv_folds(dnums, groups: int, batch_groups: int, size: int, lhs_batched: bool,
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
    return (Fold(lhs or []), Fold(rhs or []), Fold(out), groups, batch_groups)

"""``functrace.tree``: JAX's short names for the pytree utilities (``jax.tree``).

Example:
    >>> from functrace import tree
    >>> tree.map(lambda x: x + 1, [1, (2, 3)])
    [2, (3, 4)]
    >>> tree.leaves({"b": 2, "a": 1})
    [1, 2]
"""

from . import tree_util as _tu

__all__ = ["all", "broadcast", "flatten", "flatten_with_path", "leaves", "leaves_with_path",
           "map", "map_with_path", "reduce", "structure", "transpose", "unflatten"]

all = _tu.tree_all  # noqa: A001 - jax.tree's names
broadcast = _tu.tree_broadcast
flatten = _tu.tree_flatten
flatten_with_path = _tu.tree_flatten_with_path
leaves = _tu.tree_leaves
leaves_with_path = _tu.tree_leaves_with_path
map = _tu.tree_map  # noqa: A001
map_with_path = _tu.tree_map_with_path
reduce = _tu.tree_reduce
structure = _tu.tree_structure
transpose = _tu.tree_transpose
unflatten = _tu.tree_unflatten

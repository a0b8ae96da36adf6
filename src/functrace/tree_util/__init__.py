"""Pytree utilities with the same names and semantics as ``jax.tree_util``.

A pytree is a nested structure of containers (tuple, list, dict, namedtuple, None,
``OrderedDict``, ``defaultdict``, registered classes and dataclasses) whose other
elements are *leaves*. ``_core.py`` holds flattening and the ``PyTreeDef``;
``_paths.py`` key paths, keyed/dataclass/static registration and ``Partial``.

Example:
    >>> from functrace import tree_util
    >>> tree_util.tree_map(lambda x: x * 2, {"a": 1, "b": (2, 3)})
    {'a': 2, 'b': (4, 6)}
"""

from ._core import (
    PyTreeDef,
    all_leaves,
    register_pytree_node,
    register_pytree_node_class,
    tree_all,
    tree_broadcast,
    tree_flatten,
    tree_leaves,
    tree_map,
    tree_reduce,
    tree_structure,
    tree_transpose,
    tree_unflatten,
    treedef_children,
)
from ._paths import (
    DictKey,
    FlattenedIndexKey,
    GetAttrKey,
    Partial,
    SequenceKey,
    keystr,
    register_dataclass,
    register_pytree_with_keys,
    register_pytree_with_keys_class,
    register_static,
    tree_flatten_with_path,
    tree_leaves_with_path,
    tree_map_with_path,
)

__all__ = [
    "DictKey", "FlattenedIndexKey", "GetAttrKey", "Partial", "PyTreeDef", "SequenceKey",
    "all_leaves", "keystr", "register_dataclass", "register_pytree_node",
    "register_pytree_node_class", "register_pytree_with_keys",
    "register_pytree_with_keys_class", "register_static", "tree_all", "tree_broadcast",
    "tree_flatten", "tree_flatten_with_path", "tree_leaves", "tree_leaves_with_path",
    "tree_map", "tree_map_with_path", "tree_reduce", "tree_structure", "tree_transpose",
    "tree_unflatten", "treedef_children",
]

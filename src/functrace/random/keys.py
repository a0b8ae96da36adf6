"""Typed key arrays (``jax.random.key``): keys with the dtype ``key<fry>``.

JAX has two kinds of keys: raw ``uint32[..., 2]`` arrays (``PRNGKey``, the legacy kind)
and typed key arrays (``key``), whose element is a whole key, so a batch of ``n`` keys has
shape ``(n,)`` and dtype ``key<fry>``. Every ``functrace.random`` function accepts both;
``split`` and ``fold_in`` return keys of the kind they are given.

A ``PRNGKeyArray`` holds its ``uint32[*shape, 2]`` data (``key_data``) and is a pytree
node whose one leaf is that data: ``jit``, ``vmap``, ``grad``, ``scan`` and the other
transformations take and return typed keys, and ``vmap`` maps a batch of them along its
leading key axis. Differences from JAX, which makes the key dtype part of its IR: a
jaxpr shows the data (``u32[2]``) where JAX prints ``key<fry>[]``, ``tree_leaves(key)``
gives the data rather than the key, and ``in_axes`` may name only key axes (not the
data's last one). Keys are not numbers: arithmetic on them, and turning them into a
NumPy array, raise an error that names ``key_data``.
"""

from __future__ import annotations

import numpy as np

from .. import numpy as fnp
from ..core.trace import Tracer, get_aval
from ..errors import DTypeError, ShapeError
from ..tree_util import register_pytree_node

__all__ = ["KeyDType", "PRNGKeyArray", "is_typed_key", "key_dtype"]


class KeyDType:
    """The dtype of typed key arrays: ``key<fry>`` (Threefry-2x32 keys)."""

    name = "key<fry>"
    impl = "threefry2x32"
    is_prng_key = True  # dtypes.issubdtype(dtype, dtypes.prng_key)
    key_shape = (2,)

    def __repr__(self) -> str:
        return self.name

    __str__ = __repr__

    def __eq__(self, other) -> bool:
        return isinstance(other, KeyDType) or other == self.name

    def __hash__(self) -> int:
        return hash(self.name)


key_dtype = KeyDType()


class PRNGKeyArray:
    """An array of typed PRNG keys: shape ``shape``, dtype ``key<fry>``; ``data`` is the
    ``uint32[*shape, 2]`` array behind it. Make them with ``random.key`` or
    ``random.wrap_key_data``.

    Example:
        >>> from functrace import random
        >>> keys = random.split(random.key(0), 3)
        >>> keys.shape, keys.dtype
        ((3,), key<fry>)
        >>> keys[1]
        Array((), dtype=key<fry>) overlaying:
        [ 928981903 3453687069]
    """

    __slots__ = ("data",)
    __hash__ = None  # as arrays
    is_key_array = True  # fnp.asarray returns it as it is, as jnp.asarray
    __array_priority__ = 2000

    def __init__(self, data):
        self.data = data  # no checks: tree_unflatten rebuilds keys around any leaf

    # -- array-like attributes ---------------------------------------------------------
    @property
    def dtype(self) -> KeyDType:
        return key_dtype

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(get_aval(self.data).shape[:-1])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))

    def __len__(self) -> int:
        if not self.shape:
            raise DTypeError("len() of an unsized key array (a single key)")
        return self.shape[0]

    def __iter__(self):
        if not self.shape:
            raise DTypeError("iteration over a single key (a 0-d key array)")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, idx):
        # the key axes are indexed; the data's last axis (the key's two words) is kept
        idx = idx if isinstance(idx, tuple) else (idx,)
        return PRNGKeyArray(self.data[(*idx, slice(None))])

    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], tuple | list) else shape
        size = self.size
        shape = tuple(int(d) for d in shape)
        if -1 in shape:
            known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
            shape = tuple(size // max(known, 1) if d == -1 else d for d in shape)
        return PRNGKeyArray(fnp.reshape(self.data, (*shape, 2)))

    def ravel(self):
        return self.reshape(-1)

    def transpose(self, *axes):
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], tuple | list) else axes
        axes = tuple(range(self.ndim))[::-1] if not axes else tuple(a % self.ndim for a in axes)
        return PRNGKeyArray(fnp.transpose(self.data, (*axes, self.ndim)))

    @property
    def T(self):  # noqa: N802 - NumPy's name
        return self.transpose()

    # -- comparisons and refusals --------------------------------------------------------
    def __eq__(self, other):
        if not isinstance(other, PRNGKeyArray):
            raise DTypeError(f"== between a typed key array ({self._short()}) and a "
                             f"{type(other).__name__}: compare random.key_data of both")
        return fnp.all(fnp.equal(self.data, other.data), axis=-1)

    def __ne__(self, other):
        return fnp.logical_not(self.__eq__(other))

    def __array__(self, dtype=None, copy=None):
        raise DTypeError("A typed PRNG key array (dtype key<fry>) cannot be converted to a "
                         "NumPy array; use random.key_data(keys) for its uint32 data.")

    def astype(self, dtype):
        raise DTypeError(f"astype({dtype!r}) of a typed key array: keys are not numbers; use "
                         "random.key_data(keys) for their uint32 data.")

    def _short(self) -> str:
        return f"key<fry>{list(self.shape)}"

    def __repr__(self) -> str:
        if isinstance(self.data, Tracer):
            return f"Traced<{self._short()}> overlaying {self.data!r}"
        return (f"Array({self.shape}, dtype=key<fry>) overlaying:\n"
                f"{np.asarray(self.data)}")

    __str__ = __repr__


def _refuse(name):
    def method(self, *args, **kwargs):
        others = [type(a).__name__ if not hasattr(a, "dtype") else str(a.dtype) for a in args]
        raise DTypeError(f"{name.strip('_')} does not accept dtypes "
                         f"{', '.join(['key<fry>', *others])}: keys are not numbers; use "
                         "random.key_data(keys) for their uint32 data.")
    method.__name__ = name
    return method


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__floordiv__", "__mod__", "__pow__", "__neg__",
              "__and__", "__or__", "__xor__", "__invert__", "__lt__", "__le__", "__gt__",
              "__ge__", "__matmul__", "__rmatmul__"):
    setattr(PRNGKeyArray, _name, _refuse(_name))


register_pytree_node(PRNGKeyArray, lambda k: ((k.data,), None),
                     lambda _, children: PRNGKeyArray(children[0]))


def is_typed_key(x) -> bool:
    return isinstance(x, PRNGKeyArray)


def wrap(data) -> PRNGKeyArray:
    """Typed keys around ``uint32[..., 2]`` data (checked)."""
    aval = get_aval(data)
    if aval.dtype != np.uint32:
        raise DTypeError(f"random.wrap_key_data: the key data must be uint32, got "
                         f"{aval.str_short()}")
    if not aval.shape or aval.shape[-1] != 2:
        raise ShapeError(f"random.wrap_key_data: invalid PRNG key data: expected its shape to "
                         f"end with (2,) for impl 'threefry2x32'; got shape={aval.shape}")
    return PRNGKeyArray(data)

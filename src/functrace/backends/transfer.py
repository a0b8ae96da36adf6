"""``device_put`` and ``device_get``: explicit moves between the host and a device.

Both take pytrees. On the CPU platform values are NumPy arrays (``core.array.Array``),
so putting there is a conversion; on a device platform (CUDA) it is a copy into
device memory, made by the platform's registered ``put``. Explicit transfers pass
``transfer_guard("disallow")``; only ``"disallow_explicit"`` stops them.
"""

from __future__ import annotations

import numpy as np

from ..core.array import wrap
from ..core.avals import DEVICE_ARRAY_TYPES, aval_of_value, canonicalize_value
from ..devices import Device, check_transfer, local_devices, platform_put
from ..errors import FunctraceError
from ..sharding import Sharding
from ..tree_util import tree_map

__all__ = ["device_get", "device_put"]


def _host_value(x):
    """A device array's value on the host (explicit), anything else canonicalized."""
    if type(x) in DEVICE_ARRAY_TYPES:
        x.copy_to_host_async()  # explicit (the guard is applied there)
        return np.asarray(x)  # the value fetched just now: no second transfer
    return canonicalize_value(x)


def device_put(x, device: Device | None = None, *, src=None, donate: bool = False,
               may_alias: bool | None = None):
    """Copies ``x`` (an array, a scalar or a pytree of them) to ``device`` (``jax.device_put``).

    With no ``device``, values already on a device stay where they are and the rest go
    to the first device of the default platform (a GPU when one is present, else the
    CPU). CPU values are NumPy arrays; device values are device-resident ``Array``s.
    ``device`` may also be a ``SingleDeviceSharding`` (``x.sharding``).
    ``src``, ``donate`` and ``may_alias`` are accepted for JAX's signature: a copy is
    always made to another device, and a value already there is returned as it is.

    Example:
        >>> import functrace as ft
        >>> ft.device_put((1.0, [2, 3]), ft.devices("cpu")[0])
        (array(1., dtype=float32), [array(2, dtype=int32), array(3, dtype=int32)])
    """
    if isinstance(device, Sharding):  # a whole array on one device: x.sharding's kind
        if len(device.device_set) != 1:
            raise FunctraceError(f"device_put: functrace places arrays whole on one device; "
                                 f"got {device!r} over {len(device.device_set)} devices")
        (device,) = device.device_set
    if device is not None and not isinstance(device, Device):
        raise FunctraceError(f"device_put: device must be a Device (from functrace.devices())"
                             f" or a SingleDeviceSharding, got {type(device).__name__}")
    target = device

    def one(leaf):
        if type(leaf) in DEVICE_ARRAY_TYPES and (target is None or leaf.device == target):
            return leaf
        dev = target or local_devices()[0]
        put = platform_put(dev)
        host = _host_value(leaf)
        if put is None:
            return wrap(host)
        check_transfer("host-to-device", f"device_put of {aval_of_value(host).str_short()}",
                       explicit=True)
        return put(host, dev)

    return tree_map(one, x)


def device_get(x):
    """The value of ``x`` (a pytree) on the host: device arrays become NumPy arrays, other
    leaves are returned as they are (``jax.device_get``).

    Example:
        >>> import functrace as ft
        >>> ft.device_get(ft.device_put([1.0, 2.0]))
        [array(1., dtype=float32), array(2., dtype=float32)]
    """
    return tree_map(lambda v: _host_value(v) if type(v) in DEVICE_ARRAY_TYPES else v, x)

"""``functrace.sharding``: how an array is laid out over devices (``jax.sharding``).

functrace places every array whole on one device (data parallelism is ``pmap`` over
processes), so the one layout is ``SingleDeviceSharding``, what ``x.sharding`` of an
array gives.

Example:
    >>> import functrace as ft, functrace.numpy as fnp
    >>> s = fnp.ones((2, 3)).sharding
    >>> s.is_fully_replicated, s.shard_shape((2, 3)), s.num_devices
    (True, (2, 3), 1)
"""

from __future__ import annotations

from .devices import process_index

__all__ = ["Sharding", "SingleDeviceSharding"]


class Sharding:
    """The base of the layouts (``jax.sharding.Sharding``)."""

    @property
    def device_set(self) -> set:
        raise NotImplementedError

    @property
    def num_devices(self) -> int:
        return len(self.device_set)

    @property
    def addressable_devices(self) -> set:
        return {d for d in self.device_set if d.process_index == process_index()}

    @property
    def is_fully_addressable(self) -> bool:
        return self.addressable_devices == self.device_set


class SingleDeviceSharding(Sharding):
    """The whole array on ``device`` (``jax.sharding.SingleDeviceSharding``).

    Example:
        >>> import functrace as ft
        >>> from functrace.sharding import SingleDeviceSharding
        >>> s = SingleDeviceSharding(ft.devices()[0])
        >>> s.device_set == {ft.devices()[0]}, s.devices_indices_map((4,))
        (True, {CpuDevice(id=0): (slice(None, None, None),)})
    """

    def __init__(self, device, *, memory_kind: str | None = None):
        self._device = device
        self.memory_kind = memory_kind

    @property
    def device_set(self) -> set:
        return {self._device}

    @property
    def is_fully_replicated(self) -> bool:
        return True

    def shard_shape(self, global_shape) -> tuple[int, ...]:
        return tuple(global_shape)

    def devices_indices_map(self, global_shape) -> dict:
        return {self._device: (slice(None),) * len(global_shape)}

    def __eq__(self, other) -> bool:
        return (type(other) is SingleDeviceSharding and other._device == self._device
                and other.memory_kind == self.memory_kind)

    def __hash__(self) -> int:
        return hash((self._device, self.memory_kind))

    def __repr__(self) -> str:
        return f"SingleDeviceSharding(device={self._device!r}, memory_kind={self.memory_kind})"

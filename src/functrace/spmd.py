"""``pmap``: the same program on every local device, collectives over a named axis.

``pmap(f, axis_name="i")(x)`` maps ``f`` over the leading axis of ``x``, one slice
per local device, and compiles the mapped function with ``jit``. On the CPU the
devices of one process are virtual (``config.update("num_cpu_devices", N)``): they
share the process's cores, so the mapped function runs as one vectorised program
(``vmap`` with the axis named ``"i"``) -- collectives become reductions over that
axis, which is exact and costs no copies.

As in JAX 0.10, the compiled function is ``jit`` of one ``shard_map`` equation holding
one device's program (``compiler/shard_map.py``): that is what ``make_jaxpr(pmap(f))``
prints; what runs is that program vmapped over the local lanes.

After ``functrace.distributed.initialize()`` under ``mpiexec``/``srun``, the axis spans
the devices of *all* processes: each process passes its own slices (leading axis =
``local_device_count()``), ``axis_size`` is the global device count, ``axis_index``
the global device index, and a collective first combines this process's lanes and
then calls the MPI collective inside the compiled program (``lax.parallel``).

Example:
    >>> import functrace as ft, functrace.numpy as fnp
    >>> from functrace import lax
    >>> ft.local_device_count()  # one CPU device unless num_cpu_devices says otherwise
    1
    >>> ft.pmap(lambda x: x / lax.psum(x.sum(), "i"), axis_name="i")(fnp.array([[1., 3.]]))
    array([[0.25, 0.75]], dtype=float32)
"""

from __future__ import annotations

import functools

from .compiler.jit import jit
from .compiler.shard_map import stage_pmap
from .devices import Device, local_device_count, process_group
from .errors import ShapeError, TransformError
from .transforms.vmap import spmd_map

__all__ = ["pmap"]


def _index_tuple(nums, what: str) -> tuple[int, ...]:
    nums = (nums,) if isinstance(nums, int) else tuple(nums)
    if not all(isinstance(n, int) for n in nums):
        raise TransformError(f"pmap: {what} must be an int or a tuple of ints, got {nums!r}")
    return nums


def _backend_name(backend, devices) -> str | None:
    platform = backend or (devices[0].platform if devices else None)
    if platform in (None, "cpu"):
        return None
    return "cuda" if platform in ("gpu", "cuda") else platform


def pmap(fun, axis_name=None, *, in_axes=0, out_axes=0, static_broadcasted_argnums=(),
         devices=None, backend=None, axis_size=None, donate_argnums=()):
    """Parallel map over the local devices, compiled (``jax.pmap``).

    Args:
        fun: the function each device runs on its slice of the mapped arguments.
        axis_name: the name collectives inside ``fun`` use for the mapped axis.
        in_axes: an int, None, or a tuple with one pytree prefix per positional argument
            (static arguments included; their entries are ignored): the axis of each
            argument to map (None: passed whole to every device).
        out_axes: where the mapped axis goes in the outputs (0, or None for outputs that
            are the same on every device).
        static_broadcasted_argnums: positional arguments that are Python values, given
            whole to every device and part of the compilation cache key.
        devices: the devices to run on; their number must equal the mapped size.
        backend: ``"cpu"`` (default) or ``"gpu"``/``"cuda"``.
        axis_size: the mapped size when no argument is mapped.
        donate_argnums: accepted for JAX compatibility (the buffers are not reused).

    Returns:
        The mapped function. Its outputs have the mapped axis first (``out_axes=0``), one
        slice per local device. The mapped size must be at most ``local_device_count()``.

    Example:
        >>> import functrace as ft, functrace.numpy as fnp
        >>> from functrace import lax
        >>> ft.config.update("num_cpu_devices", 2)
        >>> ft.pmap(lambda x: lax.psum(x, "i"), axis_name="i")(fnp.array([1., 2.]))
        array([3., 3.], dtype=float32)
        >>> ft.config.update("num_cpu_devices", 1)
    """
    if not callable(fun):
        raise TransformError(f"pmap: expected a function, got {type(fun).__name__}")
    statics = _index_tuple(static_broadcasted_argnums, "static_broadcasted_argnums")
    _index_tuple(donate_argnums, "donate_argnums")
    if isinstance(in_axes, list):
        in_axes = tuple(in_axes)
    if devices is not None:
        devices = list(devices)
        if not devices or not all(isinstance(d, Device) for d in devices):
            raise TransformError(f"pmap: devices must be a non-empty list of Device objects "
                                 f"(functrace.local_devices()), got {devices!r}")
    name = getattr(fun, "__name__", "fun")
    compiled: dict = {}

    def check_size(n: int):
        available = len(devices) if devices is not None else local_device_count(backend)
        if devices is not None and n != available:
            raise ShapeError(f"pmap({name}): the mapped axis has size {n}, but devices lists "
                             f"{available} device(s); they must be equal.")
        if n > available:
            raise ShapeError(
                f"pmap({name}): compiling a computation that requires {n} logical devices, but "
                f"only {available} device(s) are available to this process. On the CPU, ask "
                f"for more virtual devices first: functrace.config.update('num_cpu_devices', "
                f"{n}) or FUNCTRACE_NUM_CPU_DEVICES={n}.")

    def body(*args, **kwargs):
        nargs = len(args)
        static_pos = sorted({i % nargs for i in statics if -nargs <= i < nargs})
        if len(static_pos) != len(statics):
            raise TransformError(f"pmap({name}): static_broadcasted_argnums={statics} is out "
                                 f"of range for {nargs} positional argument(s)")
        if isinstance(in_axes, tuple) and len(in_axes) != nargs:
            raise TransformError(
                "pmap in_axes must be an int, None, or a tuple of entries corresponding to the "
                f"positional arguments passed to the function, but got len(in_axes)="
                f"{len(in_axes)}, len(args)={nargs}")
        dyn_pos = [i for i in range(nargs) if i not in static_pos]
        dyn_axes = (tuple(in_axes[i] for i in dyn_pos) if isinstance(in_axes, tuple)
                    else in_axes)

        def with_statics(*dyn, **kw):
            full = list(dyn)
            for i in static_pos:
                full.insert(i, args[i])
            return fun(*full, **kw)

        functools.update_wrapper(with_statics, fun)
        group = process_group()
        stage = functools.partial(stage_pmap, axis_name=axis_name, group=group,
                                  out_axes=out_axes, fun_name=name)
        mapped = spmd_map(with_statics, dyn_axes, out_axes, axis_name, axis_size, group=group,
                          check_size=check_size, stage=stage)
        return mapped(*[args[i] for i in dyn_pos], **kwargs)

    body.__name__ = "_fun"  # JAX 0.10's name for the jit of a pmap

    def jitted():
        key = id(process_group())
        if key not in compiled:
            compiled.clear()  # the process group changed (distributed.initialize)
            compiled[key] = jit(body, static_argnums=statics, donate_argnums=donate_argnums,
                                backend=_backend_name(backend, devices))
        return compiled[key]

    @functools.wraps(fun)
    def pmapped(*args, **kwargs):
        return jitted()(*args, **kwargs)

    pmapped.lower = lambda *args, **kwargs: jitted().lower(*args, **kwargs)
    return pmapped


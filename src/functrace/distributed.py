"""Several processes (one per host) working as one program, over MPI (``jax.distributed``).

Launch the same script on every process with MPI's launcher and call
``initialize()`` first::

    mpiexec -n 2 python train.py                # two processes on this host
    mpiexec -f hosts -n 8 python train.py       # MPICH: one line per host in `hosts`
    srun -N 4 --ntasks-per-node=1 python train.py

``initialize()`` finds the launch (mpiexec/srun environment variables), joins
``MPI.COMM_WORLD`` through mpi4py (imported only then: ``pip install
'functrace[mpi]'``) and installs an :class:`MPIGroup` as the process group of
``functrace.devices``; without a multi-process launch it does nothing. From then on
``pmap``'s axis spans the devices of every process, and collectives over it call
:meth:`MPIGroup.allreduce` / :meth:`MPIGroup.allgather` from inside the compiled
program.

Every cross-process collective first checks, in one small message exchange through
rank 0, that all processes are in the same collective (same sequence number, kind,
shapes and dtypes). A mismatch raises :class:`CollectiveError` on every rank naming
the collective and each rank's operands; a rank that does not arrive within
``config.collective_timeout`` seconds makes the others raise an error that names it.
An uncaught exception on one rank aborts the whole MPI job (as ``python -m mpi4py``
does), so the others never wait forever for it.

Floating-point sums are a reduce-scatter followed by an all-gather: each block of
the result is reduced by exactly one rank and then copied to all, so every rank
holds bit-identical sums whatever order MPI adds in.

Example:
    >>> from functrace import distributed
    >>> distributed.initialize()  # a single process: nothing to join
    >>> distributed.is_initialized()
    True
    >>> distributed.shutdown()
"""

from __future__ import annotations

import os
import sys
import time
import zlib

import numpy as np

from .config import config
from .devices import process_group, set_process_group
from .errors import CollectiveError, FunctraceError

__all__ = ["CollectiveError", "MPIGroup", "initialize", "is_initialized", "shutdown"]

_state = {"initialized": False, "previous_hook": None}


def _launched_size() -> int:
    """How many processes the launcher started (1 when not launched by mpiexec/srun)."""
    for var in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        if os.environ.get(var, "").isdigit():
            return int(os.environ[var])
    if "SLURM_STEP_ID" in os.environ and os.environ.get("SLURM_NTASKS", "").isdigit():
        return int(os.environ["SLURM_NTASKS"])
    return 1


def _import_mpi():
    try:
        from mpi4py import MPI  # noqa: PLC0415 - optional dependency, imported on first use
    except ImportError as err:
        raise FunctraceError(
            "functrace.distributed.initialize: this program was launched as several processes, "
            "which needs mpi4py and an MPI library. Install them with "
            "pip install 'functrace[mpi]' (mpi4py and MPICH, whose mpiexec lands in the "
            f"environment's bin/). ({err})") from err
    return MPI


def initialize(coordinator_address=None, num_processes=None, process_id=None,
               local_device_ids=None, cluster_detection_method=None,
               initialization_timeout=300, coordinator_bind_address=None) -> None:
    """Joins the processes of an ``mpiexec``/``srun`` launch (``jax.distributed.initialize``).

    Call it once, before any other functrace call that uses devices. With a single
    process it only marks the library initialized. ``coordinator_address`` and
    ``coordinator_bind_address`` are accepted for JAX compatibility (MPI's launcher
    connects the processes); ``num_processes`` and ``process_id``, when given, must
    agree with the launch. ``initialization_timeout`` is unused.
    """
    if _state["initialized"]:
        raise FunctraceError("distributed.initialize should only be called once.")
    size = _launched_size()
    if size <= 1 and num_processes in (None, 1):
        _state["initialized"] = True
        return
    mpi = _import_mpi()
    comm = mpi.COMM_WORLD
    if num_processes is not None and num_processes != comm.Get_size():
        raise FunctraceError(f"distributed.initialize(num_processes={num_processes}) but the "
                             f"launch started {comm.Get_size()} processes")
    if process_id is not None and process_id != comm.Get_rank():
        raise FunctraceError(f"distributed.initialize(process_id={process_id}) but MPI gave "
                             f"this process rank {comm.Get_rank()}")
    counts = comm.allgather(config.num_cpu_devices)
    if len(set(counts)) != 1:
        raise FunctraceError(
            f"distributed.initialize: the processes have different numbers of CPU devices "
            f"({dict(enumerate(counts))}); give every process the same num_cpu_devices.")
    group = MPIGroup(comm, mpi)
    set_process_group(group if group.size > 1 else None)
    _state["initialized"] = True
    if group.size > 1:
        _state["previous_hook"] = sys.excepthook
        sys.excepthook = _abort_job


def _abort_job(exc_type, exc, tb):
    """An uncaught exception on one rank ends the job instead of hanging the others."""
    group = process_group()
    # the summary first, then a pause: MPI_Abort can kill the launcher's output
    # forwarding before a long traceback has passed through it
    sys.stderr.write(f"functrace.distributed: rank {group.rank} raised {exc_type.__name__}: "
                     f"{exc}\naborting all {group.size} processes\n")
    sys.stderr.flush()
    (_state["previous_hook"] or sys.__excepthook__)(exc_type, exc, tb)
    sys.stderr.flush()
    time.sleep(_ABORT_GRACE_S)
    group.comm.Abort(1)


def is_initialized() -> bool:
    """Whether ``initialize()`` has been called (and not undone by ``shutdown()``)."""
    return _state["initialized"]


def shutdown() -> None:
    """Leaves the process group (``jax.distributed.shutdown``); MPI finalises at exit."""
    if _state["previous_hook"] is not None:
        sys.excepthook = _state["previous_hook"]
        _state["previous_hook"] = None
    set_process_group(None)
    _state["initialized"] = False


# ---------------------------------------------------------------------------
# the MPI process group

_KINDS = ["psum", "pmax", "pmin", "all_gather", "psum_scatter", "ppermute", "all_to_all",
          "pmean", "allreduce", "allgather"]
_CHECK_TAG, _VERDICT_TAG = 71, 72
_ABORT_GRACE_S = 0.5  # lets the launcher forward a failing rank's last output
_SPIN_S = 0.002  # poll without sleeping this long (collectives are usually microseconds)


def _wait(reqs, timeout: float) -> list[bool]:
    """Polls ``reqs`` until all complete or ``timeout`` seconds pass; which completed."""
    done = [False] * len(reqs)
    start = time.monotonic()
    pause = 0.0
    while True:
        for i, r in enumerate(reqs):
            if not done[i] and r.Test():
                done[i] = True
        if all(done):
            return done
        now = time.monotonic() - start
        if now > timeout:
            return done
        if now > _SPIN_S:
            pause = min(0.001, pause + 1e-5)
            time.sleep(pause)


def _describe(xs) -> str:
    return ", ".join(f"{np.dtype(x.dtype).name}{list(x.shape)}" for x in xs)


class MPIGroup:
    """The processes of ``MPI.COMM_WORLD``: ``rank``, ``size`` and checked collectives."""

    def __init__(self, comm, mpi):
        self.mpi = mpi
        self.comm = comm
        self.check_comm = comm.Dup()  # the agreement messages never mix with data
        self.rank = comm.Get_rank()
        self.size = comm.Get_size()
        self.seq = 0

    # -- agreement -----------------------------------------------------------------
    def _agree(self, collective: str, axis_name, xs) -> None:
        """Checks that every rank is in the same collective on the same operands."""
        self.seq += 1
        text = _describe(xs)
        kind = _KINDS.index(collective) if collective in _KINDS else len(_KINDS)
        key = zlib.crc32(f"{collective}|{axis_name}|{text}".encode())
        mine = np.array([self.seq, kind, key], np.int64)
        what = f"lax.{collective} over axis {axis_name!r} (collective #{self.seq})"
        timeout = config.collective_timeout
        comm = self.check_comm
        verdict = np.zeros(1, np.int64)
        if self.rank == 0:
            others = np.zeros((self.size - 1, 3), np.int64)
            reqs = [comm.Irecv(others[r - 1], source=r, tag=_CHECK_TAG)
                    for r in range(1, self.size)]
            done = _wait(reqs, timeout)
            if not all(done):
                missing = [r for r, ok in zip(range(1, self.size), done, strict=True) if not ok]
                arrived = [0] + [r for r, ok in zip(range(1, self.size), done, strict=True) if ok]
                raise CollectiveError(
                    f"{what}: rank 0 waited {timeout:g} s for rank(s) {missing}; rank(s) "
                    f"{arrived} arrived. A process died, hangs, or skipped this collective. "
                    "If a step legitimately takes longer, raise "
                    "config.update('collective_timeout', seconds).")
            verdict[0] = int(not (others == mine).all())
            for r in range(1, self.size):
                comm.Send(verdict, dest=r, tag=_VERDICT_TAG)
        else:
            send = comm.Isend(mine, dest=0, tag=_CHECK_TAG)
            recv = comm.Irecv(verdict, source=0, tag=_VERDICT_TAG)
            if not all(_wait([send, recv], timeout)):
                raise CollectiveError(
                    f"{what}: rank {self.rank} waited {timeout:g} s for rank 0 to confirm that "
                    "all processes arrived; rank 0 or another rank died, hangs, or skipped "
                    "this collective (rank 0 reports which).")
        if verdict[0]:
            texts = comm.allgather((self.seq, collective, str(axis_name), text))
            lines = [f"  rank {r}: collective #{s}, lax.{c} over axis {a!r} on {t}"
                     for r, (s, c, a, t) in enumerate(texts)]
            raise CollectiveError(
                f"{what} does not match across processes:\n" + "\n".join(lines) + "\nEvery "
                "process must run the same collectives, in the same order, on operands of the "
                "same shapes and dtypes (shard the global batch evenly).")

    # -- collectives ------------------------------------------------------------------
    def allreduce(self, xs, op: str, *, collective: str = "allreduce", axis_name=None):
        """Elementwise ``op`` ("sum", "max" or "min") of each array over all ranks."""
        xs = [np.asarray(x, order="C") for x in xs]
        self._agree(collective, axis_name, xs)
        outs: list = [None] * len(xs)
        by_dtype: dict = {}
        for i, x in enumerate(xs):
            by_dtype.setdefault(x.dtype, []).append(i)
        for dtype, idx in by_dtype.items():
            flat = (np.concatenate([xs[i].ravel() for i in idx]) if len(idx) > 1
                    else xs[idx[0]].ravel())
            total = self._reduce_flat(flat, op, dtype)
            start = 0
            for i in idx:
                n = xs[i].size
                outs[i] = total[start:start + n].reshape(xs[i].shape)
                start += n
        return outs

    def _reduce_flat(self, flat: np.ndarray, op: str, dtype) -> np.ndarray:
        mpi = self.mpi
        wire = flat.astype(np.float32) if dtype == np.float16 else flat
        if dtype == np.bool_:
            mpi_op = {"max": mpi.LOR, "min": mpi.LAND, "sum": mpi.LOR}[op]
        else:
            mpi_op = {"sum": mpi.SUM, "max": mpi.MAX, "min": mpi.MIN}[op]
        if op == "sum" and np.issubdtype(wire.dtype, np.inexact):
            # each block is reduced on exactly one rank, then copied: bit-identical everywhere
            block = -(-wire.size // self.size)
            padded = np.zeros(block * self.size, wire.dtype)
            padded[:wire.size] = wire
            mine = np.empty(block, wire.dtype)
            self.comm.Reduce_scatter_block(padded, mine, op=mpi_op)
            out = np.empty(block * self.size, wire.dtype)
            self.comm.Allgather(mine, out)
            out = out[:wire.size]
        else:  # integer sums, max and min are exact: any order gives the same bits
            out = np.empty_like(wire)
            self.comm.Allreduce(wire, out, op=mpi_op)
        return out.astype(dtype) if out.dtype != dtype else out

    def allgather(self, x, *, collective: str = "allgather", axis_name=None) -> np.ndarray:
        """Every rank's ``x`` stacked along a new leading axis (rank order)."""
        x = np.asarray(x, order="C")
        self._agree(collective, axis_name, [x])
        wire = x.astype(np.float32) if x.dtype == np.float16 else x
        out = np.empty((self.size,) + x.shape, wire.dtype)
        self.comm.Allgather(wire, out)
        return out.astype(x.dtype) if out.dtype != x.dtype else out

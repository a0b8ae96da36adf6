"""Generic CUDA kernels: strided copy, fill, row reductions and a tiled matmul.

Every device value of a compiled program is a C-contiguous device array. Kernels
take flat (1-D) views plus explicit element offsets and strides, so one kernel
serves every layout: a transpose, a broadcast (stride 0), a reversal (negative
stride) or a slice is one ``gather``; the matmul reads its operands through
(batch, row, column) strides, so transposed operands cost no copy.

NOTE: kernels refer to ``cuda`` as a module-level global (never a closure): the
simulator (``NUMBA_ENABLE_CUDASIM=1``) swaps the module's globals while it runs one.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numba import cuda, from_dtype

from . import memory

THREADS = 256  # threads per block of the one-thread-per-element kernels

DISPATCHERS: list = []  # every kernel made so far (to count compiled specialisations)


def registered(kernel):
    """Records a kernel in ``DISPATCHERS``; returns it."""
    DISPATCHERS.append(kernel)
    return kernel


def compiled_kernel_count():
    """How many kernel specialisations were compiled in this process (None in the
    simulator, which compiles nothing)."""
    counts = [len(d.overloads) for d in DISPATCHERS if hasattr(d, "overloads")]
    return sum(counts) if counts else None


def flat(a):
    """The 1-D view of a C-contiguous device array (a rank-0 array becomes size 1); kept
    on the array, so the arena's views (reused by every call) reshape once."""
    if a.ndim == 1:
        return a
    d = a.__dict__
    f = d.get("_ft_flat")
    if f is None:
        f = d["_ft_flat"] = a.reshape(max(a.size, 1))
    return f


def contiguous_strides(shape) -> tuple[int, ...]:
    """Element strides of a C-contiguous array of ``shape``."""
    strides, acc = [], 1
    for n in reversed(shape):
        strides.append(acc)
        acc *= n
    return tuple(reversed(strides))


def blocks(n: int, threads: int = THREADS) -> int:
    """Blocks of ``threads`` threads covering ``n`` elements."""
    return (n + threads - 1) // threads


# ---------------------------------------------------------------------------
# gather: dst[i] = src[offset + sum(index(i)[d] * strides[d])]

@registered
@cuda.jit
def _gather_kernel(src, dst, offset, shape, strides):
    i = cuda.grid(1)
    if i < dst.size:
        rem = i
        off = offset
        for d in range(len(shape) - 1, -1, -1):
            off += (rem % shape[d]) * strides[d]
            rem //= shape[d]
        dst[i] = src[off]


def gather(src, shape, strides, offset: int = 0, dtype=None):
    """A new contiguous device array of ``shape`` read from ``src`` through ``strides``."""
    shape = tuple(int(n) for n in shape)
    out = memory.device_array(shape, dtype or src.dtype)
    size = math.prod(shape)
    if size == 0:
        return out
    run_shape, run_strides = (shape, strides) if shape else ((1,), (0,))
    memory.launch(_gather_kernel[blocks(size), THREADS], flat(src), flat(out), np.int64(offset),
                                          tuple(np.int64(n) for n in run_shape),
                                          tuple(np.int64(s) for s in run_strides))
    return out


def transpose(x, perm):
    """``np.transpose(x, perm)`` as a new contiguous device array."""
    perm = tuple(perm)
    if perm == tuple(range(len(perm))):
        return x
    strides = contiguous_strides(x.shape)
    return gather(x, [x.shape[p] for p in perm], [strides[p] for p in perm])


# ---------------------------------------------------------------------------
# fill

@registered
@cuda.jit
def _fill_kernel(dst, value):
    i = cuda.grid(1)
    if i < dst.size:
        dst[i] = value


def fill(out, value) -> None:
    """Sets every element of the device array ``out`` to ``value``."""
    if out.size:
        memory.launch(_fill_kernel[blocks(out.size), THREADS], flat(out),
                      np.dtype(out.dtype).type(value))


def zeros(shape, dtype):
    out = memory.device_array(tuple(shape), dtype)
    fill(out, 0)
    return out


# ---------------------------------------------------------------------------
# reductions of the rows of a (rows, length) matrix, one block per (row, part)

REDUCE_THREADS = 128
_PARTS_MIN_LENGTH = 1 << 15  # rows longer than this are split across blocks...
_PARTS_MAX_ROWS = 256        # ...when there are too few rows to fill the GPU


@cuda.jit(device=True, inline=True)
def combine(acc, v, is_sum, is_max):
    """One reduction step: ``acc + v``, or the max/min where a NaN on either side
    wins (as ``np.max``/``np.min``). ``is_sum``/``is_max`` are compile-time
    constants of the calling kernel, so the unused branches fold away."""
    if is_sum:
        return acc + v
    if is_max:
        return v if (v > acc or v != v) else acc
    return v if (v < acc or v != v) else acc


def reduce_identity(kind: str, dtype: np.dtype):
    """The value a ``kind`` (sum/max/min) reduction starts from, as a ``dtype`` scalar."""
    dtype = np.dtype(dtype)
    if kind == "sum":
        return dtype.type(0)
    if np.issubdtype(dtype, np.floating):
        return dtype.type(-np.inf if kind == "max" else np.inf)
    info = np.iinfo(dtype) if dtype != np.bool_ else None
    return (dtype.type(kind == "min") if info is None
            else dtype.type(info.min if kind == "max" else info.max))


@functools.cache
def _reduce_kernel(kind: str, dtype: np.dtype):
    nb = from_dtype(dtype)
    identity = reduce_identity(kind, dtype)
    is_sum, is_max = kind == "sum", kind == "max"

    @cuda.jit
    def kernel(src, dst, length, parts):
        buf = cuda.shared.array(REDUCE_THREADS, nb)
        row = cuda.blockIdx.x // parts
        part = cuda.blockIdx.x % parts
        chunk = (length + parts - 1) // parts
        start = row * length + part * chunk
        stop = row * length + min(length, (part + 1) * chunk)
        t = cuda.threadIdx.x
        acc = identity
        j = start + t
        while j < stop:
            acc = combine(acc, src[j], is_sum, is_max)
            j += REDUCE_THREADS
        buf[t] = acc
        cuda.syncthreads()
        step = REDUCE_THREADS // 2
        while step > 0:
            if t < step:
                buf[t] = combine(buf[t], buf[t + step], is_sum, is_max)
            cuda.syncthreads()
            step //= 2
        if t == 0:
            dst[cuda.blockIdx.x] = buf[0]

    return registered(kernel), identity


@functools.cache
def _reduce_short_kernel(kind: str, dtype: np.dtype):
    """One thread per row: for rows too short to be worth a block."""
    identity = _reduce_kernel(kind, dtype)[1]
    is_sum, is_max = kind == "sum", kind == "max"

    @cuda.jit
    def kernel(src, dst, rows, length):
        r = cuda.grid(1)
        if r < rows:
            acc = identity
            for j in range(r * length, (r + 1) * length):
                acc = combine(acc, src[j], is_sum, is_max)
            dst[r] = acc

    return registered(kernel)


SHORT_ROW = 128  # rows up to this long are reduced by one thread each


def reduce_rows(kind: str, x, rows: int, length: int):
    """Reduces (``'sum'``, ``'max'``, ``'min'``) each row of contiguous ``x`` seen as
    ``(rows, length)``; returns a flat device array of ``rows`` values."""
    dtype = np.dtype(x.dtype)
    src = flat(x)
    if length <= SHORT_ROW:
        out = memory.device_array(rows, dtype)
        if rows:
            memory.launch(
                _reduce_short_kernel(kind, dtype)[blocks(rows), THREADS], src, out,
                np.int64(rows), np.int64(length))
        return out
    kernel = _reduce_kernel(kind, dtype)[0]
    parts = 1
    if length >= _PARTS_MIN_LENGTH and rows < _PARTS_MAX_ROWS:
        parts = min(256, length // (_PARTS_MIN_LENGTH // 8))
    out = memory.device_array(rows * parts, dtype)
    if rows == 0:
        return memory.device_array(0, dtype)
    memory.launch(kernel[rows * parts, REDUCE_THREADS], src, out, np.int64(length), np.int64(parts))
    if parts > 1:
        return reduce_rows(kind, out, rows, parts)
    return out


# ---------------------------------------------------------------------------
# strided batched matmul: C[b, m, n] = sum_k A[b, m, k] * B[b, k, n]
#
# 64x64 output tiles, 16x16 threads each computing 4x4 outputs (register
# blocking), K in steps of 16 through shared memory.

TILE_M = TILE_N = 64
TILE_K = 16
_TPB = 16  # threads per block side
_PER = TILE_M // _TPB  # outputs per thread per side
_MAX_GRID_Z = 65535


@functools.cache
def _matmul_kernel(dtype: np.dtype, two_level: bool = False):
    """With ``two_level``, A's contraction index ``kg`` (global: ``bat * k_size + k``,
    the batch being split-K chunks) walks two dims: ``(kg // a_kin) * a_kout + (kg %
    a_kin) * a_strides[2]`` (conv_grad_filter reads an NCHW cotangent over (n, p) so,
    without a copy). ``k_total`` shortens the last chunk of a split contraction."""
    nb = from_dtype(dtype)
    zero = dtype.type(0)

    @cuda.jit
    def kernel(a, b, c, m_size, n_size, k_size, a_strides, b_strides, c_strides, offsets,
               k_total, a_kin, a_kout):
        a_tile = cuda.shared.array((TILE_K, TILE_M), nb)
        b_tile = cuda.shared.array((TILE_K, TILE_N), nb)
        acc = cuda.local.array((_PER, _PER), nb)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        tid = ty * _TPB + tx
        row0 = cuda.blockIdx.y * TILE_M
        col0 = cuda.blockIdx.x * TILE_N
        bat = cuda.blockIdx.z
        a_base = offsets[0] + bat * a_strides[0]
        b_base = offsets[1] + bat * b_strides[0]
        k_len = min(k_size, k_total - bat * k_size)
        for i in range(_PER):
            for j in range(_PER):
                acc[i, j] = zero
        for k0 in range(0, k_len, TILE_K):
            for l in range(TILE_M * TILE_K // (_TPB * _TPB)):
                e = tid + l * _TPB * _TPB
                r = e // TILE_K
                kk = e % TILE_K
                gr = row0 + r
                gk = k0 + kk
                if gr < m_size and gk < k_len:
                    if two_level:
                        kg = bat * k_size + gk
                        a_tile[kk, r] = a[offsets[0] + gr * a_strides[1] + (kg // a_kin) * a_kout
                                          + (kg % a_kin) * a_strides[2]]
                    else:
                        a_tile[kk, r] = a[a_base + gr * a_strides[1] + gk * a_strides[2]]
                else:
                    a_tile[kk, r] = zero
                kk = e // TILE_N
                cc = e % TILE_N
                gk = k0 + kk
                gc = col0 + cc
                if gk < k_len and gc < n_size:
                    b_tile[kk, cc] = b[b_base + gk * b_strides[1] + gc * b_strides[2]]
                else:
                    b_tile[kk, cc] = zero
            cuda.syncthreads()
            for kk in range(TILE_K):
                for i in range(_PER):
                    av = a_tile[kk, ty + i * _TPB]
                    for j in range(_PER):
                        acc[i, j] += av * b_tile[kk, tx + j * _TPB]
            cuda.syncthreads()
        c_base = offsets[2] + bat * c_strides[0]
        for i in range(_PER):
            r = row0 + ty + i * _TPB
            for j in range(_PER):
                cc = col0 + tx + j * _TPB
                if r < m_size and cc < n_size:
                    c[c_base + r * c_strides[1] + cc * c_strides[2]] = acc[i, j]

    return registered(kernel)


# Split-K: a long contraction over a small output (conv_grad_filter: K = N * OH * OW
# for a few filters) would run on a handful of blocks. It is cut into chunks of at
# least SPLIT_K_CHUNK, one batch entry each, whose partial products are then summed.
SPLIT_K_MIN_K = 4096
SPLIT_K_CHUNK = 512
SPLIT_K_TARGET_BLOCKS = 256  # about two blocks per SM on an H100 (132 SMs)


@registered
@cuda.jit
def _sum_parts_kernel(partial, c, parts, m_size, n_size, c_strides, c_offset):
    i = cuda.grid(1)
    size = m_size * n_size
    if i < size:
        acc = partial[i]
        for p in range(1, parts):
            acc += partial[p * size + i]
        c[c_offset + (i // n_size) * c_strides[0] + (i % n_size) * c_strides[1]] = acc


def _split_k_parts(batch: int, m: int, n: int, k: int) -> int:
    tiles = ((m + TILE_M - 1) // TILE_M) * ((n + TILE_N - 1) // TILE_N)
    if batch != 1 or k < SPLIT_K_MIN_K or tiles >= SPLIT_K_TARGET_BLOCKS // 2:
        return 1
    return max(1, min(k // SPLIT_K_CHUNK, -(-SPLIT_K_TARGET_BLOCKS // tiles)))


def matmul_into(c, a, b, batch: int, m: int, n: int, k: int, a_strides, b_strides,
                c_strides, offsets=(0, 0, 0), a_split=None) -> None:
    """``C[b, m, n] = A[b, m, :] @ B[b, :, n]`` on flat device arrays through
    (batch, row, column) element strides and base ``offsets`` (of A, B, C). With
    ``a_split = (kin, kout)`` (batch 1 only), A's contraction index walks two dims:
    ``(k // kin) * kout + (k % kin) * a_strides[2]``."""
    if batch * m * n == 0:
        return
    if k == 0:
        raise ValueError("matmul_into: empty contraction; the caller zero-fills instead")
    parts = _split_k_parts(batch, m, n, k)
    if parts > 1:
        _matmul_split_k(c, a, b, m, n, k, parts, a_strides, b_strides, c_strides, offsets,
                        a_split)
        return
    _launch_matmul(c, a, b, batch, m, n, k, a_strides, b_strides, c_strides, offsets,
                   a_split=a_split)


def _matmul_split_k(c, a, b, m, n, k, parts, a_strides, b_strides, c_strides, offsets,
                    a_split):
    """One launch over ``total`` chunks of the contraction (the last one shorter), then
    one that sums them into C."""
    chunk = -(-k // parts)
    total = -(-k // chunk)
    partial = memory.device_array(total * m * n, c.dtype)
    _launch_matmul(partial, a, b, total, m, n, chunk,
                   (chunk * a_strides[2], a_strides[1], a_strides[2]),
                   (chunk * b_strides[1], b_strides[1], b_strides[2]), (m * n, n, 1),
                   (offsets[0], offsets[1], 0), k_total=k, a_split=a_split)
    memory.launch(
        _sum_parts_kernel[blocks(m * n), THREADS], partial, flat(c), np.int64(total),
        np.int64(m), np.int64(n), (np.int64(c_strides[1]), np.int64(c_strides[2])),
        np.int64(offsets[2]))


@functools.lru_cache(maxsize=1024)
def _matmul_launches(dtype, batch, m, n, k, a_strides, b_strides, c_strides, offsets,
                     k_total, a_split):
    """(configured kernel, scalar arguments) per launch; computed once per geometry (the
    shapes of a compiled program never change between calls)."""
    kernel = _matmul_kernel(np.dtype(dtype), a_split is not None)
    kin, kout = a_split or (0, 0)
    as_i64 = lambda t: tuple(np.int64(v) for v in t)  # noqa: E731
    out = []
    for b0 in range(0, batch, _MAX_GRID_Z):  # the grid's z extent is at most 65535
        nb = min(_MAX_GRID_Z, batch - b0)
        grid = ((n + TILE_N - 1) // TILE_N, (m + TILE_M - 1) // TILE_M, nb)
        offs = [o + b0 * s[0] for o, s in zip(offsets, (a_strides, b_strides, c_strides),
                                               strict=True)]
        out.append((memory.configure(kernel, grid, (_TPB, _TPB)),
                    (np.int64(m), np.int64(n), np.int64(k), as_i64(a_strides),
                     as_i64(b_strides), as_i64(c_strides), as_i64(offs),
                     np.int64((k_total or k * batch) - b0 * k), np.int64(kin),
                     np.int64(kout))))
    return out


def _launch_matmul(c, a, b, batch, m, n, k, a_strides, b_strides, c_strides, offsets,
                   k_total=None, a_split=None):
    fa, fb, fc = flat(a), flat(b), flat(c)
    for configured, scalars in _matmul_launches(
            np.dtype(c.dtype), batch, m, n, k, tuple(a_strides), tuple(b_strides),
            tuple(c_strides), tuple(offsets), k_total,
            None if a_split is None else tuple(a_split)):
        memory.launch(configured, fa, fb, fc, *scalars)


def matmul(a, b, batch: int, m: int, n: int, k: int, a_strides, b_strides, dtype):
    """A new contiguous ``(batch, m, n)`` device array ``A @ B`` (strided operands)."""
    c = memory.device_array((batch, m, n), dtype)
    if k == 0:
        return zeros((batch, m, n), dtype)
    matmul_into(c, a, b, batch, m, n, k, a_strides, b_strides, (m * n, n, 1))
    return c

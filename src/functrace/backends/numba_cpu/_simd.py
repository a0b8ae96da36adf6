"""A ``<16 x float>`` register tile for Numba kernels, built with ``numba.extending.intrinsic``.

Why: written as plain Numba loops, a 4-pixel x 64-channel convolution tile keeps its
accumulators in memory (LLVM does not promote them out of the loop nest) and ran at
a fraction of the FMA peak (docs/performance.md). Here a tile is a Numba value: a
tuple of ``P`` rows of ``V`` ``<16 x float>`` vectors, one LLVM aggregate that SROA
splits into registers, so the whole reduction keeps it in ``zmm`` registers (checked
with ``inspect_asm`` in the tests).

- ``tile_zeros(P, V)``: a zero tile; ``P`` and ``V`` must be literal integers.
- ``tile_fma(acc, b, bi, a, ai, astep)``: ``acc[p][v] += a[ai + p * astep] *
  b[bi + 16 * v : bi + 16 * v + 16]`` -- ``V`` vector loads of ``b``, ``P`` broadcasts
  of ``a``, ``P * V`` fused multiply-adds.
- ``tile_store(acc, y, yi, ystep)``: ``y[yi + p * ystep + 16 * v : ... + 16] = acc[p][v]``.
- ``tile_add(acc, y, yi, ystep)``: the same, adding to ``y``.

Arrays are 1-D float32 and C-contiguous; indices are raw element offsets, unchecked
(no bounds check and no negative-index wraparound: callers guarantee they are in
range). Imported only by Numba kernel modules (``import functrace`` stays Numba-free).
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic, models, register_model

LANES = 16
_VEC = ir.VectorType(ir.FloatType(), LANES)


class F32x16(types.Type):
    """The Numba type of one ``<16 x float>`` register."""

    def __init__(self):
        super().__init__(name="f32x16")


f32x16 = F32x16()


@register_model(F32x16)
class _F32x16Model(models.PrimitiveModel):
    def __init__(self, dmm, fe_type):
        super().__init__(dmm, fe_type, _VEC)


def _tile_type(p, v):
    return types.UniTuple(types.UniTuple(f32x16, v), p)


def _tile_shape(tile):
    return tile.count, tile.dtype.count


def _is_f32_array(a):
    return isinstance(a, types.Array) and a.dtype == types.float32 and a.ndim == 1


def _ptr(context, builder, arrty, arr, index):
    """``&arr[index]`` as a ``float*`` (no checks)."""
    data = context.make_array(arrty)(context, builder, arr).data
    return builder.gep(data, [index])


def _vload(builder, ptr):
    return builder.load(builder.bitcast(ptr, _VEC.as_pointer()), align=4)


def _splat(builder, x):
    vec = builder.insert_element(ir.Constant(_VEC, ir.Undefined), x, ir.Constant(ir.IntType(32),
                                                                                     0))
    mask = ir.Constant(ir.VectorType(ir.IntType(32), LANES), [0] * LANES)
    return builder.shuffle_vector(vec, ir.Constant(_VEC, ir.Undefined), mask)


def _unpack(builder, tile, p, v):
    return [[builder.extract_value(tile, [i, j]) for j in range(v)] for i in range(p)]


def _pack(context, builder, tiletype, rows):
    out = context.get_constant_undef(tiletype)
    for i, row in enumerate(rows):
        for j, x in enumerate(row):
            out = builder.insert_value(out, x, [i, j])
    return out


@intrinsic(prefer_literal=True)
def tile_zeros(typingctx, p, v):
    if not (isinstance(p, types.IntegerLiteral) and isinstance(v, types.IntegerLiteral)):
        return None
    np_, nv = p.literal_value, v.literal_value
    tiletype = _tile_type(np_, nv)

    def codegen(context, builder, sig, args):
        zero = ir.Constant(_VEC, [0.0] * LANES)
        return _pack(context, builder, tiletype, [[zero] * nv for _ in range(np_)])

    return tiletype(p, v), codegen


@intrinsic
def tile_fma(typingctx, acc, b, bi, a, ai, astep):
    if not (isinstance(acc, types.UniTuple) and isinstance(acc.dtype, types.UniTuple)
            and _is_f32_array(b) and _is_f32_array(a)):
        return None
    np_, nv = _tile_shape(acc)

    def codegen(context, builder, sig, args):
        tile, barr, bidx, aarr, aidx, astp = args
        _, bty, bity, aty, aity, sty = sig.args
        bidx = context.cast(builder, bidx, bity, types.intp)
        aidx = context.cast(builder, aidx, aity, types.intp)
        astp = context.cast(builder, astp, sty, types.intp)
        bvec = [_vload(builder, _ptr(context, builder, bty, barr,
                                     builder.add(bidx, ir.Constant(bidx.type, LANES * j))))
                for j in range(nv)]
        fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(_VEC, [_VEC] * 3),
                                             "llvm.fma.v16f32")
        rows = _unpack(builder, tile, np_, nv)
        idx = aidx
        for i in range(np_):
            x = _splat(builder, builder.load(_ptr(context, builder, aty, aarr, idx), align=4))
            rows[i] = [builder.call(fma, [x, bvec[j], rows[i][j]]) for j in range(nv)]
            idx = builder.add(idx, astp)
        return _pack(context, builder, sig.return_type, rows)

    return acc(acc, b, bi, a, ai, astep), codegen


def _store_intrinsic(add):
    def typer(typingctx, acc, y, yi, ystep):
        if not (isinstance(acc, types.UniTuple) and isinstance(acc.dtype, types.UniTuple)
                and _is_f32_array(y)):
            return None
        np_, nv = _tile_shape(acc)

        def codegen(context, builder, sig, args):
            tile, yarr, yidx, ystp = args
            _, yty, yity, sty = sig.args
            yidx = context.cast(builder, yidx, yity, types.intp)
            ystp = context.cast(builder, ystp, sty, types.intp)
            rows = _unpack(builder, tile, np_, nv)
            for i in range(np_):
                for j in range(nv):
                    ptr = _ptr(context, builder, yty, yarr,
                               builder.add(yidx, ir.Constant(yidx.type, LANES * j)))
                    vp = builder.bitcast(ptr, _VEC.as_pointer())
                    val = rows[i][j]
                    if add:
                        val = builder.fadd(builder.load(vp, align=4), val)
                    builder.store(val, vp, align=4)
                yidx = builder.add(yidx, ystp)
            return context.get_dummy_value()

        return types.none(acc, y, yi, ystep), codegen

    typer.__name__ = "tile_add" if add else "tile_store"
    return intrinsic(typer)


tile_store = _store_intrinsic(False)
tile_add = _store_intrinsic(True)


def _block_swap_masks(h):
    """The two ``shufflevector`` masks of one transpose stage: rows ``i`` and ``i + h``
    exchange their off-diagonal ``h x h`` blocks (``a``: row i, ``b``: row i + h)."""
    lo = [j if j & h == 0 else LANES + j - h for j in range(LANES)]
    hi = [j + h if j & h == 0 else LANES + j for j in range(LANES)]
    return lo, hi


@intrinsic
def transpose16(typingctx, src, si, ss, dst, di, ds):
    """``dst[di + c * ds + r] = src[si + r * ss + c]`` for ``r, c < 16``: a 16 x 16 block
    transposed in registers (16 vector loads, 4 stages of 16 shuffles, 16 vector stores)."""
    if not (_is_f32_array(src) and _is_f32_array(dst)):
        return None

    def codegen(context, builder, sig, args):
        sarr, sidx, sstp, darr, didx, dstp = args
        sty, sity, ssty, dty, dity, dsty = sig.args
        sidx = context.cast(builder, sidx, sity, types.intp)
        sstp = context.cast(builder, sstp, ssty, types.intp)
        didx = context.cast(builder, didx, dity, types.intp)
        dstp = context.cast(builder, dstp, dsty, types.intp)
        rows = []
        for _ in range(LANES):
            rows.append(_vload(builder, _ptr(context, builder, sty, sarr, sidx)))
            sidx = builder.add(sidx, sstp)
        h = LANES // 2
        while h >= 1:
            lo, hi = (ir.Constant(ir.VectorType(ir.IntType(32), LANES), m)
                      for m in _block_swap_masks(h))
            for i in range(LANES):
                if i & h == 0:
                    a, b = rows[i], rows[i + h]
                    rows[i] = builder.shuffle_vector(a, b, lo)
                    rows[i + h] = builder.shuffle_vector(a, b, hi)
            h //= 2
        for row in rows:
            ptr = _ptr(context, builder, dty, darr, didx)
            builder.store(row, builder.bitcast(ptr, _VEC.as_pointer()), align=4)
            didx = builder.add(didx, dstp)
        return context.get_dummy_value()

    return types.none(src, si, ss, dst, di, ds), codegen

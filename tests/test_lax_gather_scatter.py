"""lax.gather and the scatter family against loop references written from XLA's operation
semantics (one output / update element at a time), with gradients against finite
differences, jit against eager and vmap against a loop."""

import itertools

import numpy as np
import pytest

import functrace as ft
from functrace import lax
from functrace.core.jaxpr import typecheck
from functrace.errors import DTypeError, MissingRuleError, ShapeError
from functrace.test_util import check_grads

GDN, SDN, MODE = lax.GatherDimensionNumbers, lax.ScatterDimensionNumbers, lax.GatherScatterMode


# ---------------------------------------------------------------------------
# loop references (XLA's gather/scatter semantics, element by element)

def _start(shape, idx_vec, start_map, batch_pos, op_batch, sizes, mode):
    """Full start vector of one window and whether it is in bounds."""
    start = [0] * len(shape)
    for k, d in enumerate(start_map):
        start[d] = int(idx_vec[k])
    for d, p in zip(op_batch, batch_pos, strict=True):
        start[d] = p
    ok = all(0 <= start[d] <= shape[d] - sizes[d] for d in start_map)
    if mode in ("clip", "promise_gather"):
        start = [min(max(s, 0), n - k) for s, n, k in zip(start, shape, sizes, strict=True)]
        ok = True
    return start, ok


def ref_gather(x, idx, dn, sizes, mode, fill):
    window = [d for d in range(x.ndim) if d not in dn.collapsed_slice_dims
              and d not in dn.operand_batching_dims]
    out_rank = idx.ndim - 1 + len(window)
    batch_axes = [o for o in range(out_rank) if o not in dn.offset_dims]
    out_shape = [0] * out_rank
    for o, d in zip(dn.offset_dims, window, strict=True):
        out_shape[o] = sizes[d]
    for o, n in zip(batch_axes, idx.shape[:-1], strict=True):
        out_shape[o] = n
    out = np.zeros(out_shape, x.dtype)
    for o in np.ndindex(*out_shape):
        b = tuple(o[a] for a in batch_axes)
        pos = [b[i] for i in dn.start_indices_batching_dims]
        start, ok = _start(x.shape, idx[b], dn.start_index_map, pos, dn.operand_batching_dims,
                           sizes, mode)
        full = list(start)
        for oo, d in zip(dn.offset_dims, window, strict=True):
            full[d] += o[oo]
        out[o] = x[tuple(full)] if ok else fill
    return out


_COMBINE = {"scatter": lambda a, b: b, "add": np.add, "mul": np.multiply, "min": np.minimum,
            "max": np.maximum}


def ref_scatter(op, x, idx, upd, dn, mode):
    out = x.copy()
    window = [d for d in range(x.ndim) if d not in dn.inserted_window_dims
              and d not in dn.operand_batching_dims]
    scatter_axes = [a for a in range(upd.ndim) if a not in dn.update_window_dims]
    sizes = [1] * x.ndim
    for d, a in zip(window, dn.update_window_dims, strict=True):
        sizes[d] = upd.shape[a]
    for u in np.ndindex(*upd.shape):
        b = tuple(u[a] for a in scatter_axes)
        pos = [b[i] for i in dn.scatter_indices_batching_dims]
        start, ok = _start(x.shape, idx[b], dn.scatter_dims_to_operand_dims, pos,
                           dn.operand_batching_dims, sizes, mode)
        if not ok:
            continue
        full = list(start)
        for a, d in zip(dn.update_window_dims, window, strict=True):
            full[d] += u[a]
        out[tuple(full)] = _COMBINE[op](out[tuple(full)], upd[u])
    return out


# ---------------------------------------------------------------------------
# cases: (operand shape, indices, dimension numbers, slice sizes)

def _cases():
    rng = np.random.default_rng(0)
    yield (5,), rng.integers(-2, 7, (6, 1)), GDN((), (0,), (0,)), (1,)
    yield (5, 3), rng.integers(-1, 6, (4, 1)), GDN((1,), (0,), (0,)), (1, 3)
    yield (6, 7), rng.integers(-1, 7, (2, 3, 2)), GDN((2, 3), (), (0, 1)), (2, 3)
    yield (4, 5), rng.integers(0, 6, (3, 2, 1)), GDN((1,), (1,), (1,)), (4, 1)
    yield (3, 4, 5), rng.integers(-1, 5, (3, 2, 1)), GDN((2,), (1,), (1,), (0,), (0,)), (1, 1, 5)
    yield (2, 3, 4), rng.integers(0, 4, (2, 2)), GDN((0, 1), (0,), (2, 0)), (1, 3, 2)
    yield (3, 4), np.zeros((2, 0), np.int64), GDN((1, 2), (), ()), (3, 4)


CASES = list(_cases())


def _scatter_dn(dn):
    return SDN(dn.offset_dims, dn.collapsed_slice_dims, dn.start_index_map,
               dn.operand_batching_dims, dn.start_indices_batching_dims)


@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("mode", ["clip", "fill", None])
def test_gather_matches_loop_reference(case, mode):
    shape, idx, dn, sizes = CASES[case]
    idx = idx.astype(np.int32)
    x = np.random.default_rng(case).standard_normal(shape).astype(np.float32)
    got = lax.gather(x, idx, dn, sizes, mode=mode)
    ref_mode = {"clip": "clip", None: "promise_gather", "fill": "fill"}[mode]
    want = ref_gather(x, idx, dn, sizes, ref_mode, np.nan)
    np.testing.assert_array_equal(got, want)
    jitted = ft.jit(lambda a, i: lax.gather(a, i, dn, sizes, mode=mode))(x, idx)
    np.testing.assert_array_equal(jitted, want)


def test_gather_fill_values_by_dtype():
    dn = GDN((), (0,), (0,))
    idx = np.array([[0], [3]], np.int32)
    for dtype, fill in [(np.float32, np.nan), (np.int32, np.iinfo(np.int32).min),
                        (np.uint8, 255), (np.bool_, True)]:
        out = lax.gather(np.zeros(2, dtype), idx, dn, (1,), mode="fill")
        np.testing.assert_array_equal(out, np.array([0, fill], dtype))
    out = lax.gather(np.zeros(2, np.float32), idx, dn, (1,), mode="fill", fill_value=-1)
    np.testing.assert_array_equal(out, [0, -1])


def test_gather_jax_doc_example():
    x = np.array([10, 11, 12], np.int32)
    indices = np.array([0, 1, 1, 2, 2, 2], np.int32)
    out = lax.gather(x, indices[:, None], slice_sizes=(1,),
                     dimension_numbers=GDN(offset_dims=(), collapsed_slice_dims=(0,),
                                           start_index_map=(0,)),
                     indices_are_sorted=True, mode=MODE.PROMISE_IN_BOUNDS)
    np.testing.assert_array_equal(out, [10, 11, 11, 12, 12, 12])


@pytest.mark.parametrize("op", ["scatter", "add", "mul", "min", "max"])
@pytest.mark.parametrize("case", range(len(CASES)))
@pytest.mark.parametrize("mode", ["clip", "drop", None])
def test_scatter_matches_loop_reference(op, case, mode):
    shape, idx, gdn, sizes = CASES[case]
    idx = idx.astype(np.int32)
    dn = _scatter_dn(gdn)
    rng = np.random.default_rng(case)
    x = rng.standard_normal(shape).astype(np.float32)
    upd_shape = lax.gather(x, idx, gdn, sizes).shape
    upd = rng.standard_normal(upd_shape).astype(np.float32)
    fn = {"scatter": lax.scatter, "add": lax.scatter_add, "mul": lax.scatter_mul,
          "min": lax.scatter_min, "max": lax.scatter_max}[op]
    ref_mode = "clip" if mode == "clip" else "drop"
    got = fn(x, idx, upd, dn, mode=mode)
    want = ref_scatter(op, x, idx, upd, dn, ref_mode)
    jitted = ft.jit(lambda a, i, u: fn(a, i, u, dn, mode=mode))(x, idx, upd)
    # which of several updates to one position "scatter" keeps is unspecified (as in JAX)
    hits = ref_scatter("add", np.zeros_like(x), idx, np.ones_like(upd), dn, ref_mode)
    once = hits <= 1 if op == "scatter" else np.ones(x.shape, bool)
    np.testing.assert_allclose(got[once], want[once], rtol=1e-6)
    np.testing.assert_allclose(jitted[once], want[once], rtol=1e-6)


def test_scatter_add_jax_doc_semantics():
    dn = SDN(update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
    x = np.zeros(4, np.float32)
    idx = np.array([[1], [1], [-1], [4]], np.int32)
    # duplicates accumulate; out-of-bounds (negative or too large) updates are dropped
    np.testing.assert_array_equal(lax.scatter_add(x, idx, np.ones(4, np.float32), dn),
                                  [0, 2, 0, 0])
    np.testing.assert_array_equal(
        lax.scatter_add(x, idx, np.ones(4, np.float32), dn, mode="clip"), [1, 2, 0, 1])


# ---------------------------------------------------------------------------
# derivatives against finite differences

def _nonlinear(f):
    return lambda *xs: lax.sin(f(*[lax.mul(x, x) for x in xs]))


@pytest.mark.parametrize("case", [0, 1, 2, 4, 5])
@pytest.mark.parametrize("mode", ["clip", "fill"])
def test_gather_grads(x64, case, mode):
    shape, idx, dn, sizes = CASES[case]
    x = np.random.default_rng(case).standard_normal(shape)
    fill = 0.0 if mode == "fill" else None
    check_grads(_nonlinear(lambda a: lax.gather(a, idx, dn, sizes, mode=mode,
                                                fill_value=fill)), (x,), order=2)


@pytest.mark.parametrize("op", ["scatter", "add", "mul", "min", "max"])
@pytest.mark.parametrize("case", [0, 1, 2, 4])
def test_scatter_grads(x64, op, case):
    shape, idx, gdn, sizes = CASES[case]
    idx = np.clip(idx, 0, None)  # promise_in_bounds-free: every update lands
    dn = _scatter_dn(gdn)
    rng = np.random.default_rng(case)
    x = rng.standard_normal(shape) + 3.0
    upd = rng.standard_normal(lax.gather(x, idx, gdn, sizes).shape) + 3.0
    fn = {"scatter": lax.scatter, "add": lax.scatter_add, "mul": lax.scatter_mul,
          "min": lax.scatter_min, "max": lax.scatter_max}[op]
    hits = ref_scatter("add", np.zeros_like(x), idx, np.ones_like(upd), dn, "drop")
    if op == "mul" and hits.max() > 1:
        # derivative in the updates only for unique indices, as in JAX
        check_grads(lambda a: fn(a, idx, upd, dn), (x,), order=2)
        with pytest.raises(MissingRuleError, match="unique"):
            ft.grad(lambda u: lax.reduce_sum(fn(x, idx, u, dn), tuple(range(x.ndim))))(upd)
        return
    check_grads(lambda a, u: fn(a, idx, u, dn), (x, upd), order=2)


def test_scatter_duplicate_winner_gets_the_cotangent():
    dn = SDN((), (0,), (0,))
    idx = np.array([[1], [1], [2]], np.int32)

    def f(x, u):
        return lax.reduce_sum(lax.mul(lax.scatter(x, idx, u, dn), np.array([1.0, 2.0, 3.0])),
                              (0,))

    x, u = np.ones(3), np.array([5.0, 6.0, 7.0])
    gx, gu = ft.grad(f, argnums=(0, 1))(x, u)
    out = lax.scatter(x, idx, u, dn)
    winner = 1 if out[1] == u[1] else 0  # whichever update the scatter kept
    np.testing.assert_array_equal(gx, [1.0, 0.0, 0.0])
    want_u = np.zeros(3)
    want_u[winner], want_u[2] = 2.0, 3.0
    np.testing.assert_array_equal(gu, want_u)


def test_scatter_max_ties_share_the_derivative():
    dn = SDN((), (0,), (0,))
    idx = np.array([[0], [0]], np.int32)
    x, u = np.array([2.0, 1.0]), np.array([2.0, 1.5])
    gx, gu = ft.grad(lambda a, b: lax.reduce_sum(lax.scatter_max(a, idx, b, dn), (0,)),
                     argnums=(0, 1))(x, u)
    np.testing.assert_allclose(gx, [0.5, 1.0])
    np.testing.assert_allclose(gu, [0.5, 0.0])


# ---------------------------------------------------------------------------
# vmap against a loop, every combination of batched arguments

def _loop(f, args, axes):
    size = next(a.shape[ax] for a, ax in zip(args, axes, strict=True) if ax is not None)
    outs = [f(*[a if ax is None else np.take(a, b, ax) for a, ax in zip(args, axes,
                                                                        strict=True)])
            for b in range(size)]
    return np.stack(outs)


@pytest.mark.parametrize("case", [1, 2, 4, 5])
def test_gather_vmap(case):
    shape, idx, dn, sizes = CASES[case]
    rng = np.random.default_rng(case)
    xs = rng.standard_normal((3,) + shape).astype(np.float32)
    idxs = np.stack([idx, np.roll(idx, 1, 0), -idx]).astype(np.int32)
    for mode in ("clip", "fill"):
        f = lambda a, i, mode=mode: lax.gather(a, i, dn, sizes, mode=mode)  # noqa: E731
        for ax in [(0, None), (None, 0), (0, 0)]:
            args = [xs if ax[0] == 0 else xs[0], idxs if ax[1] == 0 else idxs[0]]
            np.testing.assert_array_equal(ft.vmap(f, in_axes=ax)(*args), _loop(f, args, ax))


@pytest.mark.parametrize("op", ["scatter", "add", "mul", "min", "max"])
def test_scatter_vmap(op):
    shape, idx, gdn, sizes = CASES[4]
    dn = _scatter_dn(gdn)
    rng = np.random.default_rng(1)
    upd_shape = lax.gather(np.zeros(shape, np.float32), idx.astype(np.int32), gdn,
                           sizes).shape
    xs = rng.standard_normal((2,) + shape).astype(np.float32)
    idxs = np.stack([idx, np.roll(idx, 1, 1)]).astype(np.int32)
    us = rng.standard_normal((2,) + upd_shape).astype(np.float32)
    fn = {"scatter": lax.scatter, "add": lax.scatter_add, "mul": lax.scatter_mul,
          "min": lax.scatter_min, "max": lax.scatter_max}[op]
    f = lambda a, i, u: fn(a, i, u, dn)  # noqa: E731
    for ax in itertools.product([0, None], repeat=3):
        if ax == (None, None, None):
            continue
        args = [v if a == 0 else v[0] for v, a in zip((xs, idxs, us), ax, strict=True)]
        np.testing.assert_allclose(ft.vmap(f, in_axes=ax)(*args), _loop(f, args, ax),
                                   rtol=1e-6)


# ---------------------------------------------------------------------------
# printing, typecheck and errors

def test_jaxpr_names_params_and_typecheck():
    dn = GDN((1,), (0,), (0,))
    closed = ft.make_jaxpr(
        lambda a: lax.scatter_add(a, np.array([[1]], np.int32),
                                  lax.gather(a, np.array([[0]], np.int32), dn, (1, 2)),
                                  SDN((1,), (0,), (0,))))(np.ones((3, 2), np.float32))
    typecheck(closed.jaxpr)
    text = str(closed)
    assert "gather[\n      dimension_numbers=GatherDimensionNumbers(offset_dims=(1,), " in text
    assert "mode=GatherScatterMode.PROMISE_IN_BOUNDS" in text
    assert "scatter-add[\n      dimension_numbers=ScatterDimensionNumbers(" in text
    assert "mode=GatherScatterMode.FILL_OR_DROP" in text


def test_mode_parsing():
    assert MODE.from_any("clip") is MODE.CLIP
    assert MODE.from_any(None) is MODE.FILL_OR_DROP
    assert MODE.from_any("drop") is MODE.from_any("fill") is MODE.FILL_OR_DROP
    assert MODE.from_any("promise_in_bounds") is MODE.PROMISE_IN_BOUNDS
    with pytest.raises(ShapeError, match="Unknown gather mode"):
        MODE.from_any("wrap")


def test_errors():
    x = np.ones((3, 4), np.float32)
    dn = GDN((1,), (0,), (0,))
    with pytest.raises(DTypeError, match="indices must be integers"):
        lax.gather(x, np.zeros((1, 1), np.float32), dn, (1, 4))
    with pytest.raises(ShapeError, match="slice_sizes"):
        lax.gather(x, np.zeros((1, 1), np.int32), dn, (2, 4))
    with pytest.raises(ShapeError, match="start_index_map"):
        lax.gather(x, np.zeros((1, 2), np.int32), dn, (1, 4))
    with pytest.raises(ShapeError, match="offset_dims"):
        lax.gather(x, np.zeros((1, 1), np.int32), GDN((), (0,), (0,)), (1, 4))
    sdn = SDN((1,), (0,), (0,))
    with pytest.raises(DTypeError, match="same dtype"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.ones((2, 4), np.int32), sdn)
    with pytest.raises(ShapeError, match="batch shape"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.ones((3, 4), np.float32), sdn)
    with pytest.raises(ShapeError, match="larger than operand axis"):
        lax.scatter_add(x, np.zeros((2, 1), np.int32), np.ones((2, 5), np.float32), sdn)


def test_cuda_backend_runs_them_on_the_host():
    """The CUDA backend lowers gather/scatter to the reference impl on host copies (the
    simulator stands in for a GPU here; conftest turns it on when there is none)."""
    pytest.importorskip("functrace.backends.numba_cuda")
    from numba import cuda
    if not cuda.is_available():
        pytest.skip("no CUDA device and the simulator is off")

    def f(x, i, v):
        return x.at[i].add(v).at[:, 0].max(0.5), x.at[i].get(mode="fill", fill_value=0.0)

    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    i, v = np.array([1, 1, 5], np.int32), np.ones((3, 3), np.float32)
    for want, got in zip(ft.jit(f)(x, i, v), ft.jit(f, backend="cuda")(x, i, v), strict=True):
        np.testing.assert_allclose(np.asarray(got), want)

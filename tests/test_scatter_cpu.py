"""The CPU backend's scatter loops (backends/numba_cpu/scatter.py) against NumPy's
``ufunc.at`` and the reference impl, and the in-place rewrite: it runs when the operand
is dead and leaves every live buffer (program inputs, outputs, values read later and
their views) untouched. Also ``lax.scatter_sub``."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.backends.numba_cpu import scatter as cpu_scatter
from functrace.lax._gather_scatter_impl import _scatter_impl
from functrace.test_util import check_grads

SDN = lax.ScatterDimensionNumbers
ROWS = SDN(update_window_dims=(1,), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
ELEMS = SDN(update_window_dims=(), inserted_window_dims=(0,), scatter_dims_to_operand_dims=(0,))
LAX = {"set": lax.scatter, "add": lax.scatter_add, "sub": lax.scatter_sub,
       "mul": lax.scatter_mul, "min": lax.scatter_min, "max": lax.scatter_max}
UFUNC = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "min": np.minimum,
         "max": np.maximum}


def _numpy_ref(op, x, idx, upd, mode):
    """``x[idx] op= upd`` along the leading axis with NumPy: clip clamps the index,
    drop skips it; duplicates accumulate (``ufunc.at``), for set the last one wins."""
    out = x.copy()
    idx = np.asarray(idx).reshape(-1)
    if mode == "clip":
        keep, idx = np.ones(idx.shape, bool), np.clip(idx, 0, len(x) - 1)
    else:
        keep = (idx >= 0) & (idx < len(x))
    if op == "set":
        for i, u in zip(idx[keep], upd[keep], strict=True):
            out[i] = u
    else:
        with np.errstate(invalid="ignore"):
            UFUNC[op].at(out, idx[keep], upd[keep])
    return out


def _counts():
    return dict(cpu_scatter.counts)


def _delta(before):
    return {k: cpu_scatter.counts[k] - before[k] for k in before}


def _fresh(x):
    """``x`` made by a (non-tiny) step of the program, so that its buffer is the
    program's own."""
    zero = lax.full_like(x, 0)
    # lax.add rejects booleans, as in JAX: or with False instead
    return lax.bitwise_or(x, zero) if x.dtype == np.bool_ else lax.add(x, zero)


@pytest.mark.parametrize("op", ["set", "add", "sub", "mul", "min", "max"])
@pytest.mark.parametrize("mode", ["clip", "drop", "fill", "promise_in_bounds"])
@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.float64])
def test_rows_with_duplicates_match_numpy(op, mode, dtype):
    rng = np.random.default_rng(0)
    x = rng.integers(-5, 5, (7, 3)).astype(dtype)
    lo, hi = (0, 7) if mode == "promise_in_bounds" else (-3, 10)
    idx = rng.integers(lo, hi, 12).astype(np.int32)
    idx[:3] = idx[3]  # duplicates
    upd = rng.integers(-4, 5, (12, 3)).astype(dtype)
    want = _numpy_ref(op, x, idx, upd, mode)
    fn = LAX[op]
    for f in (lambda a, i, u: fn(a, i[:, None], u, ROWS, mode=mode),
              lambda a, i, u: fn(_fresh(a), i[:, None], u, ROWS, mode=mode)):
        np.testing.assert_array_equal(ft.jit(f)(x, idx, upd), want)


# (complex min/max: NumPy's lexicographic order is no XLA semantics; bool has no sub)
SCALAR_CASES = [(op, dt) for op in ("set", "add", "sub", "mul", "min", "max")
                for dt in (np.float32, np.int32, np.uint8, np.complex64, np.bool_, np.float16)
                if not (np.dtype(dt).kind in "cb" and op in ("min", "max", "sub"))]


@pytest.mark.parametrize(("op", "dtype"), SCALAR_CASES)
@pytest.mark.parametrize("mode", ["clip", "drop"])
def test_scalar_index_matches_numpy(op, mode, dtype):
    x = (np.arange(20) % 7).astype(dtype)
    upd = np.asarray(3, dtype)
    for i in (0, 5, 19, -1, 20, 400):
        want = _numpy_ref(op, x, np.array([i]), upd.reshape(1), mode)
        got = ft.jit(lambda a, j, u: LAX[op](_fresh(a), j[None], u, ELEMS, mode=mode))(
            x, np.int32(i), upd)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == dtype


def test_nan_propagates_through_min_and_max():
    x = np.array([1.0, np.nan, 3.0, 4.0] * 5, np.float32)
    idx = np.array([0, 0, 1, 2, 19], np.int32)
    upd = np.array([np.nan, 5.0, 0.0, -1.0, np.nan], np.float32)
    for op in ("min", "max"):
        got = ft.jit(lambda a, i, u, op=op: LAX[op](_fresh(a), i[:, None], u, ELEMS))(
            x, idx, upd)
        np.testing.assert_array_equal(got, _numpy_ref(op, x, idx, upd, "drop"))


def test_uint8_add_wraps_like_numpy():
    x = np.full(20, 250, np.uint8)
    idx = np.array([1, 1, 1], np.int32)
    upd = np.array([3, 4, 5], np.uint8)
    got = ft.jit(lambda a, i, u: lax.scatter_add(_fresh(a), i[:, None], u, ELEMS))(x, idx, upd)
    np.testing.assert_array_equal(got, _numpy_ref("add", x, idx, upd, "drop"))


# general dimension numbers: window axes in the middle, several index entries, batching
GENERAL = [
    ((6, 7), (2, 3, 2), SDN((2, 3), (), (0, 1)), (2, 3, 2, 3)),
    ((4, 5), (3, 2, 1), SDN((1,), (1,), (1,)), (3, 4, 2)),
    ((3, 4, 5), (3, 2, 1), SDN((2,), (1,), (1,), (0,), (0,)), (3, 2, 5)),
    ((2, 3, 4), (2, 2), SDN((0, 1), (0,), (2, 0)), (1, 3, 2)),
    ((3, 4), (2, 0), SDN((1, 2), (), ()), (2, 3, 4)),
]


@pytest.mark.parametrize("case", range(len(GENERAL)))
@pytest.mark.parametrize("op", ["set", "add", "mul", "max"])
@pytest.mark.parametrize("mode", ["clip", "drop"])
def test_general_dimension_numbers_match_the_reference_impl(case, op, mode):
    shape, idx_shape, dn, upd_shape = GENERAL[case]
    rng = np.random.default_rng(case)
    x = rng.standard_normal(shape).astype(np.float32)
    idx = rng.integers(-1, 6, idx_shape).astype(np.int32)
    upd = rng.standard_normal(upd_shape).astype(np.float32)
    name = {"set": "scatter", "add": "scatter-add", "mul": "scatter-mul",
            "max": "scatter-max"}[op]
    want = _scatter_impl(name, x, idx, upd, dimension_numbers=dn,
                         mode=lax.GatherScatterMode.from_any(mode), unique_indices=False,
                         indices_are_sorted=False)
    for f in (lambda a, i, u: LAX[op](a, i, u, dn, mode=mode),
              lambda a, i, u: LAX[op](_fresh(a), i, u, dn, mode=mode)):
        np.testing.assert_array_equal(ft.jit(f)(x, idx, upd), want)


# ---------------------------------------------------------------------------
# the in-place rewrite

X = np.arange(40, dtype=np.float32)


def test_in_place_when_the_operand_is_dead():
    before = _counts()
    out = ft.jit(lambda x, i: (x * 2).at[i].add(1.0))(X, 3)
    assert _delta(before) == {"inplace": 1, "copy": 0}
    np.testing.assert_array_equal(out, np.where(np.arange(40) == 3, 7.0, X * 2))


def test_a_chain_copies_the_input_once():
    def f(x):
        for j in range(5):
            x = x.at[j].add(j + 1.0)
        return x
    x = X.copy()
    before = _counts()
    out = ft.jit(f)(x)
    assert _delta(before) == {"inplace": 4, "copy": 1}
    np.testing.assert_array_equal(x, X)  # the input is untouched
    np.testing.assert_array_equal(out, X + np.r_[1:6, np.zeros(35)])


def test_embedding_gradient_scatters_into_its_zeros():
    w = np.random.default_rng(1).standard_normal((30, 4)).astype(np.float32)
    ids = np.array([3, 7, 3, 0, 29, 3], np.int32)
    g = np.random.default_rng(2).standard_normal((6, 4)).astype(np.float32)
    before = _counts()
    got = ft.jit(ft.grad(lambda w: fnp.sum(w[ids] * g)))(w)
    assert _delta(before) == {"inplace": 1, "copy": 0}
    want = np.zeros_like(w)
    np.add.at(want, ids, g)
    np.testing.assert_allclose(got, want, rtol=1e-6)


LIVE = {
    "program input": lambda x: x.at[2].set(-1.0),
    "program output": lambda x: ((y := x * 2), y.at[2].set(-1.0)),
    "read later": lambda x: (y := x * 2).at[2].set(-1.0) + y,
    "view returned": lambda x: ((y := x * 2).reshape(5, 8), y.at[2].set(-1.0)),
    "view read later": lambda x: ((v := (y := x * 2).reshape(5, 8)), y.at[2].set(-1.0),
                                  v + 1)[1:],
    "tiny step of the input": lambda x: (x[:8] * 1).at[2].set(-1.0),
}


@pytest.mark.parametrize("case", list(LIVE))
def test_live_buffers_are_not_written(case):
    f = LIVE[case]
    x = X.copy()
    want = f(fnp.asarray(X))  # eager: every scatter copies
    before = _counts()
    got = ft.jit(f)(x)
    assert _delta(before)["inplace"] == 0
    np.testing.assert_array_equal(x, X)
    for g, w in zip(ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(want),
                    strict=True):
        np.testing.assert_array_equal(g, w)


def test_a_read_only_operand_is_copied_at_run_time():
    # broadcast_in_dim's reference impl returns a read-only view: the rewrite picks the
    # scatter (the view is dead), the run copies it
    f = ft.jit(lambda c: lax.broadcast_in_dim(c, (30,), ()).at[4].add(1.0))
    before = _counts()
    np.testing.assert_array_equal(f(np.float32(2.0)), np.where(np.arange(30) == 4, 3.0, 2.0))
    assert sum(_delta(before).values()) == 1


# ---------------------------------------------------------------------------
# lax.scatter_sub (JAX: operand minus the updates at the indices)

def test_scatter_sub_values_and_subtract_uses_it():
    x = np.ones(5, np.float32)
    idx = np.array([[1], [1], [4], [9]], np.int32)
    upd = np.array([1.0, 2.0, 3.0, 4.0], np.float32)
    want = _numpy_ref("sub", x, idx, upd, "drop")
    np.testing.assert_array_equal(lax.scatter_sub(x, idx, upd, ELEMS), want)
    np.testing.assert_array_equal(
        lax.scatter_sub(x, idx, upd, ELEMS, mode="clip"), _numpy_ref("sub", x, idx, upd, "clip"))
    jaxpr = ft.make_jaxpr(lambda a: a.at[1].subtract(2.0))(x)
    assert [e.primitive.name for e in jaxpr.jaxpr.eqns][-1] == "scatter-sub"


def test_scatter_sub_grads_and_vmap(x64):
    rng = np.random.default_rng(3)
    x, upd = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    idx = np.array([[0], [2], [2], [4]], np.int32)

    def f(a, u):
        return lax.sin(lax.scatter_sub(a * a, idx, u * u, ROWS))
    check_grads(f, (x, upd), order=2)
    # d/du of sum(scatter_sub(x, idx, u)) is -1 for every update that lands
    g = ft.grad(lambda u: fnp.sum(lax.scatter_sub(x, idx, u, ROWS)))(upd)
    np.testing.assert_array_equal(g, -np.ones_like(upd))
    xs, us = rng.standard_normal((2, 5, 3)), rng.standard_normal((2, 4, 3))
    idxs = np.array([[[0], [1], [1], [3]], [[4], [4], [0], [2]]], np.int32)
    got = ft.vmap(lambda a, i, u: lax.scatter_sub(a, i, u, ROWS))(xs, idxs, us)
    for b in range(2):
        np.testing.assert_allclose(got[b], _numpy_ref("sub", xs[b], idxs[b], us[b], "drop"))


def _random_program(seed):
    """A straight-line program of views (reshape, transpose, slice), fresh values
    (multiply) and scatters over one input, some of whose values are outputs."""
    rng = np.random.default_rng(seed)
    ops = [(rng.integers(6), rng.integers(100), rng.integers(100)) for _ in range(10)]
    n_out = rng.integers(1, 4)

    def f(x):
        vals = [x]
        for op, a, b in ops:
            v = vals[a % len(vals)]
            if op == 0:
                v = v * 2.0
            elif op == 1:
                v = v.reshape(v.shape[::-1])
            elif op == 2:
                v = v.T
            elif op == 3 and v.shape[0] > 1:
                v = v[1:]
            elif op == 4:
                v = v.at[b % v.shape[0]].add(1.0)
            else:
                v = v.at[b % v.shape[0]].set(-3.0)
            vals.append(v)
        return vals[-1], *[vals[(k * 7919 + seed) % len(vals)] for k in range(n_out)]

    return f


@pytest.mark.parametrize("seed", range(40))
def test_random_programs_agree_with_eager_and_keep_the_input(seed):
    f = _random_program(seed)
    x = np.arange(24, dtype=np.float32).reshape(4, 6)
    want = f(fnp.asarray(x.copy()))
    got = ft.jit(f)(x)
    np.testing.assert_array_equal(x, np.arange(24, dtype=np.float32).reshape(4, 6))
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)

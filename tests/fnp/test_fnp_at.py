"""``x.at[idx]`` against NumPy's in-place updates on copies (``ufunc.at`` where indices
repeat), with JAX's out-of-bounds modes, gradients against finite differences, and
jit/vmap against eager."""

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.core.array import Array as EagerArray
from functrace.errors import ConcretizationError, MissingRuleError
from functrace.test_util import check_grads


@st.composite
def shapes_and_indices(draw):
    """A shape and a NumPy index into it mixing ints, slices, None, ..., int arrays."""
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=1, max_size=3)))
    adv_shape = draw(st.sampled_from([(2,), (1, 3), (3, 1), ()]))
    parts = []
    dims = draw(st.integers(1, len(shape)))
    for n in shape[:dims]:  # trailing axes not indexed: NumPy takes them whole
        kind = draw(st.sampled_from(["int", "slice", "array", "full"]))
        if kind == "int":
            parts.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            step = draw(st.sampled_from([None, 1, 2, -1, -2]))
            start = draw(st.one_of(st.none(), st.integers(-n, n)))
            stop = draw(st.one_of(st.none(), st.integers(-n, n)))
            parts.append(slice(start, stop, step))
        elif kind == "array":
            vals = draw(st.lists(st.integers(-n, n - 1), min_size=int(np.prod(adv_shape)),
                                 max_size=int(np.prod(adv_shape))))
            parts.append(np.array(vals, np.int32).reshape(adv_shape))
        else:
            parts.append(slice(None))
    whole = [k for k, p in enumerate(parts) if isinstance(p, slice) and p == slice(None)]
    # An Ellipsis stands for exactly one whole axis only when every axis is indexed;
    # with axes left over it would stand for those too and shift the later indices.
    if whole and dims == len(shape) and draw(st.booleans()):
        parts[draw(st.sampled_from(whole))] = Ellipsis
    if draw(st.booleans()):
        parts.insert(draw(st.integers(0, len(parts))), None)
    return shape, tuple(parts)


def _numpy_update(op, x, idx, v):
    r = x.copy()
    vb = np.broadcast_to(v, x[idx].shape)
    {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "min": np.minimum,
     "max": np.maximum}[op].at(r, idx, vb)
    return r


@given(shapes_and_indices(), st.sampled_from(["add", "subtract", "multiply", "min", "max"]),
       st.integers(0, 2**16))
def test_accumulating_updates_match_ufunc_at(case, op, seed):
    shape, idx = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    v = rng.standard_normal(x[idx].shape).astype(np.float32)
    want = _numpy_update(op, x, idx, v)
    got = getattr(fnp.asarray(x).at[idx], op)(v)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    jitted = ft.jit(lambda a, b: getattr(a.at[idx], op)(b))(x, v)
    np.testing.assert_allclose(jitted, want, rtol=1e-5, atol=1e-6)


@given(shapes_and_indices(), st.integers(0, 2**16))
def test_set_and_get_match_numpy(case, seed):
    shape, idx = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(np.float32)
    np.testing.assert_array_equal(fnp.asarray(x).at[idx].get(), x[idx])
    v = rng.standard_normal(x[idx].shape).astype(np.float32)
    want = x.copy()
    want[idx] = v
    got = ft.jit(lambda a, b: a.at[idx].set(b))(x, v)
    # where an index repeats, which value is kept is unspecified (as in JAX)
    hits = np.zeros(shape)
    np.add.at(hits, idx, 1)
    once = hits <= 1
    np.testing.assert_array_equal(got[once], want[once])
    scalar = fnp.asarray(x).at[idx].set(2.5)
    want_s = x.copy()
    want_s[idx] = 2.5
    np.testing.assert_array_equal(scalar, want_s)


@given(shapes_and_indices(), st.integers(0, 2**16))
def test_apply_divide_power(case, seed):
    shape, idx = case
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.5, 2.0, shape).astype(np.float32)
    v = rng.uniform(0.5, 2.0, x[idx].shape).astype(np.float32)
    want = x.copy()
    np.sin.at(want, idx)  # applied once per reference
    np.testing.assert_allclose(fnp.asarray(x).at[idx].apply(fnp.sin), want, rtol=1e-5)
    np.testing.assert_allclose(ft.jit(lambda a: a.at[idx].apply(fnp.sin))(x), want, rtol=1e-5)
    factor = _numpy_update("multiply", np.ones_like(x), idx, v)
    np.testing.assert_allclose(fnp.asarray(x).at[idx].divide(v), x / factor, rtol=1e-5)
    np.testing.assert_allclose(fnp.asarray(x).at[idx].power(v), x ** factor, rtol=1e-5)


def test_jax_doc_examples():
    x = fnp.zeros(5)
    np.testing.assert_array_equal(x.at[np.array([1, 1, 3])].add(1.0), [0, 2, 0, 1, 0])
    # out-of-bounds: updates dropped by default, clamped with 'clip'; get clamps
    np.testing.assert_array_equal(x.at[7].set(9.0), [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(x.at[7].set(9.0, mode="clip"), [0, 0, 0, 0, 9])
    np.testing.assert_array_equal(x.at[-6].set(9.0), [0, 0, 0, 0, 0])
    np.testing.assert_array_equal(x.at[-1].set(9.0), [0, 0, 0, 0, 9])
    y = fnp.arange(4)
    assert int(y.at[10].get()) == 3
    assert int(y.at[10].get(mode="fill", fill_value=-1)) == -1
    assert int(y.at[10].get(mode="fill")) == np.iinfo(np.int32).min
    np.testing.assert_array_equal(y.at[np.array([0, 10])].get(mode="fill", fill_value=7),
                                  [0, 7])
    np.testing.assert_array_equal(y.at[np.array([0, 9, 2])].add(1, mode="drop"), [1, 1, 3, 3])
    np.testing.assert_array_equal(y.at[np.array([0, 9, 2])].add(1, mode="clip"), [1, 1, 3, 4])


def test_boolean_masks_and_traced_indices():
    x = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    mask = x > 2
    want = x.copy()
    want[mask] = 0.0
    np.testing.assert_array_equal(fnp.asarray(x).at[mask].set(0.0), want)
    np.testing.assert_array_equal(ft.jit(lambda a: a.at[mask].set(0.0))(x), want)
    with pytest.raises(ConcretizationError):
        ft.jit(lambda a: a.at[a > 2].set(0.0))(x)
    # a traced integer index: negative wraps, out of bounds drops
    f = ft.jit(lambda a, i: a.at[i, 1:].add(10.0))
    for i in (0, -1, 5):
        want = x.copy()
        if -2 <= i < 2:
            want[i, 1:] += 10.0
        np.testing.assert_array_equal(f(x, np.int32(i)), want)
    g = ft.jit(lambda a, i: a.at[:, i].get(mode="fill", fill_value=-1.0))
    np.testing.assert_array_equal(g(x, np.array([2, -1, 3], np.int32)),
                                  [[2, 2, -1], [5, 5, -1]])


def test_at_on_concrete_values_inside_grad_and_outside():
    """The JAX idiom: a buffer made with fnp, filled with .at, differentiated."""
    def f(w):
        buf = fnp.zeros(4)  # concrete when f runs eagerly, traced under grad
        buf = buf.at[1].set(w[0]).at[np.array([2, 2])].add(w[1])
        return fnp.sum(buf * fnp.arange(1.0, 5.0))

    w = np.array([1.5, -2.0], np.float32)
    np.testing.assert_allclose(f(w), 2 * 1.5 + 3 * 2 * -2.0)
    np.testing.assert_allclose(ft.grad(f)(w), [2.0, 6.0])
    np.testing.assert_allclose(ft.jit(ft.grad(f))(w), [2.0, 6.0])
    out = fnp.ones(3)
    assert isinstance(out, EagerArray)
    assert repr(out) == "array([1., 1., 1.], dtype=float32)"
    assert type(np.asarray(out)) is np.ndarray


def test_grads_against_finite_differences(x64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3))
    v = rng.standard_normal((2, 3))
    idx = np.array([3, 1])
    dup = np.array([1, 1])

    def at(a):  # check_grads also calls f on plain NumPy arrays, which have no .at
        return fnp.asarray(a).at
    check_grads(lambda a, b: fnp.sin(at(a)[idx].set(b)), (x, v), order=2)
    check_grads(lambda a, b: fnp.sin(at(a)[dup].set(b)), (x, v), order=2)
    check_grads(lambda a, b: fnp.sin(at(a)[dup].add(b)), (x, v), order=2)
    check_grads(lambda a, b: fnp.sin(at(a)[idx].multiply(b)), (x, v), order=2)
    check_grads(lambda a, b: fnp.sin(at(a)[dup].min(b)), (x, v), order=1)
    check_grads(lambda a, b: fnp.sin(at(a)[idx].max(b)), (x, v), order=1)
    check_grads(lambda a, b: fnp.sin(at(a)[1:3, ::2].divide(b[:, :2] + 3.0)), (x, v), order=2)
    check_grads(lambda a: at(a)[dup, 1].get(), (x,), order=2)
    check_grads(lambda a: at(a)[idx].apply(fnp.sin), (x,), order=2)
    check_grads(lambda a: at(a)[dup].apply(fnp.sin), (x,), order=2)
    # multiply's derivative in the values needs unique indices, as in JAX
    with pytest.raises(MissingRuleError, match="unique"):
        ft.grad(lambda b: fnp.sum(fnp.asarray(x).at[dup].multiply(b)))(v)


def test_vmap_matches_loop():
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((3, 4, 2)).astype(np.float32)
    vs = rng.standard_normal((3, 2)).astype(np.float32)
    idx = np.array([[0], [3], [0]], np.int32)

    def f(a, b, i):
        return a.at[i[0]].add(b).at[np.array([1, 1]), 0].set(7.0)

    got = ft.vmap(f)(xs, vs, idx)
    want = np.stack([f(fnp.asarray(xs[k]), vs[k], idx[k]) for k in range(3)])
    np.testing.assert_array_equal(got, want)
    got = ft.vmap(f, in_axes=(None, 0, 0))(fnp.asarray(xs[0]), vs, idx)  # unmapped: as is
    want = np.stack([f(fnp.asarray(xs[0]), vs[k], idx[k]) for k in range(3)])
    np.testing.assert_array_equal(got, want)


def test_dtypes():
    x = fnp.arange(4)  # int32
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        out = x.at[1].add(1.7)  # computed in float, cast back (JAX warns, then truncates)
    assert any(issubclass(r.category, FutureWarning) for r in w)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, [0, 2, 2, 3])
    assert x.at[0].set(5).dtype == np.int32
    assert fnp.asarray(np.ones(3, np.float32)).at[0].divide(2.0).dtype == np.float32

import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.core.trace import eval_closed_jaxpr
from functrace.errors import DTypeError, ShapeError
from functrace.test_util import check_grads

with_fixture = settings(suppress_health_check=[HealthCheck.function_scoped_fixture,
                                               HealthCheck.too_slow])


def einsum_reference(lhs, rhs, dimension_numbers):
    """dot_general written as an einsum: an independent formula for the output."""
    (lc, rc), (lb, rb) = dimension_numbers
    letters = iter(string.ascii_letters)
    lsub = [next(letters) for _ in range(lhs.ndim)]
    rsub = [next(letters) for _ in range(rhs.ndim)]
    for l, r in zip(lc + lb, rc + rb, strict=True):
        rsub[r] = lsub[l]
    batch = [lsub[d] for d in lb]
    lfree = [lsub[d] for d in range(lhs.ndim) if d not in lc + lb]
    rfree = [rsub[d] for d in range(rhs.ndim) if d not in rc + rb]
    spec = f"{''.join(lsub)},{''.join(rsub)}->{''.join(batch + lfree + rfree)}"
    return np.einsum(spec, lhs, rhs)


@st.composite
def dot_problems(draw, max_per_kind=2):
    """Random shapes and dimension_numbers: batch/contracting/free dims scattered
    over both operands in random orders."""
    def sizes():
        return draw(st.lists(st.integers(1, 3), max_size=max_per_kind))

    batch, contract, lfree, rfree = sizes(), sizes(), sizes(), sizes()

    def place(free):
        kinds = ([("b", i) for i in range(len(batch))] + [("c", i) for i in range(len(contract))]
                 + [("f", i) for i in range(len(free))])
        order = draw(st.permutations(kinds))
        size = {"b": batch, "c": contract, "f": free}
        shape = tuple(size[k][i] for k, i in order)
        pos = {ki: d for d, ki in enumerate(order)}
        return shape, pos

    lshape, lpos = place(lfree)
    rshape, rpos = place(rfree)
    # the contracting pairs in a random order, so the dims are not always sorted
    cperm = draw(st.permutations(range(len(contract))))
    dn = ((tuple(lpos["c", i] for i in cperm), tuple(rpos["c", i] for i in cperm)),
          (tuple(lpos["b", i] for i in range(len(batch))),
           tuple(rpos["b", i] for i in range(len(batch)))))
    return lshape, rshape, dn


FIXED_CASES = [
    ((3, 4), (4, 5), (((1,), (0,)), ((), ()))),            # matmul
    ((4,), (4,), (((0,), (0,)), ((), ()))),                # inner product
    ((3,), (2,), (((), ()), ((), ()))),                    # outer product
    ((), (2, 3), (((), ()), ((), ()))),                    # scalar times matrix
    ((2, 3, 4), (2, 4, 5), (((2,), (1,)), ((0,), (0,)))),  # batch matmul
    ((3, 2, 4), (4, 5, 2), (((2,), (0,)), ((1,), (2,)))),  # batch dims not leading
    ((2, 3, 4, 5), (5, 3, 6), (((3, 1), (0, 1)), ((), ()))),  # two contracting dims
    ((2, 3, 4), (4, 3, 2), (((2, 1), (0, 1)), ((0,), (2,)))),  # batch + reordered contraction
    ((3, 0), (0, 2), (((1,), (0,)), ((), ()))),            # empty contraction: zeros
]


@pytest.mark.parametrize("lshape,rshape,dn", FIXED_CASES)
def test_impl_matches_einsum_fixed(lshape, rshape, dn):
    rng = np.random.default_rng(0)
    lhs = rng.standard_normal(lshape).astype(np.float32)
    rhs = rng.standard_normal(rshape).astype(np.float32)
    out = lax.dot_general(lhs, rhs, dn)
    expected = einsum_reference(lhs, rhs, dn)
    assert out.shape == expected.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)


@given(problem=dot_problems(), seed=st.integers(0, 2**16))
def test_impl_matches_einsum(problem, seed):
    lshape, rshape, dn = problem
    rng = np.random.default_rng(seed)
    lhs = rng.standard_normal(lshape).astype(np.float32)
    rhs = rng.standard_normal(rshape).astype(np.float32)
    out = lax.dot_general(lhs, rhs, dn)
    np.testing.assert_allclose(out, einsum_reference(lhs, rhs, dn), rtol=1e-5, atol=1e-5)
    # the shape rule agrees with the impl
    assert ft.make_jaxpr(lambda a, b: lax.dot_general(a, b, dn))(lhs, rhs).out_avals[0].shape \
        == out.shape


def test_integer_dot_and_preferred_element_type():
    lhs = np.full((2, 64), 100, np.int8)
    rhs = np.full((64, 3), 100, np.int8)
    out = lax.dot_general(lhs, rhs, (((1,), (0,)), ((), ())), preferred_element_type=np.int32)
    assert out.dtype == np.int32
    np.testing.assert_array_equal(out, np.full((2, 3), 640000))
    assert lax.dot(lhs, rhs).dtype == np.int8


def test_preferred_element_type_float64_grads(x64):
    lhs = np.random.default_rng(0).standard_normal((2, 3)).astype(np.float32)
    rhs = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)

    def f(a, b):
        return lax.dot(a, b, preferred_element_type=np.float64)

    assert f(lhs, rhs).dtype == np.float64
    ga, gb = ft.grad(lambda a, b: lax.reduce_sum(f(a, b), (0, 1)), argnums=(0, 1))(lhs, rhs)
    assert ga.dtype == np.float32 and gb.dtype == np.float32
    np.testing.assert_allclose(ga, np.ones((2, 4)) @ rhs.T, rtol=1e-6)
    np.testing.assert_allclose(gb, lhs.T @ np.ones((2, 4)), rtol=1e-6)


def test_dot_and_batch_matmul_match_numpy():
    rng = np.random.default_rng(0)
    m, v = rng.standard_normal((3, 4)), rng.standard_normal(4)
    m2 = rng.standard_normal((4, 2))
    for a, b in [(m, v), (v, m2), (v, v), (m, m2)]:
        a, b = a.astype(np.float32), b.astype(np.float32)
        np.testing.assert_allclose(lax.dot(a, b), np.dot(a, b), rtol=1e-5)
    a = rng.standard_normal((2, 5, 3, 4)).astype(np.float32)
    b = rng.standard_normal((2, 5, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(lax.batch_matmul(a, b), np.matmul(a, b), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------------------
# derivatives

@with_fixture
@given(problem=dot_problems(), seed=st.integers(0, 2**16))
def test_dot_general_grads_x64(x64, problem, seed):
    lshape, rshape, dn = problem
    rng = np.random.default_rng(seed)
    lhs, rhs = rng.standard_normal(lshape), rng.standard_normal(rshape)
    check_grads(lambda a, b: lax.dot_general(a, b, dn), (lhs, rhs), order=2,
                modes=("fwd", "rev"))


@pytest.mark.parametrize("lshape,rshape,dn", FIXED_CASES)
def test_dot_general_grads_float32(lshape, rshape, dn):
    rng = np.random.default_rng(0)
    lhs = rng.standard_normal(lshape).astype(np.float32)
    rhs = rng.standard_normal(rshape).astype(np.float32)
    check_grads(lambda a, b: lax.dot_general(a, b, dn), (lhs, rhs), order=2,
                modes=("fwd", "rev"))


def test_grad_wrt_one_operand_and_a_shared_operand(x64):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 3))
    # x used twice: both transpose rules contribute and the cotangents add up
    g = ft.grad(lambda x: lax.reduce_sum(lax.dot(x, x), (0, 1)))(x)
    ones = np.ones((3, 3))
    np.testing.assert_allclose(g, ones @ x.T + x.T @ ones)
    check_grads(lambda x: lax.dot(lax.dot(x, x), x), (x,), order=2, modes=("fwd", "rev"))
    w = rng.standard_normal((3, 2))
    check_grads(lambda x: lax.dot(x, w), (x,), order=2, modes=("fwd", "rev"))


def test_batch_matmul_and_dot_grads(x64):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 2))
    check_grads(lax.batch_matmul, (a, b), order=2, modes=("fwd", "rev"))
    check_grads(lax.dot, (rng.standard_normal(3), rng.standard_normal((3, 2))), order=2,
                modes=("fwd", "rev"))


# ---------------------------------------------------------------------------
# staging

def test_make_jaxpr_shows_dot_general():
    x, y = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    jaxpr = ft.make_jaxpr(lambda x, y: lax.dot(x, y, precision="highest"))(x, y)
    text = str(jaxpr)
    # JAX 0.10 prints the dimension numbers as lists and breaks a long parameter list
    assert "dot_general[\n      dimension_numbers=(([1], [0]), ([], []))\n" in text
    assert "precision=('highest', 'highest')" in text
    assert jaxpr.out_avals[0].shape == (2, 4)
    np.testing.assert_allclose(eval_closed_jaxpr(jaxpr, x, y)[0], x @ y)


def test_make_jaxpr_of_grad_transposes_with_dot_general():
    x, y = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    f = ft.grad(lambda x, y: lax.reduce_sum(lax.dot(x, y), (0, 1)), argnums=(0, 1))
    text = str(ft.make_jaxpr(f)(x, y))
    assert text.count("dot_general") == 3
    assert "transpose" in text


def test_params_are_hashable():
    x = np.ones((2, 3), np.float32)
    eqn = ft.make_jaxpr(lambda x: lax.dot_general(
        x, x, [[[1], [1]], [[], []]], precision=["high", "default"]))(x).eqns[0]
    hash(tuple(sorted(eqn.params.items())))
    assert eqn.params["dimension_numbers"] == (((1,), (1,)), ((), ()))
    assert eqn.params["precision"] == ("high", "default")


# ---------------------------------------------------------------------------
# errors

def test_contracting_size_mismatch_message():
    with pytest.raises(ShapeError) as e:
        lax.dot_general(np.ones((3, 4), np.float32), np.ones((5, 2), np.float32),
                        (((1,), (0,)), ((), ())))
    assert ("dot_general: lhs contracting dims (1,) of shape (3, 4) have sizes (4,) but rhs "
            "contracting dims (0,) of shape (5, 2) have sizes (5,)") in str(e.value)


def test_batch_size_mismatch_message():
    with pytest.raises(ShapeError, match=r"lhs batch dims \(0,\) of shape \(2, 3\) have sizes "
                                         r"\(2,\) but rhs batch dims \(0,\) of shape \(4, 3\) "
                                         r"have sizes \(4,\)"):
        lax.dot_general(np.ones((2, 3)), np.ones((4, 3)), (((1,), (1,)), ((0,), (0,))))


def test_mixed_dtypes_promote_like_jax():
    # JAX's dot_general takes operands of different dtypes and computes in the one of
    # higher precision (XLA's HigherPrecisionType): f32 . i32 is f32
    out = lax.dot(np.ones((2, 3), np.float32), np.arange(3, dtype=np.int32))
    assert out.dtype == np.float32 and out.tolist() == [3.0, 3.0]
    # the primitive itself still requires one dtype
    with pytest.raises(DTypeError, match=r"dot_general requires lhs and rhs of the same dtype, "
                                         r"got f32\[2,3\] and i32\[3\].*convert_element_type"):
        lax.dot_general_p.bind(np.ones((2, 3), np.float32), np.ones(3, np.int32),
                               dimension_numbers=(((1,), (0,)), ((), ())), precision=None,
                               preferred_element_type=None)


@pytest.mark.parametrize("dn,match", [
    ((((2,), (0,)), ((), ())), r"lhs contracting dims \(2,\) are out of bounds for lhs of "
                               r"shape \(2, 3\) \(rank 2\)"),
    ((((1,), (0,)), ((1,), (0,))), r"lhs contracting dims \(1,\) and batch dims \(1,\) of "
                                   r"shape \(2, 3\) repeat a dim"),
    ((((1,), (0, 1)), ((), ())), r"lhs has 1 contracting dims \(1,\) but rhs has 2 \(0, 1\)"),
    (((1,), (0,)), r"dimension_numbers must be \(\(lhs_contracting, rhs_contracting\)"),
])
def test_bad_dimension_numbers(dn, match):
    with pytest.raises(ShapeError, match=match):
        lax.dot_general(np.ones((2, 3)), np.ones((3, 3)), dn)


def test_dot_and_batch_matmul_shape_errors():
    with pytest.raises(ShapeError, match=r"lax.dot: incompatible shapes \(2, 3\) and \(4,\)"):
        lax.dot(np.ones((2, 3)), np.ones(4))
    with pytest.raises(ShapeError, match=r"lax.dot: incompatible shapes \(2, 2, 2\)"):
        lax.dot(np.ones((2, 2, 2)), np.ones(2))
    with pytest.raises(ShapeError, match=r"batch_matmul: .* got shapes \(2, 3\) and "
                                         r"\(2, 3, 4\)"):
        lax.batch_matmul(np.ones((2, 3)), np.ones((2, 3, 4)))


def test_unknown_precision():
    with pytest.raises(ft.errors.FunctraceError, match="unknown precision 'fast'"):
        lax.dot(np.ones(2), np.ones(2), precision="fast")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("lhs_shape, rhs_shape, dims", [
    ((8, 1, 512), (8, 1, 40), (([1], [1]), ([0], [0]))),     # vmap's per-example dW
    ((40, 1, 3, 160), (3, 1, 40), (([1], [1]), ([2, 0], [0, 2]))),  # batch dims moved
    ((300, 1), (1, 70), (([1], [0]), ([], []))),              # a plain outer product
])
def test_jitted_outer_products_match_einsum(dtype, lhs_shape, rhs_shape, dims, monkeypatch):
    # dot_generals with nothing to sum run a Numba loop under jit (>= 2**14 outputs)
    from functrace.backends.numba_cpu import threads

    chosen = []
    real = threads.outer_lowering
    monkeypatch.setattr(threads, "outer_lowering", lambda e: chosen.append(real(e)) or chosen[-1])
    rng = np.random.default_rng(1)
    lhs = rng.standard_normal(lhs_shape).astype(dtype)
    rhs = rng.standard_normal(rhs_shape).astype(dtype)
    with ft.enable_x64(dtype == np.float64):
        f = ft.jit(lambda a, b: lax.dot_general(a, b, dims))
        got = f(lhs, rhs)
    want = einsum_reference(lhs, rhs, dims)
    assert chosen and chosen[0] is not None
    assert got.dtype == dtype and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-6 if dtype == np.float32 else 1e-12)

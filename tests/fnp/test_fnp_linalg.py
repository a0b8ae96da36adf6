"""matmul / dot / tensordot / einsum against NumPy."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import ShapeError
from functrace.test_util import check_grads


def _rand(*shapes, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    ba = [draw(st.sampled_from([b, 1])) for b in batch][draw(st.integers(0, len(batch))):]
    bb = [draw(st.sampled_from([b, 1])) for b in batch][draw(st.integers(0, len(batch))):]
    # a 1-D operand has no batch dims (it is a vector broadcast against the other's batch)
    a = tuple(ba) + (m, k) if draw(st.booleans()) else (k,)
    b = tuple(bb) + (k, n) if draw(st.booleans()) else (k,)
    return a, b


@given(shapes=matmul_shapes(), seed=st.integers(0, 99))
def test_matmul_matches_numpy(shapes, seed):
    a, b = _rand(*shapes, seed=seed)
    got, want = fnp.matmul(a, b), np.matmul(a, b)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sa,sb", [((), (3,)), ((3,), ()), ((3,), (3,)), ((2, 3), (3,)),
                                   ((3,), (3, 4)), ((2, 3), (3, 4)), ((2, 2, 3), (3,)),
                                   ((2, 3), (4, 3, 5)), ((2, 5, 3), (4, 3, 2))])
def test_dot_matches_numpy(sa, sb):
    a, b = _rand(sa, sb)
    got, want = fnp.dot(a, b), np.dot(a, b)
    assert got.shape == np.shape(want)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (4, 3)), ((2, 2, 3), (3,))])
def test_inner_outer_vdot(sa, sb):
    a, b = _rand(sa, sb)
    np.testing.assert_allclose(fnp.inner(a, b), np.inner(a, b), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(fnp.outer(a, b), np.outer(a, b), rtol=1e-5, atol=1e-5)
    if a.size == b.size:
        np.testing.assert_allclose(fnp.vdot(a, b), np.vdot(a, b), rtol=1e-5)


@pytest.mark.parametrize("sa,sb,axes", [((2, 3, 4), (3, 4, 5), 2), ((2, 3), (3, 2), 1),
                                        ((2, 3), (4,), 0), ((2, 3, 4), (4, 3, 5),
                                                            ([1, 2], [1, 0])),
                                        ((2, 3, 4), (4, 5), (-1, 0))])
def test_tensordot(sa, sb, axes):
    a, b = _rand(sa, sb)
    got, want = fnp.tensordot(a, b, axes), np.tensordot(a, b, axes)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


EINSUM_CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)]), ("ij,jk", [(2, 3), (3, 4)]), ("ji,jk", [(3, 2), (3, 4)]),
    ("ii->i", [(3, 3)]), ("ii", [(3, 3)]), ("ij->", [(2, 3)]), ("ijk->kji", [(2, 3, 4)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]), ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("i,j,k->ijk", [(2,), (3,), (4,)]), ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 5)]),
    ("iij,jk->ik", [(3, 3, 4), (4, 2)]), ("i,i->", [(3,), (3,)]), ("i,i", [(3,), (3,)]),
    ("ab,cd->abcd", [(2, 3), (4, 5)]), ("...,...->...", [(2, 3), (3,)]),
    ("bi,bi->b", [(1, 3), (4, 3)]), ("ij,ij->ij", [(2, 3), (2, 3)]), ("...i->...", [(2, 3, 4)]),
    ("bhqd,bhkd->bhqk", [(2, 2, 3, 4), (2, 2, 5, 4)]), ("ijk,jil->kl", [(2, 3, 4), (3, 2, 5)]),
    ("Ab,bC", [(2, 3), (3, 4)]), ("i->i", [(3,)]),
]


@pytest.mark.parametrize("spec,shapes", EINSUM_CASES)
def test_einsum_matches_numpy(spec, shapes):
    ops = _rand(*shapes, seed=len(spec))
    got, want = fnp.einsum(spec, *ops), np.einsum(spec, *ops)
    assert got.shape == np.shape(want), spec
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_einsum_errors():
    a, b = _rand((2, 3), (4, 5))
    with pytest.raises(ShapeError, match="size of label 'j'"):
        fnp.einsum("ij,jk->ik", a, b)
    with pytest.raises(ShapeError, match="operand"):
        fnp.einsum("ij->i", a, b)
    with pytest.raises(ShapeError, match="'z'"):
        fnp.einsum("ij->z", a)


def test_einsum_prints_as_dot_general():
    a, b = _rand((2, 3), (3, 4))
    text = str(ft.make_jaxpr(lambda a, b: fnp.einsum("ij,jk->ki", a, b))(a, b))
    assert "dot_general" in text and "transpose" in text


def test_matmul_errors_name_both_shapes():
    with pytest.raises(ShapeError, match=r"\(2,3\) and \(4,5\)"):
        fnp.matmul(np.ones((2, 3)), np.ones((4, 5)))
    with pytest.raises(ShapeError, match="at least 1-D"):
        fnp.matmul(np.ones(3), 2.0)
    with pytest.raises(ShapeError, match="broadcast"):
        fnp.matmul(np.ones((2, 3, 4)), np.ones((3, 4, 5)))
    with pytest.raises(ShapeError, match="not aligned"):
        fnp.dot(np.ones((2, 3)), np.ones((2, 3)))


def test_int_matmul_and_promotion():
    a = np.arange(6, dtype=np.int32).reshape(2, 3)
    b = np.ones((3, 2), np.float32)
    got = fnp.matmul(a, b)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, a @ b)
    assert fnp.matmul(a, a.T).dtype == np.int32


def test_trace():
    x = _rand((3, 4))[0]
    for k in (-1, 0, 2):
        np.testing.assert_allclose(fnp.trace(x, k), np.trace(x, k), rtol=1e-6)


def test_grads_of_products(x64):
    a, b, c = _rand((2, 3), (3, 4), (4,), dtype=np.float64)
    check_grads(lambda a, b: fnp.sum(fnp.tanh(a @ b)), (a, b), order=2)
    check_grads(lambda a, b, c: fnp.einsum("ij,jk,k->i", a, b, c), (a, b, c), order=1)
    check_grads(lambda a: fnp.einsum("ii->", a[:, :2]), (a,), order=1)
    check_grads(lambda a, b: fnp.tensordot(a, b, 1), (a, b), order=1)

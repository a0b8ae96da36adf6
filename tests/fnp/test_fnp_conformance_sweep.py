"""Values and dtypes that a sweep of functrace.numpy against JAX's documented behaviour
found wrong: complex statistics, vdot's conjugation, accumulation dtypes of trace and
cumsum, booleans in arithmetic, and Python scalars through the identity paths."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp

Z = np.array([1 + 1j, 2 - 1j, -0.5 + 3j], np.complex64)


def test_var_and_std_of_complex_are_real_mean_squared_modulus():
    m = Z.mean()
    want = np.mean(np.abs(Z - m) ** 2)
    got = fnp.var(Z)
    assert got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(fnp.std(Z), np.sqrt(want), rtol=1e-6)
    np.testing.assert_allclose(ft.jit(fnp.var)(Z), want, rtol=1e-6)


def test_vdot_conjugates_its_first_argument():
    a, b = Z, Z[::-1].copy()
    want = np.sum(np.conj(a) * b)
    np.testing.assert_allclose(fnp.vdot(a, b), want, rtol=1e-6)
    np.testing.assert_allclose(ft.jit(fnp.vdot)(a, b), want, rtol=1e-6)
    # vdot(z, z) is the squared norm: real and non-negative
    np.testing.assert_allclose(fnp.vdot(Z, Z), np.sum(np.abs(Z) ** 2), rtol=1e-6)


@pytest.mark.parametrize("dtype,want", [(np.bool_, np.int32), (np.uint8, np.uint32),
                                        (np.int8, np.int32), (np.float16, np.float16)])
def test_trace_accumulates_like_sum(dtype, want):
    x = np.ones((3, 3), dtype)
    out = fnp.trace(x)
    assert out.dtype == want
    assert out == 3


@pytest.mark.parametrize("dtype,want", [(np.bool_, np.int32), (np.int8, np.int8),
                                        (np.uint8, np.uint8), (np.int32, np.int32)])
def test_cumsum_keeps_integer_dtypes_and_counts_booleans(dtype, want):
    x = np.ones(4, dtype)
    out = fnp.cumsum(x)
    assert out.dtype == want
    np.testing.assert_array_equal(out, [1, 2, 3, 4])


@pytest.mark.parametrize("fn", [fnp.square, lambda b: fnp.power(b, b),
                                lambda b: fnp.remainder(b, np.ones_like(b))])
def test_boolean_arithmetic_without_a_boolean_form_is_integer(fn):
    b = np.array([True, False, True])
    out = fn(b)
    assert out.dtype == np.int32
    want = fn(b.astype(np.int32))
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("fn", [fnp.real, fnp.conj, fnp.floor, fnp.ceil, fnp.trunc, fnp.round])
def test_python_scalars_give_x32_arrays(fn):
    assert fn(2.5).dtype == np.float32
    assert fn(3).dtype == np.int32


def test_rint_of_integers_is_float_and_round_of_complex_rounds_both_parts():
    assert fnp.rint(np.array([1, 2], np.int32)).dtype == np.float32
    z = np.array([1.5 + 2.5j, -0.5 - 1.2j], np.complex64)
    np.testing.assert_array_equal(fnp.round(z), np.round(z.real) + 1j * np.round(z.imag))


def test_products_with_a_python_scalar_keep_the_array_dtype():
    h = np.ones(3, np.float16)
    u = np.ones(3, np.uint8)
    assert fnp.dot(h, 2.5).dtype == np.float16
    assert fnp.inner(u, 3).dtype == np.uint8
    assert fnp.outer(h, 2.5).dtype == np.float16

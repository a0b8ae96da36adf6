"""Float -> integer conversion as JAX (XLA) defines it: toward zero, saturating at the
target type's bounds, NaN to 0; NumPy's cast leaves out-of-range values undefined (NaN
became -2**31). Checked on every path a conversion takes: the eager impl, jit's tiny
steps and generated loops, ``Array.astype`` and the CUDA kernels (simulator)."""

import math

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

SPECIALS = [np.nan, np.inf, -np.inf, 1e10, -1e10, 3.7, -3.7, 0.5, -0.5, -0.0, 2.0**31,
            -(2.0**31), 2.0**31 - 128, 255.9, 256.5, -1.5, 65535.9, 2.0**63, -(2.0**63),
            2.0**64, 127.0, -128.0, -129.0, 32767.5]
TARGETS = ["int8", "uint8", "int16", "uint16", "int32", "uint32"]


def reference(values, dtype):
    """An independent oracle, element by element in Python integers."""
    info = np.iinfo(dtype)
    out = []
    for v in np.asarray(values, np.float64).tolist():
        if math.isnan(v):
            out.append(0)
        elif math.isinf(v):
            out.append(info.max if v > 0 else info.min)
        else:
            out.append(min(max(math.trunc(v), info.min), info.max))
    return np.array(out, dtype)


def _values(src):
    x = np.array(SPECIALS, src)
    rng = np.random.default_rng(0)
    wide = (rng.standard_normal(64) * 10.0 ** rng.integers(0, 12, 64)).astype(src)
    return np.concatenate([x, wide])


@pytest.mark.parametrize("src", ["float32", "float16"])
@pytest.mark.parametrize("dtype", TARGETS)
def test_eager_and_jit_conversions_saturate(src, dtype):
    x = _values(src)
    want = reference(x, dtype)
    np.testing.assert_array_equal(lax.convert_element_type(x, dtype), want)
    np.testing.assert_array_equal(fnp.asarray(x).astype(dtype), want)   # Array.astype
    np.testing.assert_array_equal(fnp.astype(x, dtype), want)
    loop = ft.jit(lambda v: (v * 1.0).astype(dtype) + 0)             # a generated loop
    np.testing.assert_array_equal(loop(x), want)
    for k in range(0, x.size, 7):                                     # tiny steps (0-d)
        assert ft.jit(lambda v: v.astype(dtype))(x[k]) == want[k]


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int32", "uint32"])
def test_float64_to_64_bit_integers_saturate(dtype):
    with ft.enable_x64():
        x = _values("float64")
        info = np.iinfo(dtype)
        want = reference(x, dtype)
        # 2**63 and 2**64 are the first floats past int64's and uint64's ranges
        assert want[SPECIALS.index(2.0**64)] == info.max
        np.testing.assert_array_equal(lax.convert_element_type(x, dtype), want)
        np.testing.assert_array_equal(ft.jit(lambda v: (v * 1.0).astype(dtype) + 0)(x), want)


def test_in_range_values_and_other_conversions_are_unchanged():
    x = np.arange(-300, 300, dtype=np.float32) + 0.25
    np.testing.assert_array_equal(ft.jit(lambda v: (v * 1.0).astype(np.int16))(x),
                                  np.trunc(x).astype(np.int16))
    ints = np.array([-5, 0, 7, 2**31 - 1], np.int32)
    np.testing.assert_array_equal(lax.convert_element_type(ints, np.int8), ints.astype(np.int8))
    np.testing.assert_array_equal(lax.convert_element_type(x, np.bool_), x != 0)


def test_cuda_kernels_saturate_too():
    pytest.importorskip("functrace.backends.numba_cuda")
    x = _values("float32")[:40]
    for dtype in ("int32", "uint8"):
        f = ft.jit(lambda v, d=dtype: (v * 1.0).astype(d) + 0, backend="cuda")
        np.testing.assert_array_equal(np.asarray(f(x)), reference(x, dtype))

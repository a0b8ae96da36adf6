"""Bit-level lax primitives: shifts and population counts against Python integer
arithmetic, bitcasts against ``struct``, the Threefry-2x32 known-answer tests of the
Random123 paper, ``stable_argsort`` against Python's stable ``sorted``; zero jvps,
staging and errors."""

import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax
from functrace.core.jaxpr import typecheck
from functrace.errors import DTypeError, ShapeError

INT_DTYPES = [np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32]


def _pattern(x: int, bits: int) -> int:
    """The two's-complement bit pattern of ``x`` as a non-negative int."""
    return x % 2**bits


def _from_pattern(u: int, dtype) -> int:
    bits = np.dtype(dtype).itemsize * 8
    signed = np.issubdtype(dtype, np.signedinteger)
    return u - 2**bits if signed and u >= 2 ** (bits - 1) else u


def py_shift(kind: str, x: int, y: int, dtype) -> int:
    """XLA's shift semantics in Python ints: the amount is read as unsigned and an amount
    >= the width shifts every bit out."""
    bits = np.dtype(dtype).itemsize * 8
    ux, amount = _pattern(x, bits), _pattern(y, bits)
    if kind == "left":
        r = 0 if amount >= bits else (ux << amount) % 2**bits
    elif kind == "logical":
        r = 0 if amount >= bits else ux >> amount
    else:  # arithmetic: Python's >> on a negative int is arithmetic
        sx = ux - 2**bits if ux >= 2 ** (bits - 1) else ux
        r = _pattern(sx >> min(amount, bits - 1), bits)
    return _from_pattern(r, dtype)


SHIFTS = {"left": lax.shift_left, "logical": lax.shift_right_logical,
          "arithmetic": lax.shift_right_arithmetic}


@st.composite
def shift_case(draw):
    dtype = draw(st.sampled_from(INT_DTYPES))
    info = np.iinfo(dtype)
    bits = info.bits
    n = draw(st.integers(1, 6))
    xs = draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=n, max_size=n))
    # amounts in range, at and past the width, and (for signed types) negative
    amount = st.one_of(st.integers(0, bits - 1), st.integers(bits, int(info.max)),
                       st.integers(int(info.min), -1) if info.min < 0 else st.just(bits))
    ys = draw(st.lists(amount, min_size=n, max_size=n))
    return dtype, xs, ys


@pytest.mark.parametrize("kind", sorted(SHIFTS))
@given(case=shift_case())
def test_shifts_match_python_ints(kind, case):
    dtype, xs, ys = case
    out = SHIFTS[kind](np.array(xs, dtype), np.array(ys, dtype))
    assert out.dtype == dtype
    assert out.tolist() == [py_shift(kind, x, y, dtype) for x, y in zip(xs, ys, strict=True)]


def test_shifts_64_bit(x64):
    x = np.array([-(2**63), 2**62 + 5, -7], np.int64)
    y = np.array([1, 63, 64], np.int64)
    for kind, fn in SHIFTS.items():
        expected = [py_shift(kind, a, b, np.int64) for a, b in zip(x.tolist(), y.tolist())]
        assert fn(x, y).tolist() == expected


def test_shift_edge_cases_like_xla():
    x = np.int32([-8, 8])
    assert lax.shift_left(x, np.int32(32)).tolist() == [0, 0]
    assert lax.shift_right_logical(x, np.int32(-1)).tolist() == [0, 0]  # -1 reads as huge
    assert lax.shift_right_arithmetic(x, np.int32(99)).tolist() == [-1, 0]
    # an unsigned operand shifts arithmetically as its signed view, as in XLA
    assert lax.shift_right_arithmetic(np.uint32(0x80000000), np.uint32(4)) == 0xF8000000


def test_shift_broadcasting_and_weak_scalars():
    x = np.arange(6, dtype=np.uint32).reshape(2, 3)
    out = lax.shift_left(x, np.uint32(2))  # a rank-0 operand broadcasts
    assert out.dtype == np.uint32 and out.tolist() == (x * 4).tolist()
    with pytest.raises(DTypeError, match="uint32, int32"):  # a Python int is int32 (JAX)
        lax.shift_left(x, 2)
    out = lax.shift_right_logical(np.uint32(64), np.uint32([1, 2, 3]))
    assert out.tolist() == [32, 16, 8]


def test_shift_errors():
    with pytest.raises(DTypeError, match="integer operands"):
        lax.shift_left(np.float32([1.0]), np.float32([1.0]))
    with pytest.raises(DTypeError, match="same dtype"):
        lax.shift_left(np.int32([1]), np.uint32([1]))
    with pytest.raises(ShapeError, match=r"\(2,\) and \(3,\)"):
        lax.shift_right_logical(np.int32([1, 2]), np.int32([1, 2, 3]))
    with pytest.raises(DTypeError, match="same dtypes"):
        lax.shift_left(np.uint32([1]), -1)
    with pytest.raises(DTypeError, match="integer operands"):
        lax.shift_left(np.bool_([True]), np.bool_([True]))


# ---------------------------------------------------------------------------
# bitcast_convert_type

@given(st.lists(st.floats(allow_nan=False, width=32), min_size=1, max_size=5))
def test_bitcast_float32_matches_struct(values):
    x = np.array(values, np.float32)
    out = lax.bitcast_convert_type(x, np.uint32)
    assert out.dtype == np.uint32
    expected = [struct.unpack("<I", struct.pack("<f", v))[0] for v in values]
    assert out.tolist() == expected
    back = lax.bitcast_convert_type(out, np.float32)
    np.testing.assert_array_equal(back, x)
    signed = lax.bitcast_convert_type(x, np.int32)
    assert signed.tolist() == [_from_pattern(e, np.int32) for e in expected]


def test_bitcast_float64_with_x64(x64):
    out = lax.bitcast_convert_type(np.float64([1.0, -2.5]), np.uint64)
    assert out.tolist() == [struct.unpack("<Q", struct.pack("<d", v))[0] for v in (1.0, -2.5)]
    with pytest.raises(DTypeError, match="8-byte elements but uint32"):
        lax.bitcast_convert_type(np.float64([1.0]), np.uint32)


def test_bitcast_rank0_same_dtype_and_errors():
    assert lax.bitcast_convert_type(np.float32(1.0), np.uint32) == 0x3F800000
    x = np.int32([3])
    assert lax.bitcast_convert_type(x, np.int32) is x
    with pytest.raises(DTypeError, match="4-byte elements but uint16"):
        lax.bitcast_convert_type(np.float32([1.0]), np.uint16)
    # without x64, 64-bit dtypes narrow to 32 bits (as in JAX)
    assert lax.bitcast_convert_type(np.float32([1.0]), np.uint64).dtype == np.uint32
    with pytest.raises(DTypeError, match="bool"):
        lax.bitcast_convert_type(np.uint8([1]), np.bool_)


# ---------------------------------------------------------------------------
# population_count

@given(st.sampled_from(INT_DTYPES), st.data())
def test_population_count_matches_python(dtype, data):
    info = np.iinfo(dtype)
    xs = data.draw(st.lists(st.integers(int(info.min), int(info.max)), min_size=1, max_size=6))
    out = lax.population_count(np.array(xs, dtype))
    assert out.dtype == dtype
    assert out.tolist() == [bin(_pattern(x, info.bits)).count("1") for x in xs]


def test_population_count_errors():
    with pytest.raises(DTypeError, match="integer"):
        lax.population_count(np.float32([1.0]))


# ---------------------------------------------------------------------------
# threefry2x32

# Known-answer tests from Random123 (kat_vectors: threefry2x32, 20 rounds):
# (key, counter) -> output
THREEFRY_KATS = [
    ((0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
]


@pytest.mark.parametrize("key,ctr,expected", THREEFRY_KATS)
def test_threefry2x32_known_answers(key, ctr, expected):
    y1, y2 = lax.threefry2x32(*(np.uint32(v) for v in key + ctr))
    assert (int(y1), int(y2)) == expected
    assert y1.dtype == y2.dtype == np.uint32


def test_threefry2x32_is_elementwise():
    # a vector of counters hashes like each counter pair on its own; keys broadcast
    k1, k2 = np.uint32(0x13198A2E), np.uint32(0x03707344)
    x1 = np.uint32([0x243F6A88, 0, 0xFFFFFFFF, 7])
    x2 = np.uint32([0x85A308D3, 0, 0xFFFFFFFF, 9])
    y1, y2 = lax.threefry2x32(k1, k2, x1, x2)
    for i in range(4):
        a, b = lax.threefry2x32(k1, k2, x1[i], x2[i])
        assert (y1[i], y2[i]) == (a, b)
    assert (int(y1[0]), int(y2[0])) == THREEFRY_KATS[2][2]
    # per-element keys give the KATs too
    keys = np.uint32([k for k, _, _ in THREEFRY_KATS])
    ctrs = np.uint32([c for _, c, _ in THREEFRY_KATS])
    y1, y2 = lax.threefry2x32(keys[:, 0], keys[:, 1], ctrs[:, 0], ctrs[:, 1])
    assert list(zip(y1.tolist(), y2.tolist(), strict=True)) == [e for _, _, e in THREEFRY_KATS]


def test_threefry2x32_staged_and_errors():
    closed = ft.make_jaxpr(lax.threefry2x32)(*(np.uint32(0),) * 2, *(np.zeros(3, np.uint32),) * 2)
    (eqn,) = closed.eqns
    assert eqn.primitive is lax.threefry2x32_p and len(eqn.outvars) == 2
    assert [a.str_short() for a in typecheck(closed)] == ["u32[3]", "u32[3]"]
    assert "threefry2x32" in str(closed)
    with pytest.raises(DTypeError, match="uint32"):
        lax.threefry2x32(np.int32(0), np.uint32(0), np.uint32(0), np.uint32(0))
    with pytest.raises(ShapeError, match="equal"):
        lax.threefry2x32(np.uint32(0), np.uint32(0), np.zeros(2, np.uint32),
                         np.zeros(3, np.uint32))


# ---------------------------------------------------------------------------
# stable_argsort

@given(st.lists(st.integers(0, 4), min_size=0, max_size=12))
def test_stable_argsort_breaks_ties_by_index(values):
    out = lax.stable_argsort(np.array(values, np.uint32))
    assert out.dtype == np.int32
    assert out.tolist() == sorted(range(len(values)), key=lambda i: values[i])


def test_stable_argsort_dimension_and_floats():
    x = np.array([[3.0, 1.0, 2.0], [0.0, 0.0, -1.0]], np.float32)
    assert lax.stable_argsort(x).tolist() == [[1, 2, 0], [2, 0, 1]]
    assert lax.stable_argsort(x, 0).tolist() == [[1, 1, 1], [0, 0, 0]]
    with pytest.raises(ShapeError, match="out of range"):
        lax.stable_argsort(x, 2)
    with pytest.raises(DTypeError, match="integer or floating"):
        lax.stable_argsort(np.array([True, False]))


# ---------------------------------------------------------------------------
# derivatives are zero; staging

def test_zero_jvps():
    def f(x):
        bits = lax.bitcast_convert_type(x, np.uint32)
        one = np.uint32(1)
        bits = lax.shift_right_logical(lax.shift_left(bits, one), one)  # clears the sign bit
        return lax.mul(x, lax.bitcast_convert_type(bits, np.float32))  # x * |x|

    # the bit manipulation is a constant to differentiation: d/dx [x * c] = c = |x|
    assert ft.grad(f)(np.float32(-3.0)) == 3.0
    _, t = ft.jvp(lambda x: lax.population_count(lax.bitcast_convert_type(x, np.int32)),
                  (np.float32(2.0),), (np.float32(1.0),))
    assert t.dtype == ft.dtypes.float0  # an integer output's tangent, as in JAX


def test_shifts_staged():
    closed = ft.make_jaxpr(lambda x: lax.shift_right_arithmetic(lax.shift_left(x, 3), 1))(
        np.int32([1, 2]))
    assert [e.primitive.name for e in closed.eqns] == ["shift_left", "shift_right_arithmetic"]
    assert [a.str_short() for a in typecheck(closed)] == ["i32[2]"]
    assert "shift_left a 3:i32[]" in str(closed)

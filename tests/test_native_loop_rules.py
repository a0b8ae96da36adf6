"""Native loops (backends/numba_cpu/native_rules.py): the steps a loop body may hold
beyond fused loops -- contractions, reductions and shape ops, indexing, iota/full, random
bits -- and in-place updates of carried arrays. Each case runs as a native loop and as a
Python loop (``run_both``) and is checked against NumPy.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp
from functrace import lax, random
from test_native_loops import assert_trees_close, run_both


@pytest.mark.parametrize("spec", ["ij,jk->ik", "ji,jk->ik", "ij,kj->ik", "bij,bjk->bik",
                                  "i,ij->j", "i,i->", "bij,jk->bik"])
def test_dot_generals_in_a_body(spec):
    rng = np.random.default_rng(1)
    lhs_spec, rhs_spec = spec.split("->")[0].split(",")
    sizes = {"i": 3, "j": 4, "k": 3, "b": 2}
    x = rng.standard_normal(tuple(sizes[c] for c in lhs_spec)).astype(np.float32)
    y = rng.standard_normal((5, *(sizes[c] for c in rhs_spec))).astype(np.float32)

    def f(x, ys):
        return lax.scan(lambda c, y: (c, fnp.einsum(spec, c, y)), x, ys)[1]

    native, python = run_both(f, x, y)
    want = np.stack([np.einsum(spec, x.astype(np.float64), v) for v in y])
    np.testing.assert_allclose(native, want, rtol=1e-5, atol=1e-5)
    assert_trees_close(native, python, rtol=1e-5)


@pytest.mark.parametrize("dims", [(((1, 0), (1, 0)), ((), ())), (((1, 0), (0, 1)), ((), ())),
                                  (((0,), (1,)), ((), ())), (((2,), (1,)), ((0,), (0,)))])
def test_dot_general_dimension_numbers_in_a_body(dims):
    rng = np.random.default_rng(5)
    (lc, rc), (lb, rb) = dims
    x = rng.standard_normal((2, 3, 4)[:3 if lb else 2]).astype(np.float32)
    rhs_shape = [0] * (3 if lb else 2)
    for a, b in zip(lc + lb, rc + rb, strict=True):
        rhs_shape[b] = x.shape[a]
    rhs_shape = [n or 5 for n in rhs_shape]
    ys = rng.standard_normal((3, *rhs_shape)).astype(np.float32)

    def f(x, ys):
        return lax.scan(lambda c, y: (c, lax.dot_general(c, y, dims)), x, ys)[1]

    native, python = run_both(f, x, ys)
    assert_trees_close(native, python, rtol=1e-5)
    letters = "abcdef"
    lhs = [letters[d] for d in range(x.ndim)]
    rhs = ["ghijk"[d] for d in range(len(rhs_shape))]
    for a, b in zip(lc + lb, rc + rb, strict=True):
        rhs[b] = lhs[a]
    out = ([lhs[d] for d in lb] + [c for d, c in enumerate(lhs) if d not in lc + lb]
           + [c for d, c in enumerate(rhs) if d not in rc + rb])
    spec = f"{''.join(lhs)},{''.join(rhs)}->{''.join(out)}"
    want = np.stack([np.einsum(spec, x.astype(np.float64), y) for y in ys])
    np.testing.assert_allclose(native, want, rtol=1e-5, atol=1e-5)


def test_reductions_and_shape_ops_in_a_body():
    def f(c, xs):
        def body(c, x):
            m = fnp.max(x, axis=1)             # standalone reduction over some axes
            t = fnp.transpose(x).reshape(-1)   # transpose + reshape
            return c + fnp.sum(x) + m.mean(), (t[:4] * c, fnp.any(x > 1.5))
        return lax.scan(body, c, xs)

    xs = np.random.default_rng(2).standard_normal((6, 3, 4)).astype(np.float32)
    native, python = run_both(f, np.float32(0.0), xs)
    assert_trees_close(native, python, rtol=1e-5)
    c = 0.0
    for x in xs:
        c = c + x.sum() + x.max(axis=1).mean()
    np.testing.assert_allclose(native[0], c, rtol=1e-5)
    np.testing.assert_array_equal(native[1][1], [(x > 1.5).any() for x in xs])


# ---------------------------------------------------------------------------
# indexing in bodies: x[i], x.at[i].set/add, dynamic slices

def test_indexing_in_fori_loop_bodies():
    def f(x, m):
        def body(i, c):
            total, acc = c
            acc = acc.at[i].set(x[i] * 2.0).at[(i + 1) % 5].add(m[i, 1:3].sum())
            acc = acc.at[(i + 2) % 5].subtract(x[i])
            row = lax.dynamic_slice(m, (i, 0), (1, 3))
            return total + x[-1 - i] + row.sum(), acc
        return lax.fori_loop(0, 5, body, (np.float32(0.0), np.zeros(5, np.float32)))

    x = np.arange(5, dtype=np.float32)
    m = np.arange(15, dtype=np.float32).reshape(5, 3)
    native, python = run_both(f, x, m)
    assert_trees_close(native, python)
    total, acc = 0.0, np.zeros(5)
    for i in range(5):
        acc[i] = x[i] * 2.0
        acc[(i + 1) % 5] += m[i, 1:3].sum()
        acc[(i + 2) % 5] -= x[i]
        total += x[-1 - i] + m[i, :3].sum()
    np.testing.assert_allclose(native[0], total, rtol=1e-6)
    np.testing.assert_allclose(native[1], acc, rtol=1e-6)


def test_out_of_bounds_gathers_and_scatters_follow_their_modes():
    def f(x, k):
        def body(i, c):
            j = k + i  # runs past the end
            fill = x.at[j].get(mode="fill", fill_value=-1.0)
            clip = x.at[j].get(mode="clip")
            return c.at[j].set(fill + clip)  # out of bounds: dropped
        return lax.fori_loop(0, 4, body, np.zeros(5, np.float32))

    x = np.arange(5, dtype=np.float32) * 10
    native, python = run_both(f, x, np.int32(3))
    assert_trees_close(native, python)
    np.testing.assert_array_equal(native, [0, 0, 0, 60, 80])


def test_iota_and_full_in_a_body():
    def f(c, xs):
        def body(c, x):
            ramp = lax.broadcasted_iota(np.int32, (2, 3), 1)
            fill = lax.full((3,), 2, np.int32)
            return c + (x * ramp).sum() + fill.sum(), ramp[1]
        return lax.scan(body, c, xs)

    xs = np.arange(12, dtype=np.int32).reshape(2, 2, 3)
    native, python = run_both(f, np.int32(1), xs)
    assert_trees_close(native, python)
    assert int(native[0]) == 1 + sum(int((x * np.arange(3)).sum()) for x in xs) + 2 * 6
    np.testing.assert_array_equal(native[1], [[0, 1, 2], [0, 1, 2]])


def test_random_draws_in_loop_bodies_match_the_python_loop_bit_for_bit():
    def walk(key):  # a key carried through the loop: threefry, shifts and bitcasts inside
        def body(i, c):
            key, x = c
            key, sub = random.split(key)
            return key, x + random.uniform(sub, (3,)) - 0.5 + random.normal(sub, ())
        return lax.fori_loop(0, 20, body, (key, np.zeros(3, np.float32)))

    key = random.PRNGKey(42)
    native, python = run_both(walk, key)
    assert_trees_close(native, python, rtol=0, atol=0)
    assert_trees_close(native, walk(key), rtol=1e-6)  # eager: the reference impls
    for sampler in (lambda k: random.poisson(k, 3.0, (50,)),
                    lambda k: random.binomial(k, 10, 0.3, (50,))):
        native, python = run_both(sampler, key)
        np.testing.assert_array_equal(native, python)
        np.testing.assert_array_equal(native, sampler(key))


@given(st.lists(st.integers(0, 2 ** 32 - 1), min_size=4, max_size=4), st.integers(0, 40))
def test_threefry_and_shifts_in_a_body_match_the_reference(words, amount):
    k1, k2, x1, x2 = (np.uint32(w) for w in words)

    def f(k1, k2, xs):
        def body(c, x):
            y1, y2 = lax.threefry2x32(k1, k2, c, x)
            return y1 ^ lax.shift_right_logical(y2, np.uint32(amount)), (
                lax.shift_left(y1, np.full(3, amount, np.uint32)), y2)
        return lax.scan(body, np.full(3, x1, np.uint32), xs)

    xs = np.stack([np.full(3, x2, np.uint32), np.arange(3, dtype=np.uint32)])
    native, python = run_both(f, k1, k2, xs)
    assert_trees_close(native, python)
    c = np.full(3, x1, np.uint32)
    for x in xs:
        y1, y2 = lax.threefry2x32(k1, k2, c, x)  # eager: the NumPy reference impl
        np.testing.assert_array_equal(lax.shift_left(y1, np.full(3, amount, np.uint32)),
                                      (y1.astype(np.uint64) << amount).astype(np.uint32)
                                      if amount < 32 else np.zeros(3, np.uint32))
        c = y1 ^ (y2 >> np.uint32(amount) if amount < 32 else np.zeros(3, np.uint32))
    np.testing.assert_array_equal(native[0], c)


def test_carried_arrays_are_updated_in_place_only_when_nothing_else_sees_them():
    def fill(a):  # the pattern: one update of the carry per iteration, nothing else reads it
        return lax.fori_loop(0, a.shape[0], lambda i, c: c.at[i].set(i * 2.0), a)

    def reads_too(a):  # the carry is also read (and stacked): updates must copy
        return lax.scan(lambda c, i: (c.at[i].add(c[0]), c), a, np.arange(4))

    def swapped(a, b):  # two carries that trade places
        return lax.fori_loop(0, 3, lambda i, c: (c[1].at[i].set(1.0), c[0]), (a, b))

    def rows(m):  # dynamic_update_slice of a row, in a while loop
        def body(c):
            k, m = c
            row = fnp.full((1, 3), 1.0, np.float32) * k.astype(np.float32)
            return k + 1, lax.dynamic_update_slice(m, row, (k, 0))
        return lax.while_loop(lambda c: c[0] < 4, body, (0, m))[1]

    a = np.zeros(4, np.float32)
    for f, args, want in (
            (fill, (a,), np.arange(4) * 2.0),
            (reads_too, (np.ones(4, np.float32),), None),
            (swapped, (np.zeros(3, np.float32), np.full(3, 5, np.float32)), None),
            (rows, (np.zeros((4, 3), np.float32),), np.repeat(np.arange(4.0), 3).reshape(4, 3))):
        before = [np.array(x, copy=True) for x in args]
        native, python = run_both(f, *args)
        assert_trees_close(native, python)
        for x, b in zip(args, before, strict=True):  # the caller's arrays are untouched
            np.testing.assert_array_equal(x, b)
        if want is not None:
            np.testing.assert_array_equal(native, want)
    text = ft.jit(fill).lower(a).as_text()
    assert ".copy()" in text.split("for it")[0]  # one copy, before the loop
    assert ".copy()" not in text.split("for it")[1]
    assert ".copy()" in ft.jit(reads_too).lower(np.ones(4, np.float32)).as_text().split(
        "for it")[1]

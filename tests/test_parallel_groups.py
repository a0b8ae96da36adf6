"""Collectives within ``axis_index_groups`` (JAX's semantics: the groups partition the
lanes, all of one size; a lane's position in its group's list is its rank there), under
``vmap(axis_name=)`` and ``pmap`` over 2 and 4 virtual CPU devices, values and gradients
against NumPy references written from that definition. The multi-process case is in
tests/test_distributed.py (tests/mpi/dp_step.py)."""

import numpy as np
import pytest

import functrace as ft
from functrace import lax

# ---------------------------------------------------------------------------
# NumPy references: lanes X (one row per lane) in, every lane's result stacked out


def ref_reduce(X, groups, fn):
    out = np.empty_like(X)
    for g in groups:
        out[list(g)] = fn(X[list(g)], axis=0)
    return out


def ref_all_gather(X, groups, axis, tiled):
    rows = [None] * len(X)
    for g in groups:
        members = [X[i] for i in g]
        one = np.concatenate(members, axis) if tiled else np.stack(members, axis)
        for lane in g:
            rows[lane] = one
    return np.stack(rows)


def ref_psum_scatter(X, groups, sd, tiled):
    rows = [None] * len(X)
    for g in groups:
        total = X[list(g)].sum(0)
        for p, lane in enumerate(g):
            rows[lane] = np.split(total, len(g), sd)[p] if tiled else np.take(total, p, sd)
    return np.stack(rows)


def ref_all_to_all(X, groups, sa, ca, tiled):
    rows = [None] * len(X)
    for g in groups:
        k = len(g)
        for p, lane in enumerate(g):
            if tiled:
                rows[lane] = np.concatenate([np.split(X[i], k, sa)[p] for i in g], ca)
            else:
                rows[lane] = np.stack([np.take(X[i], p, sa) for i in g], ca)
    return np.stack(rows)


GROUPS = {
    2: [((1, 0),), ((0,), (1,)), ((0, 1),)],
    4: [((0, 2), (1, 3)), ((3, 0), (2, 1)), ((2, 0, 3, 1),), ((0,), (1,), (2,), (3,))],
}


def cases(groups):
    """(name, per-lane function, reference, per-lane shape)."""
    k = len(groups[0])
    kw = dict(axis_index_groups=groups)
    return [
        ("psum", lambda x: lax.psum(x, "i", **kw), lambda X: ref_reduce(X, groups, np.sum),
         (3,)),
        ("pmean", lambda x: lax.pmean(x, "i", **kw), lambda X: ref_reduce(X, groups, np.mean),
         (2, 3)),
        ("pmax", lambda x: lax.pmax(x, "i", **kw), lambda X: ref_reduce(X, groups, np.max),
         (3,)),
        ("pmin", lambda x: lax.pmin(x, "i", **kw), lambda X: ref_reduce(X, groups, np.min),
         (3,)),
        ("all_gather", lambda x: lax.all_gather(x, "i", **kw),
         lambda X: ref_all_gather(X, groups, 0, False), (2, 3)),
        ("all_gather_tiled_axis1", lambda x: lax.all_gather(x, "i", axis=1, tiled=True, **kw),
         lambda X: ref_all_gather(X, groups, 1, True), (2, 3)),
        ("psum_scatter", lambda x: lax.psum_scatter(x, "i", scatter_dimension=1, **kw),
         lambda X: ref_psum_scatter(X, groups, 1, False), (2, k)),
        ("psum_scatter_tiled", lambda x: lax.psum_scatter(x, "i", tiled=True, **kw),
         lambda X: ref_psum_scatter(X, groups, 0, True), (2 * k, 3)),
        ("all_to_all", lambda x: lax.all_to_all(x, "i", 0, 1, **kw),
         lambda X: ref_all_to_all(X, groups, 0, 1, False), (k, 3)),
        ("all_to_all_tiled", lambda x: lax.all_to_all(x, "i", 1, 0, tiled=True, **kw),
         lambda X: ref_all_to_all(X, groups, 1, 0, True), (2, 2 * k)),
    ]


LINEAR = {"psum", "pmean", "all_gather", "all_gather_tiled_axis1", "psum_scatter",
          "psum_scatter_tiled", "all_to_all", "all_to_all_tiled"}


@pytest.fixture(params=[2, 4])
def devices(request):
    prev = ft.config.num_cpu_devices
    ft.config.update("num_cpu_devices", request.param)
    yield request.param
    ft.config.update("num_cpu_devices", prev)


def mapped(kind, f):
    return ft.pmap(f, axis_name="i") if kind == "pmap" else ft.vmap(f, axis_name="i")


def _linear_grad_ref(ref, X, W):
    """Gradient of sum(W * ref(X)) for a linear ref: ref's adjoint applied to W."""
    g = np.zeros(X.size)
    for j in range(X.size):
        e = np.zeros(X.size)
        e[j] = 1.0
        g[j] = np.sum(W * ref(e.reshape(X.shape)))
    return g.reshape(X.shape)


def _extreme_grad_ref(name, X, W, groups):
    """d/dX sum(W * pmax_g(X)): the lane attaining its group's extreme receives the sum of
    its group's cotangents (random data: no ties)."""
    fn = np.max if name == "pmax" else np.min
    ext = ref_reduce(X, groups, fn)
    total = ref_reduce(W, groups, np.sum)
    return (X == ext) * total


@pytest.mark.parametrize("kind", ["vmap", "pmap"])
def test_grouped_collective_values(devices, kind, rng):
    G = devices
    for groups in GROUPS[G]:
        for name, f, ref, shape in cases(groups):
            X = rng.standard_normal((G,) + shape).astype(np.float32)
            np.testing.assert_allclose(mapped(kind, f)(X), ref(X), rtol=1e-6, atol=1e-6,
                                       err_msg=f"{name} {groups}")


@pytest.mark.parametrize("kind", ["vmap", "pmap"])
def test_grouped_collective_gradients(devices, kind, rng):
    """grad outside the map (the transpose rules) and inside it (JVP + transpose)."""
    G = devices
    for groups in GROUPS[G]:
        for name, f, ref, shape in cases(groups):
            X = rng.standard_normal((G,) + shape).astype(np.float32)
            W = rng.standard_normal(ref(X).shape).astype(np.float32)
            if name in LINEAR:
                expected = _linear_grad_ref(ref, X.astype(np.float64), W)
            else:
                expected = _extreme_grad_ref(name, X, W, groups)
            outside = ft.grad(lambda X, f=f, W=W: (mapped(kind, f)(X) * W).sum())(X)
            np.testing.assert_allclose(outside, expected, rtol=1e-5, atol=1e-5,
                                       err_msg=f"{name} {groups}")

            def lane(x, w, f=f):
                return ft.grad(lambda x: (f(x) * w).sum())(x)

            inside = mapped(kind, lane)(X, W)
            np.testing.assert_allclose(inside, expected, rtol=1e-5, atol=1e-5,
                                       err_msg=f"inside {name} {groups}")


def test_python_scalars_and_unmapped_operands(devices):
    """psum(1, 'i', axis_index_groups=g) is the group size (JAX); an unmapped operand is
    every lane's value, so its grouped sum is k times it."""
    G = devices
    groups = [list(range(G))[::-1]] if G == 2 else [[0, 1], [2, 3]]
    k = len(groups[0])
    out = ft.pmap(lambda x: x * lax.psum(1, "i", axis_index_groups=groups), axis_name="i")(
        np.ones(G, np.float32))
    np.testing.assert_array_equal(out, np.full(G, k))
    c = np.array([1.0, 2.0], np.float32)
    out = ft.vmap(lambda x: x + lax.psum(c, "i", axis_index_groups=groups), axis_name="i")(
        np.zeros((G, 2), np.float32))
    np.testing.assert_array_equal(out, np.broadcast_to(k * c, (G, 2)))


def test_grouped_collective_over_an_outer_axis(rng):
    """A collective inside an inner vmap over the outer axis 'i': the inner axis's lanes
    stay independent."""
    X = rng.standard_normal((4, 3)).astype(np.float32)
    groups = [[0, 3], [1, 2]]
    f = ft.vmap(ft.vmap(lambda x: lax.psum(x, "i", axis_index_groups=groups), axis_name="j"),
                axis_name="i")
    np.testing.assert_allclose(f(X), ref_reduce(X, groups, np.sum), rtol=1e-6)


def test_bad_groups_are_clear_errors():
    ft.config.update("num_cpu_devices", 4)
    try:
        x = np.ones(4, np.float32)
        for bad in ([[0, 1], [2]], [[0, 1], [1, 2]], [[0, 1]], [[0, 1], [2, 5]]):
            with pytest.raises(ValueError, match="cover all indices exactly once"):
                ft.pmap(lambda v, g=bad: lax.psum(v, "i", axis_index_groups=g),
                        axis_name="i")(x)
        with pytest.raises(ValueError, match="same size"):
            ft.pmap(lambda v: lax.all_gather(v, "i", axis_index_groups=[[0, 1, 2], [3]]),
                    axis_name="i")(x)
        with pytest.raises(ValueError, match="non-empty"):
            ft.vmap(lambda v: lax.pmax(v, "i", axis_index_groups=[]), axis_name="i")(x)
        with pytest.raises(TypeError, match="list of lists of ints"):
            ft.vmap(lambda v: lax.pmin(v, "i", axis_index_groups=[0, 1]), axis_name="i")(x)
        # the group size is the collective's axis size: psum_scatter's dimension must match
        with pytest.raises(ft.FunctraceError, match="axis size 2"):
            ft.vmap(lambda v: lax.psum_scatter(v, "i", axis_index_groups=[[0, 1], [2, 3]]),
                    axis_name="i")(np.ones((4, 4), np.float32))
    finally:
        ft.config.update("num_cpu_devices", 1)

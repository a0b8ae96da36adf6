"""Collectives (lax.psum, all_gather, ppermute, ...) under vmap(axis_name=) and pmap over
2 and 4 virtual CPU devices, values and gradients against NumPy references.

A reference takes the lanes ``X`` (shape ``(G, *s)``: one row per device/example) and
returns every lane's output stacked the same way."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import functrace as ft
from functrace import lax

# ---------------------------------------------------------------------------
# NumPy references: lanes in, lanes out


def ref_psum(X):
    return np.broadcast_to(X.sum(0), X.shape)


def ref_pmean(X):
    return np.broadcast_to(X.mean(0), X.shape)


def ref_pmax(X):
    return np.broadcast_to(X.max(0), X.shape)


def ref_pmin(X):
    return np.broadcast_to(X.min(0), X.shape)


def ref_all_gather(X, axis, tiled):
    one = np.concatenate(list(X), axis) if tiled else np.stack(list(X), axis)
    return np.stack([one] * len(X))


def ref_psum_scatter(X, sd, tiled):
    S, G = X.sum(0), len(X)
    if tiled:
        return np.stack(np.split(S, G, axis=sd))
    return np.stack([np.take(S, k, axis=sd) for k in range(G)])


def ref_ppermute(X, perm):
    out = np.zeros_like(X)
    for src, dst in perm:
        out[dst] = X[src]
    return out


def ref_all_to_all(X, sa, ca, tiled):
    G = len(X)
    if tiled:
        return np.stack([np.concatenate([np.split(X[i], G, axis=sa)[j] for i in range(G)], ca)
                         for j in range(G)])
    return np.stack([np.stack([np.take(X[i], j, axis=sa) for i in range(G)], ca)
                     for j in range(G)])


# (name, functrace per-lane function, reference, per-lane shape given G)
def cases(G):
    perm = [(k, (k + 1) % G) for k in range(G - 1)]  # lane G-1 sends nothing: lane 0 gets 0
    return [
        ("psum", lambda x: lax.psum(x, "i"), ref_psum, (3,)),
        ("pmean", lambda x: lax.pmean(x, "i"), ref_pmean, (2, 3)),
        ("pmax", lambda x: lax.pmax(x, "i"), ref_pmax, (3,)),
        ("pmin", lambda x: lax.pmin(x, "i"), ref_pmin, (3,)),
        ("all_gather", lambda x: lax.all_gather(x, "i"), lambda X: ref_all_gather(X, 0, False),
         (2, 3)),
        ("all_gather_axis1", lambda x: lax.all_gather(x, "i", axis=1),
         lambda X: ref_all_gather(X, 1, False), (2, 3)),
        ("all_gather_tiled", lambda x: lax.all_gather(x, "i", axis=1, tiled=True),
         lambda X: ref_all_gather(X, 1, True), (2, 3)),
        ("psum_scatter", lambda x: lax.psum_scatter(x, "i", scatter_dimension=1),
         lambda X: ref_psum_scatter(X, 1, False), (2, G)),
        ("psum_scatter_tiled", lambda x: lax.psum_scatter(x, "i", tiled=True),
         lambda X: ref_psum_scatter(X, 0, True), (2 * G, 3)),
        ("ppermute", lambda x: lax.ppermute(x, "i", perm), lambda X: ref_ppermute(X, perm),
         (2, 3)),
        ("all_to_all", lambda x: lax.all_to_all(x, "i", 0, 1),
         lambda X: ref_all_to_all(X, 0, 1, False), (G, 3)),
        ("all_to_all_tiled", lambda x: lax.all_to_all(x, "i", 1, 0, tiled=True),
         lambda X: ref_all_to_all(X, 1, 0, True), (2, 2 * G)),
    ]


LINEAR = {"psum", "pmean", "all_gather", "all_gather_axis1", "all_gather_tiled", "psum_scatter",
          "psum_scatter_tiled", "ppermute", "all_to_all", "all_to_all_tiled"}


@pytest.fixture(params=[2, 4])
def devices(request):
    prev = ft.config.num_cpu_devices
    ft.config.update("num_cpu_devices", request.param)
    yield request.param
    ft.config.update("num_cpu_devices", prev)


def mapped(kind, f):
    return ft.pmap(f, axis_name="i") if kind == "pmap" else ft.vmap(f, axis_name="i")


@pytest.mark.parametrize("kind", ["vmap", "pmap"])
def test_collective_values(devices, kind, rng):
    G = devices
    for name, f, ref, shape in cases(G):
        X = rng.standard_normal((G,) + shape).astype(np.float32)
        got = mapped(kind, f)(X)
        np.testing.assert_allclose(got, ref(X), rtol=1e-6, atol=1e-6, err_msg=name)


def _linear_grad_ref(ref, X, W):
    """Gradient of sum(W * ref(X)) for a linear ref: ref's adjoint applied to W."""
    g = np.zeros(X.size)
    for j in range(X.size):
        e = np.zeros(X.size)
        e[j] = 1.0
        g[j] = np.sum(W * ref(e.reshape(X.shape)))
    return g.reshape(X.shape)


@pytest.mark.parametrize("kind", ["vmap", "pmap"])
def test_collective_gradients(devices, kind, rng):
    """grad outside the map: the adjoint of each linear collective; pmax/pmin route the
    cotangent to the lane holding the extreme."""
    G = devices
    for name, f, ref, shape in cases(G):
        X = rng.standard_normal((G,) + shape).astype(np.float32)
        W = rng.standard_normal(ref(X).shape).astype(np.float32)
        g = ft.grad(lambda X, f=f, W=W: (mapped(kind, f)(X) * W).sum())(X)
        if name in LINEAR:
            expected = _linear_grad_ref(ref, X.astype(np.float64), W)
        else:
            extreme = X.max(0) if name == "pmax" else X.min(0)
            expected = (X == extreme) * W.sum(0)
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("kind", ["vmap", "pmap"])
def test_collective_gradients_inside_the_map(devices, kind, rng):
    """grad inside the map runs each collective's own JVP and transpose rules. As in JAX, a
    lane's gradient is that of the sum of all lanes' losses, so it equals the gradient
    taken outside the map (the references of test_collective_gradients)."""
    G = devices
    for name, f, ref, shape in cases(G):
        X = rng.standard_normal((G,) + shape).astype(np.float32)
        W = rng.standard_normal(ref(X).shape).astype(np.float32)

        def lane(x, w, f=f):
            return ft.grad(lambda x: (f(x) * w).sum())(x)

        g = mapped(kind, lane)(X, W)
        if name in LINEAR:
            expected = _linear_grad_ref(ref, X.astype(np.float64), W)
        else:
            extreme = X.max(0) if name == "pmax" else X.min(0)
            expected = (X == extreme) * W.sum(0)
        np.testing.assert_allclose(g, expected, rtol=1e-5, atol=1e-5, err_msg=name)


def test_grad_inside_the_map_is_the_gradient_of_the_total(devices, rng):
    """As JAX's pmap: psum transposes to psum, so a per-lane grad through a psum is the
    gradient of the sum of all lanes' losses: d/dx_k sum_j c_j * sum_i x_i = sum_j c_j."""
    G = devices
    X = rng.standard_normal((G, 3)).astype(np.float32)
    C = rng.standard_normal((G, 3)).astype(np.float32)

    def per_lane(x, c):
        return ft.grad(lambda x: (c * lax.psum(x, "i")).sum())(x)

    for kind in ("vmap", "pmap"):
        got = mapped(kind, per_lane)(X, C)
        np.testing.assert_allclose(got, np.broadcast_to(C.sum(0), X.shape), rtol=1e-5,
                                   err_msg=kind)


def test_jvp_through_pmap(devices, rng):
    G = devices
    X = rng.standard_normal((G, 3)).astype(np.float32)
    T = rng.standard_normal((G, 3)).astype(np.float32)
    f = ft.pmap(lambda x: lax.psum(x * x, "i"), axis_name="i")
    y, t = ft.jvp(f, (X,), (T,))
    np.testing.assert_allclose(y, ref_psum(X * X), rtol=1e-5)
    np.testing.assert_allclose(t, ref_psum(2 * X * T), rtol=1e-5)


def test_axis_index_and_size(devices):
    G = devices
    out = ft.pmap(lambda x: x + lax.axis_index("i") * lax.axis_size("i"), axis_name="i")(
        np.zeros(G, np.float32))
    np.testing.assert_array_equal(out, np.arange(G) * G)
    # psum of a Python scalar is the axis size, known statically (JAX's psum(1, 'i'))
    out = ft.vmap(lambda x: x * lax.psum(1, "i"), axis_name="i")(np.ones(G, np.float32))
    np.testing.assert_array_equal(out, np.full(G, G))


def test_data_parallel_step_equals_the_global_batch(devices, rng):
    """pmean of per-device gradients == the gradient of the mean loss on the whole batch."""
    G = devices
    W = rng.standard_normal((5, 3)).astype(np.float32)
    X = rng.standard_normal((G * 4, 5)).astype(np.float32)
    Y = rng.standard_normal((G * 4, 3)).astype(np.float32)

    def loss(w, x, y):
        return ((x @ w - y) ** 2).mean()

    step = ft.pmap(lambda w, x, y: lax.pmean(ft.grad(loss)(w, x, y), "i"), axis_name="i",
                   in_axes=(None, 0, 0))
    got = step(W, X.reshape(G, 4, 5), Y.reshape(G, 4, 3))
    expected = 2 * X.T @ (X @ W - Y) / Y.size  # d/dW mean((XW - Y)^2), by hand
    for k in range(G):
        np.testing.assert_allclose(got[k], expected, rtol=1e-4, atol=1e-5)


def test_pytrees_and_tuple_axis_names(rng):
    X = rng.standard_normal((2, 3, 4)).astype(np.float32)

    def inner(x):
        tree = {"a": x, "b": (x * 2, 1.0)}
        both = lax.psum(x, ("i", "j"))
        return lax.psum(tree, "j"), both, lax.axis_index(("i", "j")), lax.pmean(x, "i")

    f = ft.vmap(ft.vmap(inner, axis_name="j"), axis_name="i")
    (tree, both, idx, mean_i) = f(X)
    np.testing.assert_allclose(tree["a"], np.broadcast_to(X.sum(1, keepdims=True), X.shape),
                               rtol=1e-6)
    np.testing.assert_allclose(tree["b"][0], 2 * tree["a"], rtol=1e-6)
    np.testing.assert_array_equal(tree["b"][1], np.full((2, 3), 3.0))  # psum(1., 'j') = 3
    np.testing.assert_allclose(both, np.broadcast_to(X.sum((0, 1)), X.shape), rtol=1e-5)
    np.testing.assert_array_equal(idx, np.arange(6).reshape(2, 3))
    np.testing.assert_allclose(mean_i, np.broadcast_to(X.mean(0), X.shape), rtol=1e-6)


def test_collective_over_an_outer_axis_from_an_inner_vmap(rng):
    X = rng.standard_normal((2, 3)).astype(np.float32)
    # the inner vmap maps over columns; psum over the outer 'i' sums the rows
    out = ft.vmap(lambda row: ft.vmap(lambda v: lax.psum(v, "i"))(row), axis_name="i")(X)
    np.testing.assert_allclose(out, np.broadcast_to(X.sum(0), X.shape), rtol=1e-6)


def test_unbound_axis_name():
    with pytest.raises(NameError, match="unbound axis name: i"):
        lax.psum(np.ones(3, np.float32), "i")
    with pytest.raises(NameError, match="unbound axis name: j.*available.*\\['i'\\]"):
        ft.vmap(lambda x: lax.psum(x, "j"), axis_name="i")(np.ones(3, np.float32))
    with pytest.raises(NameError, match="unbound axis name: j"):
        ft.pmap(lambda x: lax.axis_index("j"), axis_name="i")(np.ones(1, np.float32))


def test_pmap_api(devices, rng):
    G = devices
    X = rng.standard_normal((3, G)).astype(np.float32)
    # in_axes=1, a broadcast argument, a static argument, out_axes=None for a replicated value
    f = ft.pmap(lambda x, b, n: (x * n + b, lax.psum(x, "i")), axis_name="i",
                in_axes=(1, None, None), out_axes=(0, None), static_broadcasted_argnums=2)
    a, s = f(X, np.float32(1.0), 3)
    np.testing.assert_allclose(a, X.T * 3 + 1, rtol=1e-6)
    np.testing.assert_allclose(s, X.sum(1), rtol=1e-6)
    assert len(ft.local_devices()) == G and ft.device_count() == G
    assert [d.id for d in ft.devices()] == list(range(G))
    out = ft.pmap(lambda x: x + 1, devices=ft.local_devices()[:2])(np.zeros(2, np.float32))
    np.testing.assert_array_equal(out, [1, 1])
    with pytest.raises(ft.ShapeError, match="requires 5 logical devices"):
        ft.pmap(lambda x: x)(np.zeros(5, np.float32)) if G < 5 else None


@given(G=st.sampled_from([1, 2, 3]), n=st.integers(1, 3), sa=st.integers(0, 1),
       ca=st.integers(0, 1), tiled=st.booleans())
def test_all_to_all_shapes(G, n, sa, ca, tiled):
    shape = [n, n]
    shape[sa] = G * n if tiled else G
    X = np.arange(G * shape[0] * shape[1], dtype=np.float32).reshape([G] + shape)
    got = ft.vmap(lambda x: lax.all_to_all(x, "i", sa, ca, tiled=tiled), axis_name="i")(X)
    np.testing.assert_array_equal(got, ref_all_to_all(X, sa, ca, tiled))


def test_shape_errors():
    x = np.ones((2, 3), np.float32)
    with pytest.raises(ft.ShapeError, match="psum_scatter: dimension 0 .* must equal the axis "
                                            "size 2"):
        ft.vmap(lambda v: lax.psum_scatter(v, "i"), axis_name="i")(np.ones((2, 3, 3)))
    with pytest.raises(ft.ShapeError, match="ppermute: perm .* more than once"):
        ft.vmap(lambda v: lax.ppermute(v, "i", [(0, 1), (1, 1)]), axis_name="i")(x)
    with pytest.raises(ft.ShapeError, match="outside 0..1"):
        ft.vmap(lambda v: lax.ppermute(v, "i", [(0, 2)]), axis_name="i")(x)


def test_config_num_cpu_devices_validation():
    with pytest.raises(ft.FunctraceError, match="positive int"):
        ft.config.update("num_cpu_devices", 0)

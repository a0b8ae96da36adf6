"""checkpoint / remat: same values and derivatives, fewer saved intermediates."""

import tracemalloc

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace.core.jaxpr import typecheck
from functrace.transforms.checkpoint import checkpoint_p


def _chain(x, n=4):
    for _ in range(n):
        x = fnp.sin(x) * 1.1
    return x


def _chain_ref(x, n=4):
    for _ in range(n):
        x = np.sin(x) * 1.1
    return x


def _dchain_ref(x, n=4):
    d = np.ones_like(x)
    for _ in range(n):
        d = d * np.cos(x) * 1.1
        x = np.sin(x) * 1.1
    return d


@pytest.mark.parametrize("policy", [None, "nothing_saveable", "everything_saveable",
                                    "dots_saveable"])
def test_checkpoint_values_and_grads_in_every_mode(x64, policy):
    pol = None if policy is None else getattr(ft.checkpoint_policies, policy)
    f = ft.checkpoint(lambda x: fnp.sum(_chain(x)), policy=pol)
    x = np.linspace(-1, 1, 5)
    want, want_g = _chain_ref(x).sum(), _dchain_ref(x)
    for fn in (f, ft.jit(f)):
        np.testing.assert_allclose(fn(x), want, rtol=1e-12)
    for g in (ft.grad(f), ft.jit(ft.grad(f)), ft.grad(ft.jit(f))):
        np.testing.assert_allclose(g(x), want_g, rtol=1e-12)
    xb = np.stack([x, -x])
    np.testing.assert_allclose(ft.vmap(ft.grad(f))(xb), [_dchain_ref(x), _dchain_ref(-x)],
                               rtol=1e-12)
    typecheck(ft.make_jaxpr(ft.grad(f))(x))


def test_remat_alias_static_argnums_and_second_derivative(x64):
    f = ft.remat(lambda x, n: _chain(x, n), static_argnums=(1,))
    np.testing.assert_allclose(ft.grad(f)(0.3, 3), _dchain_ref(np.array(0.3), 3), rtol=1e-12)
    # d2/dx2 sin(sin(x)) = -sin(sin x) cos^2 x - cos(sin x) sin x
    g2 = ft.grad(ft.grad(ft.checkpoint(lambda x: fnp.sin(fnp.sin(x)))))(0.7)
    want = -np.sin(np.sin(0.7)) * np.cos(0.7) ** 2 - np.cos(np.sin(0.7)) * np.sin(0.7)
    np.testing.assert_allclose(g2, want, rtol=1e-10)


def test_checkpoint_prints_as_jax():
    text = str(ft.make_jaxpr(ft.checkpoint(lambda x: fnp.sin(x) * 2.0))(np.float32(1)))
    assert text == """{ lambda ; a:f32[]. let
    b:f32[] = remat2[
      differentiated=False
      jaxpr={ lambda ; c:f32[]. let
          d:f32[] = sin c
          e:f32[] = mul d 2.0:f32[]
        in (e,) }
      policy=None
      prevent_cse=True
    ] a
  in (b,) }"""


def _residual_inputs(f, x):
    """The backward checkpoint equation's inputs: what the forward pass saved for it."""
    jaxpr = ft.make_jaxpr(ft.grad(f))(x)
    (eqn,) = [e for e in jaxpr.eqns if e.primitive is checkpoint_p]
    return eqn, [v.aval.shape for v in eqn.inputs]


def test_policies_choose_what_is_saved():
    w = np.full((4, 4), 0.1, np.float32)
    x = np.ones((2, 4), np.float32)

    def net(x):
        return fnp.sum(fnp.tanh(fnp.tanh(x @ w) @ w))

    # nothing saveable: only the inputs (x, w) and the output cotangent reach the backward
    eqn, shapes = _residual_inputs(ft.checkpoint(net), x)
    assert sorted(shapes) == sorted([(), (2, 4), (4, 4)])
    body = str(eqn.params["jaxpr"])
    assert body.count("dot_general") >= 4 and "tanh" in body  # the forward is recomputed
    # dots saveable: the two matmul results are saved, tanh is recomputed
    eqn, shapes = _residual_inputs(ft.checkpoint(net, policy=ft.checkpoint_policies
                                                 .dots_saveable), x)
    assert shapes.count((2, 4)) == 3  # x and the two products
    assert "tanh" in str(eqn.params["jaxpr"])
    # everything saveable: no recomputation at all
    jaxpr = ft.make_jaxpr(ft.grad(ft.checkpoint(
        net, policy=ft.checkpoint_policies.everything_saveable)))(x)
    bwd = [e for e in jaxpr.eqns if e.primitive is checkpoint_p]
    assert all("tanh" not in str(e.params["jaxpr"]) for e in bwd)


def _peak_bytes(fn, *args):
    fn(*args)  # warm caches
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_checkpointed_blocks_lower_the_peak_memory_of_a_deep_chain():
    x = np.linspace(-1, 1, 200_000).astype(np.float32)  # 0.8 MB per value

    def block(x):
        for _ in range(8):
            x = fnp.sin(x)
        return x

    def plain(x):
        for _ in range(8):
            x = block(x)
        return fnp.sum(x)

    def remat(x):
        for _ in range(8):
            x = ft.checkpoint(block)(x)
        return fnp.sum(x)

    g_plain, g_remat = ft.grad(plain), ft.grad(remat)
    np.testing.assert_allclose(g_remat(x), g_plain(x), rtol=1e-6)
    peak_plain, peak_remat = _peak_bytes(g_plain, x), _peak_bytes(g_remat, x)
    # 64 saved cosines (51 MB) without; 8 block inputs plus one block's worth with
    assert peak_remat < 0.5 * peak_plain, (peak_plain, peak_remat)


def test_jit_keeps_the_recomputation_apart():
    f = ft.checkpoint(lambda x: fnp.sum(fnp.sin(fnp.sin(x))))
    lowered = ft.jit(ft.grad(f)).lower(np.ones(3, np.float32))
    prims = [e.primitive for e in lowered.jaxpr.eqns]
    assert checkpoint_p in prims  # not merged into the forward pass by CSE
    np.testing.assert_allclose(ft.jit(ft.grad(f))(np.ones(3, np.float32)),
                               np.cos(np.sin(1.0)) * np.cos(1.0), rtol=1e-6)


def test_static_argnames_and_the_removed_concrete_option():
    g = ft.checkpoint(lambda x, *, k: fnp.sin(x) ** k, static_argnames="k")
    # d/dx sin(x)^3 = 3 sin(x)^2 cos(x); k must stay a Python int for ** to unroll
    np.testing.assert_allclose(ft.grad(lambda x: g(x, k=3))(0.5),
                               3 * np.sin(0.5) ** 2 * np.cos(0.5), rtol=1e-6)
    with pytest.raises(ft.TransformError, match="concrete"):
        ft.checkpoint(lambda x: x, concrete=True)

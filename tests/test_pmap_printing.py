"""``make_jaxpr(pmap(f))`` prints the program JAX 0.10 prints: ``jit[name=_fun]`` of a
``shard_map`` whose jaxpr is one device's program (blocks with a mapped axis of length 1,
squeezed on entry and restored on exit, the collectives as equations).

The expected texts are JAX 0.10.2's own output for the same calls (CPU,
``XLA_FLAGS=--xla_force_host_platform_device_count=2``, ``jax.make_jaxpr(jax.pmap(...))``),
pasted verbatim; functrace runs them on 2 virtual CPU devices."""

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

X = np.ones((2, 3), np.float32)
V = np.ones(3, np.float32)


@pytest.fixture(autouse=True)
def two_devices():
    prev = ft.config.num_cpu_devices
    ft.config.update("num_cpu_devices", 2)
    yield
    ft.config.update("num_cpu_devices", prev)


def printed(f, *args):
    # JAX ends ``axis_index[axis_name=i] `` with a space (an empty operand list); the
    # expected texts are stored without trailing spaces
    return "\n".join(line.rstrip() for line in str(ft.make_jaxpr(f)(*args)).splitlines())


def test_in_axes_none_and_out_axes_one_without_axis_name():
    def step(x, y):
        return x * y, y

    f = ft.pmap(step, in_axes=(0, None), out_axes=(1, None))
    assert printed(f, X, V) == JAX_STEP


def test_identity():
    assert printed(ft.pmap(lambda x: x), X) == JAX_IDENTITY


def test_pmean_with_a_dict_argument():
    f = ft.pmap(lambda x, y: lax.pmean(x * y["a"], "i"), axis_name="i")
    assert printed(f, X, {"a": X}) == JAX_PMEAN


def test_all_gather_with_groups():
    f = ft.pmap(lambda x: lax.all_gather(x, "i", axis_index_groups=[[1, 0]]), axis_name="i")
    assert printed(f, X) == JAX_ALL_GATHER


def test_axis_index_and_pmax():
    f = ft.pmap(lambda x: (lax.axis_index("i"), lax.pmax(x, "i")), axis_name="i")
    assert printed(f, X) == JAX_AXIS_INDEX


def test_every_collective_and_a_shared_program():
    """A per-device program of more than 10 equations is printed once, above (``let
    jaxpr = ...``), as JAX does."""
    def f(x):
        a = lax.psum(x, "i") + lax.pmin(x, "i") + lax.pmean(x, "i")
        e = lax.all_gather(x, "i")
        g = lax.psum_scatter(e, "i", axis_index_groups=[[0, 1]])
        h = lax.ppermute(x, "i", [(0, 1), (1, 0)])
        k = lax.all_to_all(e, "i", 0, 0)
        return a + g + h + k.sum(0) + lax.psum(1, "i")

    assert printed(ft.pmap(f, axis_name="i"), X) == JAX_EVERY


def test_the_printed_program_runs_and_transforms():
    """The staged equation is a working program: evaluating the jaxpr, jit, grad and vmap
    of the pmapped function agree with NumPy."""
    f = ft.pmap(lambda x: lax.psum(x * x, "i"), axis_name="i")
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    want = np.broadcast_to((x * x).sum(0), x.shape)
    closed = ft.make_jaxpr(f)(x)
    np.testing.assert_allclose(ft.eval_jaxpr(closed.jaxpr, closed.consts, x)[0], want)
    np.testing.assert_allclose(ft.jit(f)(x), want)
    np.testing.assert_allclose(ft.grad(lambda x: f(x).sum())(x), 2 * 2 * x)  # 2 lanes read x
    np.testing.assert_allclose(ft.vmap(f)(fnp.stack([x, 2 * x])), np.stack([want, 4 * want]))


JAX_STEP = """\
{ lambda ; a:f32[2,3] b:f32[3]. let
    c:f32[3,2] d:f32[3] = jit[
      name=_fun
      jaxpr={ lambda ; a:f32[2,3] b:f32[3]. let
          c:f32[3,2] d:f32[3] = shard_map[
            check_vma=False
            in_specs=(P('_internal_pmap_axis_name',), P())
            jaxpr={ lambda ; e:f32[1,3] f:f32[3]. let
                g:f32[3] = squeeze[dimensions=(0,)] e
                h:f32[3] = mul g f
                i:f32[3,1] = broadcast_in_dim[broadcast_dimensions=(0,)] h
              in (i, f) }
            mesh=Mesh('_internal_pmap_axis_name': 2, axis_types=(Auto,))
            newly_manual_axes=frozenset({'_internal_pmap_axis_name'})
            out_specs=(P(None, '_internal_pmap_axis_name'), P())
          ] a b
        in (c, d) }
    ] a b
  in (c, d) }"""

JAX_IDENTITY = """\
{ lambda ; a:f32[2,3]. let
    b:f32[2,3] = jit[
      name=_fun
      jaxpr={ lambda ; a:f32[2,3]. let
          b:f32[2,3] = shard_map[
            check_vma=False
            in_specs=(P('_internal_pmap_axis_name',),)
            jaxpr={ lambda ; c:f32[1,3]. let
                d:f32[3] = squeeze[dimensions=(0,)] c
                e:f32[1,3] = broadcast_in_dim[broadcast_dimensions=(1,)] d
              in (e,) }
            mesh=Mesh('_internal_pmap_axis_name': 2, axis_types=(Auto,))
            newly_manual_axes=frozenset({'_internal_pmap_axis_name'})
            out_specs=(P('_internal_pmap_axis_name',),)
          ] a
        in (b,) }
    ] a
  in (b,) }"""

JAX_PMEAN = """\
{ lambda ; a:f32[2,3] b:f32[2,3]. let
    c:f32[2,3] = jit[
      name=_fun
      jaxpr={ lambda ; a:f32[2,3] b:f32[2,3]. let
          c:f32[2,3] = shard_map[
            check_vma=False
            in_specs=(P('i',), P('i',))
            jaxpr={ lambda ; d:f32[1,3] e:f32[1,3]. let
                f:f32[3] = squeeze[dimensions=(0,)] d
                g:f32[3] = squeeze[dimensions=(0,)] e
                h:f32[3] = mul f g
                i:f32[3] = psum[axes=('i',) axis_index_groups=None] h
                j:f32[3] = div i 2.0:f32[]
                k:f32[1,3] = broadcast_in_dim[broadcast_dimensions=(1,)] j
              in (k,) }
            mesh=Mesh('i': 2, axis_types=(Auto,))
            newly_manual_axes=frozenset({'i'})
            out_specs=(P('i',),)
          ] a b
        in (c,) }
    ] a b
  in (c,) }"""

JAX_ALL_GATHER = """\
{ lambda ; a:f32[2,3]. let
    b:f32[2,2,3] = jit[
      name=_fun
      jaxpr={ lambda ; a:f32[2,3]. let
          b:f32[2,2,3] = shard_map[
            check_vma=False
            in_specs=(P('i',),)
            jaxpr={ lambda ; c:f32[1,3]. let
                d:f32[3] = squeeze[dimensions=(0,)] c
                e:f32[2,3] = all_gather[
                  all_gather_dimension=0
                  axis_index_groups=((1, 0),)
                  axis_name=('i',)
                  axis_size=2
                  tiled=False
                ] d
                f:f32[1,2,3] = broadcast_in_dim[broadcast_dimensions=(1, 2)] e
              in (f,) }
            mesh=Mesh('i': 2, axis_types=(Auto,))
            newly_manual_axes=frozenset({'i'})
            out_specs=(P('i',),)
          ] a
        in (b,) }
    ] a
  in (b,) }"""

JAX_AXIS_INDEX = """\
{ lambda ; a:f32[2,3]. let
    b:i32[2] c:f32[2,3] = jit[
      name=_fun
      jaxpr={ lambda ; a:f32[2,3]. let
          b:i32[2] c:f32[2,3] = shard_map[
            check_vma=False
            in_specs=(P('i',),)
            jaxpr={ lambda ; d:f32[1,3]. let
                e:f32[3] = squeeze[dimensions=(0,)] d
                f:i32[] = axis_index[axis_name=i]
                g:f32[3] = pmax[axes=('i',) axis_index_groups=None] e
                h:i32[1] = broadcast_in_dim f
                i:f32[1,3] = broadcast_in_dim[broadcast_dimensions=(1,)] g
              in (h, i) }
            mesh=Mesh('i': 2, axis_types=(Auto,))
            newly_manual_axes=frozenset({'i'})
            out_specs=(P('i',), P('i',))
          ] a
        in (b, c) }
    ] a
  in (b, c) }"""

JAX_EVERY = """\
let jaxpr = { lambda ; a:f32[1,3]. let
    b:f32[3] = squeeze[dimensions=(0,)] a
    c:f32[3] = psum[axes=('i',) axis_index_groups=None] b
    d:f32[3] = pmin[axes=('i',) axis_index_groups=None] b
    e:f32[3] = add c d
    f:f32[3] = psum[axes=('i',) axis_index_groups=None] b
    g:f32[3] = div f 2.0:f32[]
    h:f32[3] = add e g
    i:f32[2,3] = all_gather[
      all_gather_dimension=0
      axis_index_groups=None
      axis_name=('i',)
      axis_size=2
      tiled=False
    ] b
    j:f32[3] = reduce_scatter[
      axis_index_groups=((0, 1),)
      axis_name=('i',)
      axis_size=2
      scatter_dimension=0
      tiled=False
    ] i
    k:f32[3] = ppermute[axis_name=('i',) perm=((0, 1), (1, 0))] b
    l:f32[2,3] = all_to_all[
      axis_index_groups=None
      axis_name=i
      concat_axis=0
      split_axis=0
      tiled=False
    ] i
    m:f32[3] = add h j
    n:f32[3] = add m k
    o:f32[3] = reduce_sum[axes=(0,) out_sharding=None] l
    p:f32[3] = add n o
    q:f32[3] = add p 2.0:f32[]
    r:f32[1,3] = broadcast_in_dim[broadcast_dimensions=(1,)] q
  in (r,) } in
{ lambda ; s:f32[2,3]. let
    t:f32[2,3] = jit[
      name=_fun
      jaxpr={ lambda ; s:f32[2,3]. let
          t:f32[2,3] = shard_map[
            check_vma=False
            in_specs=(P('i',),)
            jaxpr=jaxpr
            mesh=Mesh('i': 2, axis_types=(Auto,))
            newly_manual_axes=frozenset({'i'})
            out_specs=(P('i',),)
          ] s
        in (t,) }
    ] s
  in (t,) }"""

"""Every primitive has every rule it needs.

The one list of primitives is the registry (``core.trace.primitives()``): every
``Primitive`` enters it when constructed. Each test below walks it against one rule
table; a primitive that deliberately lacks a rule is in ``EXEMPT``, with the reason.
Adding a primitive therefore needs no list edited here unless it lacks a rule.
"""

import importlib
import pkgutil

import numpy as np
import pytest

import functrace as ft
from functrace import lax
from functrace.backends import numba_cpu
from functrace.backends.numba_cpu import codegen as cpu_codegen
from functrace.compiler import scalar_expr
from functrace.core import trace
from functrace.core.trace import Primitive, abstract_eval_rules, impl_rules, primitives
from functrace.transforms import ad
from functrace.transforms.batching import axis_batching_rules, batching_rules

NONLINEAR = ("not linear in any input: its JVP scales the tangent with other primitives, so "
             "no linear program contains it")
USER_RULE = ("traces hand it to the user's rule (Primitive.bind_with_trace), so it has no "
             "table entry")

# rule -> {primitive name: why it deliberately has none}; the one table of exemptions
EXEMPT = {
    "jvp": {
        "custom_jvp_call": USER_RULE,
        "custom_vjp_call": USER_RULE,
        "zeta": "JAX defines no derivative for the Hurwitz zeta function",
        "igamma_grad_a": "JAX defines no derivative for it (its JVP raises)",
        "random_gamma_grad": "JAX builds it from while_loops, which reverse mode cannot "
                             "differentiate; functrace defines no derivative for it",
        "custom_lin": "the linear part of a custom_vjp: it is transposed (runs the user's "
                      "bwd), never differentiated; forward mode over it is JAX's documented "
                      "error",
        "schur": "JAX defines no derivative for the Schur decomposition (scipy.linalg)",
        "hessenberg": "JAX defines no derivative for the Hessenberg reduction "
                      "(scipy.linalg)",
    },
    "transpose": {
        **{name: NONLINEAR for name in (
            "abs", "cos", "erf", "exp", "expm1", "integer_pow", "log", "log1p", "logistic",
            "max", "min", "pow", "rem", "rsqrt", "sin", "sqrt", "tanh", "reduce_max",
            "reduce_min", "reduce_prod", "reduce_window_max", "reduce_window_min",
            "scatter-max", "scatter-min", "pmax", "pmin",
            "atan2", "cholesky", "eigh", "eig", "qr", "svd", "lu", "lgamma", "erfc", "digamma",
            "polygamma", "igamma", "igammac", "regularized_incomplete_beta", "bessel_i0e",
            "bessel_i1e", "erf_inv", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh",
            "acosh", "atanh", "cbrt", "exp2", "square", "clamp")},
        "custom_jvp_call": "JVP replaces it with the user's rule: no linear program "
                           "contains it",
        "custom_vjp_call": "JVP replaces it with custom_lin, which is transposed",
        "debug_callback": "has no results: no cotangent ever reaches it (its JVP runs it on "
                          "the primal values)",
        "pure_callback": "has no derivative, as in JAX: its JVP raises and asks for custom_jvp",
        "zeta": "has no derivative (as in JAX), so no linear program contains it",
        "igamma_grad_a": "has no derivative (as in JAX), so no linear program contains it",
        "random_gamma_grad": "has no derivative, so no linear program contains it",
        "schur": "has no derivative (as in JAX), so no linear program contains it",
        "hessenberg": "has no derivative (as in JAX), so no linear program contains it",
    },
}


def _zero_jvp(prim) -> bool:
    """Its outputs are not differentiable (``defjvp_zero``): no tangent reaches it."""
    rule = ad.jvp_rules.get(prim)
    return rule is not None and getattr(rule, "func", None) is ad._zero_jvp


def _lowered_on(backend: str):
    if backend == "cpu":
        return numba_cpu.has_lowering
    # importing the CUDA backend needs numba.cuda, not a GPU
    return pytest.importorskip("functrace.backends.numba_cuda").has_lowering


# rule -> whether a primitive has it
RULES = {
    "abstract_eval": lambda p: p in abstract_eval_rules,
    "impl": lambda p: p in impl_rules,
    "jvp": lambda p: p in ad.jvp_rules,
    "transpose": lambda p: p in ad.transpose_rules or _zero_jvp(p),
    "batching": lambda p: p in batching_rules or p in axis_batching_rules,
    "cpu lowering": lambda p: _lowered_on("cpu")(p),
    "cuda lowering": lambda p: _lowered_on("cuda")(p),
}


def test_registry_holds_every_primitive_once_functrace_is_imported():
    """Importing every module of functrace registers nothing new: the registry seen by
    these tests is complete, and the names are unique (the printer shows names)."""
    before = set(primitives())
    for info in pkgutil.walk_packages(ft.__path__, "functrace."):
        if ".numba_cuda" in info.name:
            continue  # needs numba.cuda; its primitives would be lax's anyway
        importlib.import_module(info.name)
    assert set(primitives()) == before
    names = [p.name for p in primitives()]
    assert len(names) > 100
    assert len(set(names)) == len(names), sorted(n for n in names if names.count(n) > 1)


def test_a_new_elementwise_primitive_needs_only_its_own_definition():
    """Registered on construction, and fused by its own scalar expression: no list in
    the compiler or the backends names it."""
    atan_p = Primitive("registry_probe_atan", elementwise=True, scalar="math.atan({0})")
    impl_rules[atan_p] = np.arctan
    abstract_eval_rules[atan_p] = lambda x: x
    try:
        assert primitives()[-1] is atan_p
        f = ft.jit(lambda x: atan_p.bind(x * 2.0) + 1.0)
        x = np.linspace(-3, 3, 64, dtype=np.float32)
        assert "fused mul, registry_probe_atan, add" in f.lower(x).as_text()
        np.testing.assert_allclose(f(x), np.arctan(2 * x) + 1, rtol=1e-6, atol=1e-6)
    finally:  # keep the probe out of the other tests
        del trace._registry[atan_p], impl_rules[atan_p], abstract_eval_rules[atan_p]
    assert atan_p not in primitives()


def test_exemptions_name_rules_that_are_checked():
    assert set(EXEMPT) <= set(RULES)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_every_primitive_has_the_rule_or_a_reason(rule):
    has, exempt = RULES[rule], EXEMPT.get(rule, {})
    prims = primitives()
    missing = sorted(p.name for p in prims if not has(p) and p.name not in exempt)
    assert not missing, f"primitives without a {rule} rule and no reason in EXEMPT: {missing}"
    names = {p.name: p for p in prims}
    unknown = sorted(set(exempt) - set(names))
    assert not unknown, f"EXEMPT[{rule!r}] names no primitive: {unknown}"
    stale = sorted(n for n in exempt if has(names[n]))
    assert not stale, f"EXEMPT[{rule!r}] lists primitives that have the rule: {stale}"


def test_elementwise_primitives_have_a_scalar_expression_on_every_backend():
    """What fusion puts in a loop, every loop generator can spell."""
    tables = {"cpu": cpu_codegen._FUNCTIONS}
    try:
        from functrace.backends.numba_cuda import codegen as cuda_codegen
    except ImportError:
        pass
    else:
        tables["cuda"] = cuda_codegen._FUNCTIONS
    fused = [p for p in primitives() if p.elementwise]
    assert len(fused) >= 40
    for backend, functions in tables.items():
        missing = [p.name for p in fused if not scalar_expr.spells(p, functions)]
        assert not missing, f"elementwise primitives the {backend} loops cannot spell: {missing}"
    absorbed = {p for p in primitives() if p.fusible_reduction}
    assert absorbed and absorbed <= set(cpu_codegen.ACCUMULATED)


def test_fusion_reads_the_metadata():
    """A primitive marked elementwise joins a fused loop; one that is not, does not."""
    f = ft.jit(lambda x: ft.lax.population_count(ft.lax.neg(x) + 1) + 2)
    text = f.lower(np.arange(64, dtype=np.int32)).as_text()
    assert "fused neg, add" in text and "fused population_count" not in text
    assert not ft.lax.population_count_p.elementwise and ft.lax.neg_p.elementwise
    np.testing.assert_array_equal(
        f(np.arange(64, dtype=np.int32)),
        np.array([bin(v & 0xFFFFFFFF).count("1") for v in (1 - np.arange(64))]) + 2)


def test_a_later_reduction_joins_the_loop_that_computes_its_operand():
    # per-example clipping: every gradient is divided, then each is summed over the batch;
    # each sum is pulled into its division's loop, and the broadcast divisor that starts
    # the loop is a strided load there, not a materialised array
    def clip_and_sum(g1, g2, s):
        a = g1 / lax.broadcast_in_dim(s, g1.shape, (0,))
        b = g2 / lax.broadcast_in_dim(s, g2.shape, (0,))
        return lax.reduce_sum(a, (0,)), lax.reduce_sum(b, (0,)), b

    rng = np.random.default_rng(0)
    g1 = rng.standard_normal((16, 8, 4)).astype(np.float32)
    g2 = rng.standard_normal((16, 6)).astype(np.float32)
    s = rng.uniform(1, 2, 16).astype(np.float32)
    f = ft.jit(clip_and_sum)
    text = f.lower(g1, g2, s).as_text()
    plan = text[text.index("# plan"):]
    assert plan.count("fused broadcast_in_dim, div, reduce_sum") == 2, plan
    assert "kernel broadcast_in_dim" not in plan and "kernel reduce_sum" not in plan
    got = f(g1, g2, s)
    want = ((g1 / s[:, None, None]).sum(0), (g2 / s[:, None]).sum(0), g2 / s[:, None])
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

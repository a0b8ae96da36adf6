"""The lesson's backprop example, written with Python operators, as in the README."""

import subprocess
import sys
from pathlib import Path

import numpy as np

import functrace as ft

ROOT = Path(__file__).resolve().parents[1]


def f(x, y, z):
    q = x + y
    return q * z


def test_operator_version_prints_exactly_jax_text():
    assert str(ft.make_jaxpr(f)(-2.0, 5.0, -4.0)) == (
        "{ lambda ; a:f32[] b:f32[] c:f32[]. let\n"
        "    d:f32[] = add a b\n"
        "    e:f32[] = mul d c\n"
        "  in (e,) }")


def test_lesson_gradient():
    g = ft.grad(f, argnums=(0, 1, 2))(-2.0, 5.0, -4.0)
    assert [float(v) for v in g] == [-4.0, -4.0, 3.0]
    assert {v.dtype for v in g} == {np.dtype(np.float32)}


def test_backward_equations_follow_forward_ones():
    text = str(ft.make_jaxpr(ft.grad(f, argnums=(0, 1, 2)))(-2.0, 5.0, -4.0))
    lines = [ln.strip() for ln in text.splitlines()[1:-1]]
    # JAX 0.10 prints the forward product, unused by the gradient, with the name "_"
    assert lines[0] == "d:f32[] = add a b" and lines[1] == "_:f32[] = mul d c"
    assert len(lines) == 4 and all(" = mul " in ln for ln in lines[2:])
    assert text.endswith("in (f, f, e) }")  # as JAX 0.10 prints it


def test_backprop_example_runs():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "backprop.py")],
                         capture_output=True, text=True, check=True).stdout
    assert "(-4.0, -4.0, 3.0)" in out

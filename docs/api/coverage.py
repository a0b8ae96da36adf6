"""Coverage of JAX's public names by functrace, per module.

``jax_public_names.json`` (beside this file) lists the public names of ``jax.numpy``,
``jax.numpy.linalg``, ``jax.numpy.fft``, ``jax.lax``, ``jax.lax.linalg``, ``jax.nn`` and
``jax.scipy``'s ``linalg``, ``signal``, ``ndimage`` and ``integrate`` in JAX 0.10.2 (JAX is
not a dependency: the list is data), and the names that only make sense on XLA (out of
scope). ``python docs/api/coverage.py`` prints the README's table;
``tests/test_api_coverage.py`` checks that the README shows the current numbers.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

NAMES = Path(__file__).with_name("jax_public_names.json")

MODULES = {  # JAX module -> functrace module
    "jax.numpy": "functrace.numpy",
    "jax.numpy.linalg": "functrace.numpy.linalg",
    "jax.numpy.fft": "functrace.numpy.fft",
    "jax.lax": "functrace.lax",
    "jax.lax.linalg": "functrace.lax.linalg",
    "jax.nn": "functrace.nn",
    "jax.scipy.linalg": "functrace.scipy.linalg",
    "jax.scipy.signal": "functrace.scipy.signal",
    "jax.scipy.ndimage": "functrace.scipy.ndimage",
    "jax.scipy.integrate": "functrace.scipy.integrate",
}


def coverage() -> dict[str, dict]:
    """Per JAX module: ``total``, ``out_of_scope``, ``covered`` (in scope), ``missing``."""
    data = json.loads(NAMES.read_text())
    out = {}
    for jax_mod, names in data["modules"].items():
        mod = importlib.import_module(MODULES[jax_mod])
        skip = set(data.get("out_of_scope", {}).get(jax_mod, {}).get("names", ()))
        in_scope = [n for n in names if n not in skip]
        covered = [n for n in in_scope if hasattr(mod, n)]
        out[jax_mod] = {
            "functrace": MODULES[jax_mod], "total": len(names), "out_of_scope": len(skip),
            "covered": len(covered), "in_scope": len(in_scope),
            "missing": sorted(set(in_scope) - set(covered)),
        }
    return out


def table() -> str:
    """The markdown table of the README's API section."""
    rows = ["| JAX module | functrace | names covered | share |", "| --- | --- | --- | --- |"]
    for jax_mod, c in coverage().items():
        share = c["covered"] / c["in_scope"] if c["in_scope"] else 1.0
        note = f" (of {c['in_scope']} in scope; {c['out_of_scope']} XLA-only left out)" \
            if c["out_of_scope"] else f" (of {c['in_scope']})"
        rows.append(f"| `{jax_mod}` | `{c['functrace']}` | {c['covered']}{note} | "
                    f"{share:.0%} |")
    return "\n".join(rows)


if __name__ == "__main__":
    print(table())
    for jax_mod, c in coverage().items():
        print(f"\n{jax_mod} missing ({len(c['missing'])}): {' '.join(c['missing'])}")

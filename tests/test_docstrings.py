"""Every docstring example of the public API runs and prints what it says."""

import doctest
import importlib
import pkgutil

import numpy as np
import pytest

import functrace

MODULES = sorted(m.name for m in pkgutil.walk_packages(functrace.__path__, "functrace.")
                 if ".numba_cuda" not in m.name)  # CUDA is tested by test_cuda.py


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    finder, runner = doctest.DocTestFinder(exclude_empty=True), doctest.DocTestRunner(
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    with np.printoptions(legacy=False):
        for test in finder.find(module, name, globs=dict(module.__dict__)):
            runner.run(test)
    failed, attempted = runner.summarize(verbose=False)
    assert failed == 0, f"{failed} of {attempted} docstring examples of {name} failed"


def test_the_public_api_has_examples():
    """A floor, so that examples are not dropped unnoticed."""
    finder = doctest.DocTestFinder(exclude_empty=True)
    count = sum(len(t.examples) for name in MODULES
                for t in finder.find(importlib.import_module(name), name))
    assert count >= 250, count

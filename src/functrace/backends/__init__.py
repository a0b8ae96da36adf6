"""Backends: each registers its lowering of the jaxpr plan with ``functrace.compiler``."""

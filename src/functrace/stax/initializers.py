"""The initializers stax layers take: ``functrace.nn.initializers``, re-exported here
(``jax.example_libraries.stax`` takes them from ``jax.nn.initializers`` too)."""

from ..nn.initializers import *  # noqa: F403
from ..nn.initializers import __all__  # noqa: F401

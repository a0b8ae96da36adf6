"""``functrace.jacobians``, kept as an import path: the jacobians live in
``functrace.transforms.jacobians`` beside the other transformations."""

from .transforms.jacobians import hessian, jacfwd, jacrev

__all__ = ["hessian", "jacfwd", "jacrev"]

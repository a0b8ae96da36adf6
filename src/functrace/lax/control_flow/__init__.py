"""Structured control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``,
``map``; and the implicitly differentiated solvers ``custom_linear_solve`` and
``custom_root``. Each is a primitive holding jaxprs, with every rule written by transforming
those jaxprs (``functrace.transforms.higher_order``)."""

from .conditionals import cond, cond_p, switch
from .loops import fori_loop, map, while_loop, while_p  # noqa: A004
from .scan import scan, scan_p
from .solvers import custom_linear_solve, custom_linear_solve_p, custom_root

__all__ = ["cond", "cond_p", "custom_linear_solve", "custom_linear_solve_p", "custom_root",
           "fori_loop", "map", "scan", "scan_p", "switch", "while_loop",
           "while_p"]

"""Structured control flow: ``cond``, ``switch``, ``while_loop``, ``fori_loop``, ``scan``,
``map``. Each is a primitive holding jaxprs, with every rule written by transforming
those jaxprs (``functrace.transforms.higher_order``)."""

from .conditionals import cond, cond_p, switch
from .loops import fori_loop, map, while_loop, while_p  # noqa: A004
from .scan import scan, scan_p

__all__ = ["cond", "cond_p", "fori_loop", "map", "scan", "scan_p", "switch", "while_loop",
           "while_p"]

"""Code that works and is tested but is off the default path, kept as the base of a
faster version: ``functrace.experimental.winograd`` (Winograd F(2x2, 3x3) convolutions
on the CPU, ``winograd.enable()`` to use them). Why each piece is kept, and what it
measured: docs/performance.md.
"""

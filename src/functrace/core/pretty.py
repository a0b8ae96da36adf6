"""A small width-aware pretty printer (Wadler/Lindig style) for jaxprs.

A document is built from ``text``, ``brk`` (a space, or another separator, that
becomes a newline when its group does not fit), ``nest`` (indentation for the
newlines inside) and ``group`` (a unit laid out flat if it fits in the width,
else with every break of its own level turned into a newline). The jaxpr printer
in ``core.jaxpr`` uses it to lay programs out the way JAX does: one line when the
whole program fits in 80 columns, one equation per line otherwise, and long
parameter lists one per line.

Example:
    >>> from functrace.core.pretty import brk, concat, group, nest, text, layout
    >>> doc = group(nest(2, concat([text("f("), brk(""), text("x,"), brk(), text("y)")])))
    >>> layout(doc, 80)
    'f(x, y)'
    >>> print(layout(doc, 4))
    f(
      x,
      y)
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Text:
    s: str


@dataclass(frozen=True)
class Brk:
    s: str = " "


@dataclass(frozen=True)
class Concat:
    parts: tuple


@dataclass(frozen=True)
class Nest:
    n: int
    doc: object


@dataclass(frozen=True)
class Group:
    doc: object


def text(s: str) -> Text:
    return Text(s)


def brk(s: str = " ") -> Brk:
    return Brk(s)


def concat(parts) -> Concat:
    return Concat(tuple(parts))


def nest(n: int, doc) -> Nest:
    return Nest(n, doc)


def group(doc) -> Group:
    return Group(doc)


def join(sep, docs) -> Concat:
    out: list = []
    for i, d in enumerate(docs):
        if i:
            out.append(sep)
        out.append(d)
    return Concat(tuple(out))


def _flat_width(doc, limit: int) -> int:
    """The width of ``doc`` laid out flat, or ``limit + 1`` as soon as it exceeds ``limit``."""
    total, stack = 0, [doc]
    while stack:
        d = stack.pop()
        if isinstance(d, Text):
            if "\n" in d.s:
                return limit + 1
            total += len(d.s)
        elif isinstance(d, Brk):
            total += len(d.s)
        elif isinstance(d, Concat):
            stack.extend(reversed(d.parts))
        else:  # Nest, Group
            stack.append(d.doc)
        if total > limit:
            return limit + 1
    return total


def layout(doc, width: int = 80) -> str:
    """Renders ``doc``: each group flat if its flat form fits in what is left of the line."""
    out: list[str] = []
    col = 0
    stack = [(0, False, doc)]  # (indent, broken, doc)
    while stack:
        indent, broken, d = stack.pop()
        if isinstance(d, Text):
            out.append(d.s)
            col += len(d.s)
        elif isinstance(d, Brk):
            if broken:
                out.append("\n" + " " * indent)
                col = indent
            else:
                out.append(d.s)
                col += len(d.s)
        elif isinstance(d, Concat):
            stack.extend((indent, broken, p) for p in reversed(d.parts))
        elif isinstance(d, Nest):
            stack.append((indent + d.n, broken, d.doc))
        else:
            fits = _flat_width(d.doc, width - col) <= width - col
            stack.append((indent, not fits, d.doc))
    return "".join(out)

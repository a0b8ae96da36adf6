"""Window geometry shared by convolution, pooling and padding.

One axis at a time, XLA's picture is the same for ``conv_general_dilated``,
``reduce_window`` and ``pad``: the operand is dilated (``d - 1`` holes between
neighbours), then padded by ``(lo, hi)`` (negative values crop), and a window,
itself dilated, slides over the result with a stride. This module holds that
arithmetic once: dilated sizes, output sizes, the resolution of padding names
(``'SAME'``...) into pairs, the placement of an operand inside its padded frame,
and the int-tuple check of the geometry arguments.
"""

from __future__ import annotations

import operator

import numpy as np

from ..errors import ShapeError

__all__ = ["padtype_to_pads"]

PADDINGS = ("VALID", "SAME", "SAME_LOWER")


def int_tuple(xs, op: str, what: str, count: int | None = None,
              per: str = "axis") -> tuple[int, ...]:
    """``xs`` as a tuple of ints (``operator.index``: 2.5 or "2" is a mistake, not 2);
    with ``count``, also checks that there is one entry per ``per``."""
    want = "ints" if count is None else f"{count} ints (one per {per})"
    try:
        out = tuple(operator.index(x) for x in xs)
    except TypeError:
        raise ShapeError(f"{op}: {what} must be a sequence of {want}, got {xs!r}") from None
    if count is not None and len(out) != count:
        raise ShapeError(f"{op}: {what} {out} has {len(out)} entries but the operands have "
                         f"{count} {per}s; give one per {per}.")
    return out


def dilate_dim(d: int, rate: int) -> int:
    """The size of a dim of ``d`` elements after inserting ``rate - 1`` holes between them."""
    return 0 if d == 0 else 1 + rate * (d - 1)


def out_sizes(in_sizes, window, strides, padding, base_dilation,
              window_dilation) -> tuple[int, ...]:
    """Output sizes of a window sliding over the dilated, padded input (0 where the
    window fits nowhere)."""
    return tuple(
        max(0, (dilate_dim(n, b) + lo + hi - dilate_dim(k, d)) // s + 1)
        for n, k, s, (lo, hi), b, d in zip(in_sizes, window, strides, padding, base_dilation,
                                           window_dilation, strict=True))


def padtype_to_pads(in_shape, window_shape, window_strides, padding, *,
                    op: str = "padtype_to_pads", per: str = "spatial dim") -> tuple:
    """Explicit ``(lo, hi)`` pairs for a padding name (``jax.lax.padtype_to_pads``).

    ``'SAME'`` pads so that ``out = ceil(in / stride)``, the odd element going high;
    ``'SAME_LOWER'`` puts it low; ``'VALID'`` does not pad. ``op`` and ``per`` only
    word the error for a name that is none of these.

    Example:
        >>> padtype_to_pads((6,), (3,), (2,), 'SAME')
        ((0, 1),)
    """
    name = padding.upper()
    if name not in PADDINGS:
        raise ShapeError(f"{op}: unknown padding {padding!r}; use 'VALID', 'SAME', "
                         f"'SAME_LOWER' or a sequence of (low, high) pairs, one per {per}.")
    if name == "VALID":
        return ((0, 0),) * len(in_shape)
    pads = []
    for d, k, s in zip(in_shape, window_shape, window_strides, strict=True):
        total = max((-(-d // s) - 1) * s + k - d, 0)
        half = total // 2
        pads.append((half, total - half) if name == "SAME" else (total - half, half))
    return tuple(pads)


def pad_frame(shape, padding, dilation):
    """Where an operand and its dilated, padded form sit in an array that holds both.

    Negative padding crops, so the frame pads by ``max(pad, 0)`` only. Returns the
    frame's shape, ``place`` (the basic index of the operand's elements in the frame)
    and ``crop`` (the index of the padded form in the frame).
    """
    shape_, place, crop = [], [], []
    for n, (lo, hi), d in zip(shape, padding, dilation, strict=True):
        lo_pos = max(lo, 0)
        size = lo_pos + dilate_dim(n, d) + max(hi, 0)
        shape_.append(size)
        place.append(slice(lo_pos, lo_pos + dilate_dim(n, d), d))
        crop.append(slice(max(-lo, 0), size - max(-hi, 0)))
    return tuple(shape_), tuple(place), tuple(crop)


def dilate_and_pad(x: np.ndarray, fill, padding, dilation) -> np.ndarray:
    """``x`` dilated, then padded, holes and padding holding ``fill`` (a new array)."""
    frame_shape, place, crop = pad_frame(x.shape, padding, dilation)
    out = np.full(frame_shape, fill, x.dtype)
    out[place] = x
    return out[crop]


def undilate_and_unpad(y: np.ndarray, shape, padding, dilation) -> np.ndarray:
    """The adjoint of ``dilate_and_pad`` for an operand of ``shape``: reads each element
    back from where it landed; elements that negative padding cropped away get zero."""
    frame_shape, place, crop = pad_frame(shape, padding, dilation)
    out = np.zeros(frame_shape, y.dtype)
    out[crop] = y
    return out[place].copy()

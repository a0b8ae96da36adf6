"""Checkpoints of parameters and optimizer state (a functrace extension; JAX's
``example_libraries`` has none): one ``.npz`` file holding the arrays and a JSON
description of the trees, written atomically, read without pickle, and checked
against the structure the caller expects."""

from __future__ import annotations

import contextlib
import json
import operator
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from ..errors import FunctraceError
from ._core import (
    JoinPoint,
    OptimizerError,
    OptimizerState,
    pack_optimizer_state,
    unpack_optimizer_state,
)

__all__ = ["CheckpointError", "save_checkpoint", "load_checkpoint"]


class CheckpointError(FunctraceError):
    """A checkpoint could not be written, or a file is not a valid checkpoint."""


_DESCRIPTION = "functrace_checkpoint"  # the npz member holding the JSON description
_FORMAT, _VERSION = "functrace.checkpoint", 1
_PY_SCALARS = {"bool": bool, "int": int, "float": float, "complex": complex}


def _encode(x: Any, path: str, arrays: dict[str, np.ndarray]) -> dict:
    """JSON description of the tree ``x``; its array leaves go into ``arrays``."""
    t = type(x)
    if x is None:
        return {"type": "none"}
    if isinstance(x, OptimizerState):
        return {"type": "OptimizerState",
                "children": [_encode(unpack_optimizer_state(x), path, arrays)]}
    if t is JoinPoint:
        return {"type": "JoinPoint", "children": [_encode(x.subtree, path + ".subtree", arrays)]}
    if t in (tuple, list):
        return {"type": t.__name__,
                "children": [_encode(c, f"{path}[{k}]", arrays) for k, c in enumerate(x)]}
    if t is dict:
        bad = [k for k in x if type(k) is not str]
        if bad:
            raise CheckpointError(f"{path} has the key {bad[0]!r}: checkpoint dicts need str "
                                  "keys")
        return {"type": "dict", "keys": list(x),
                "children": [_encode(v, f"{path}[{k!r}]", arrays) for k, v in x.items()]}
    if isinstance(x, tuple | dict | list):
        raise CheckpointError(f"{path} is a {t.__name__}: checkpoints hold tuples, lists, "
                              "dicts, None and OptimizerState; convert it to one of those")
    return _encode_leaf(x, path, arrays)


def _encode_leaf(x: Any, path: str, arrays: dict[str, np.ndarray]) -> dict:
    try:
        arr = np.asarray(x)
    except Exception as e:  # e.g. a tracer: report which leaf, whatever the reason
        raise CheckpointError(f"{path} ({type(x).__name__}) cannot be converted to a NumPy "
                              f"array: {e}") from e
    if arr.dtype.kind not in "biufc":
        raise CheckpointError(f"{path} is a {type(x).__name__} of dtype {arr.dtype}; only "
                              "boolean and numeric arrays and scalars can be saved")
    name = f"leaf_{len(arrays)}"
    arrays[name] = arr
    python = type(x).__name__ if type(x) in (bool, int, float, complex) else None
    return {"type": "leaf", "name": name, "python": python}


def _decode(spec: Any, arrays: dict[str, np.ndarray], path: str) -> Any:
    kind = spec["type"]
    if kind == "none":
        return None
    children = [_decode(c, arrays, f"{path}[{k}]") for k, c in enumerate(spec.get("children", ()))]
    if kind == "OptimizerState":
        return pack_optimizer_state(children[0])
    if kind == "JoinPoint":
        return JoinPoint(children[0])
    if kind == "tuple":
        return tuple(children)
    if kind == "list":
        return children
    if kind == "dict":
        return dict(zip(spec["keys"], children, strict=True))
    if kind == "leaf":
        if spec["name"] not in arrays:
            raise CheckpointError(f"the description names the array {spec['name']!r} at {path}, "
                                  "which the file does not contain")
        arr = arrays[spec["name"]]
        return _PY_SCALARS[spec["python"]](arr[()]) if spec["python"] else arr
    raise CheckpointError(f"unknown node type {kind!r} at {path}")


def _fspath(path, who: str) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise CheckpointError(f"{who}: path must be a str or os.PathLike file name, got "
                              f"{type(path).__name__} ({path!r:.60})") from None


def save_checkpoint(path: str | os.PathLike, params: Any = None, opt_state: Any = None,
                    step: int | None = None) -> None:
    """Write ``params``, ``opt_state`` and ``step`` to the ``.npz`` file ``path``.

    functrace extension. The file holds each array leaf plus a JSON description of the
    trees (tuples, lists, dicts with str keys, None, ``OptimizerState``); it loads without
    pickle. It is written to a temporary file in the same directory and renamed over
    ``path``, so a failed save leaves any existing ``path`` untouched. ``path`` is used as
    given (no ``.npz`` is appended).

    Raises:
        CheckpointError: a tree holds something that cannot be saved, or writing failed.

    Example:
        >>> import os, tempfile
        >>> from functrace.optimizers import adam
        >>> init, update, get = adam(1e-3)
        >>> f = os.path.join(tempfile.mkdtemp(), "ckpt.npz")
        >>> save_checkpoint(f, params={"w": 1.0}, opt_state=init({"w": 1.0}), step=7)
        >>> ckpt = load_checkpoint(f)
        >>> ckpt["step"], get(ckpt["opt_state"])
        (7, {'w': 1.0})
    """
    path = _fspath(path, "save_checkpoint")
    arrays: dict[str, np.ndarray] = {}
    try:
        if step is not None:
            step = operator.index(step)
    except TypeError as e:
        raise CheckpointError(f"save_checkpoint({path!r}): step must be an integer or None, "
                              f"got {type(step).__name__}") from e
    try:
        description = {"format": _FORMAT, "version": _VERSION, "step": step,
                       "params": _encode(params, "params", arrays),
                       "opt_state": _encode(opt_state, "opt_state", arrays)}
    except CheckpointError as e:
        raise CheckpointError(f"save_checkpoint({path!r}): {e}; nothing was written") from e
    arrays[_DESCRIPTION] = np.array(json.dumps(description))
    _atomic_savez(path, arrays)


def _atomic_savez(path: str, arrays: dict[str, np.ndarray]) -> None:
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp",
                                   dir=directory)
    except OSError as e:
        raise CheckpointError(f"save_checkpoint({path!r}): cannot create a file in "
                              f"{directory!r}: {e}") from e
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        # mkstemp makes the file owner-only; keep the old file's mode, else rw-r--r--
        mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(e, Exception):
            raise CheckpointError(f"save_checkpoint({path!r}) failed, the existing file (if "
                                  f"any) is untouched: {type(e).__name__}: {e}") from e
        raise


def _read_npz(path: str) -> dict[str, np.ndarray]:
    try:
        # Open the file here: np.load leaks its own handle when the zip is corrupt.
        with open(path, "rb") as f:
            loaded = np.load(f, allow_pickle=False)
            if not isinstance(loaded, np.lib.npyio.NpzFile):
                raise CheckpointError(f"load_checkpoint({path!r}): the file is a single .npy "
                                      "array, not a checkpoint written by save_checkpoint")
            with loaded as npz:
                return {name: npz[name] for name in npz.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as e:
        raise CheckpointError(
            f"load_checkpoint({path!r}): the file is not a readable .npz archive (corrupt or "
            f"truncated?): {type(e).__name__}: {e}") from e


def load_checkpoint(path: str | os.PathLike, like: tuple[Any, Any] | None = None) -> dict:
    """Read a file written by ``save_checkpoint``.

    functrace extension.

    Args:
        path: the checkpoint file.
        like: optional ``(params, opt_state)`` template; the stored trees must have the same
            structure and leaf shapes and dtypes (templates' leaves may be arrays, scalars
            or anything with ``.shape`` and ``.dtype``).

    Returns:
        ``dict(params=..., opt_state=..., step=...)``; ``opt_state`` is an
        ``OptimizerState`` if one was saved.

    Raises:
        CheckpointError: the file is missing, corrupt, truncated or has no description, or
            it does not match ``like`` (the message names the first difference).
    """
    path = _fspath(path, "load_checkpoint")
    arrays = _read_npz(path)
    raw = arrays.pop(_DESCRIPTION, None)
    if raw is None or raw.dtype.kind != "U" or raw.ndim != 0:
        raise CheckpointError(f"load_checkpoint({path!r}): the .npz file has no functrace "
                              f"description ({_DESCRIPTION!r}); it was not written by "
                              "save_checkpoint")
    try:
        description = json.loads(str(raw[()]))
        if description.get("format") != _FORMAT or description.get("version") != _VERSION:
            raise CheckpointError(f"unsupported format {description.get('format')!r} version "
                                  f"{description.get('version')!r}")
        out = {key: _decode(description[key], arrays, key) for key in ("params", "opt_state")}
        out["step"] = description["step"]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError, CheckpointError,
            OptimizerError) as e:
        raise CheckpointError(f"load_checkpoint({path!r}): malformed description: "
                              f"{type(e).__name__}: {e}") from e
    if like is not None:
        if not isinstance(like, tuple | list) or len(like) != 2:
            raise CheckpointError(f"load_checkpoint({path!r}): like must be a pair "
                                  f"(params, opt_state), got {type(like).__name__}")
        problem = (_mismatch(out["params"], like[0], "params")
                   or _mismatch(out["opt_state"], like[1], "opt_state"))
        if problem:
            raise CheckpointError(f"load_checkpoint({path!r}) does not match `like`: {problem}")
    return out


def _mismatch(value: Any, template: Any, path: str) -> str | None:
    """The first difference between a loaded tree and a template, or None."""
    def kind(x):
        return "None" if x is None else type(x).__name__

    if isinstance(template, OptimizerState):
        if not isinstance(value, OptimizerState):
            return f"{path} is a {kind(value)} in the file, an OptimizerState in `like`"
        return _mismatch(unpack_optimizer_state(value), unpack_optimizer_state(template), path)
    t = type(template)
    if template is None:
        return None if value is None else f"{path} is a {kind(value)} in the file, None in `like`"
    if t in (JoinPoint, tuple, list, dict):
        if type(value) is not t:
            return f"{path} is a {kind(value)} in the file, a {kind(template)} in `like`"
        if t is JoinPoint:
            return _mismatch(value.subtree, template.subtree, path + ".subtree")
        if t is dict:
            if set(value) != set(template):
                return (f"{path} has keys {sorted(value)} in the file, {sorted(template)} in "
                        "`like`")
            pairs = [(f"{path}[{k!r}]", value[k], template[k]) for k in template]
        else:
            if len(value) != len(template):
                return (f"{path} has {len(value)} elements in the file, {len(template)} in "
                        "`like`")
            pairs = [(f"{path}[{k}]", v, s) for k, (v, s) in
                     enumerate(zip(value, template, strict=True))]
        return next((m for p, v, s in pairs if (m := _mismatch(v, s, p))), None)
    if value is None or type(value) in (JoinPoint, tuple, list, dict, OptimizerState):
        return f"{path} is a {kind(value)} in the file, a leaf ({kind(template)}) in `like`"
    shape = tuple(template.shape) if hasattr(template, "shape") else np.shape(template)
    dtype = np.dtype(template.dtype) if hasattr(template, "dtype") else np.asarray(template).dtype
    if np.shape(value) != shape:
        return f"{path} has shape {np.shape(value)} in the file, {shape} in `like`"
    if np.asarray(value).dtype != dtype:
        return f"{path} has dtype {np.asarray(value).dtype} in the file, {dtype} in `like`"
    return None

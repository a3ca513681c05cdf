"""Reading checkpoint files as data, never as code.

A ``.pth`` file is a pickle: unpickled in full, it can run any code its author chose. Every checkpoint
this project reads (its own epochs, a colleague's bundle members, published initial weights, the SR
generator, even this machine's own resume state) goes through :func:`load`: torch's ``weights_only``
unpickler, which builds tensors and plain containers only, plus the few named types that real
checkpoints carry in their ``meta`` (:data:`ALLOWED`). A file that names any other type is refused
before anything in it runs, with one line naming the file and the type (:class:`CheckpointError`).
"""

from __future__ import annotations

import inspect
import os
import pickle
import re
from pathlib import Path

import numpy as np

from tinyactions.core.untrusted import GIB, UntrustedFileError, open_regular


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read as data: it names a type outside the allowlist, or it is
    not a checkpoint at all. The message is one line naming the file."""


def _numpy_types() -> list:
    """What pickled numpy values name: arrays, scalars (``np.float64(0.5)`` in a logged metric), dtypes
    and their per-kind dtype classes. numpy 2 moved ``numpy.core`` to ``numpy._core``; a file written
    under either names its own spelling, so both are allowed."""
    core = np.core.multiarray if hasattr(np, "core") else np._core.multiarray  # noqa: NPY201
    functions = [core.scalar, core._reconstruct]
    named = []
    for function in functions:
        for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
            named.append((function, f"{module}.{function.__name__}"))
    dtype_classes = sorted({type(np.dtype(code)) for code in np.typecodes["All"]}, key=lambda t: t.__name__)
    return [*named, np.ndarray, np.dtype, *dtype_classes]


def _mmengine_types() -> list:
    """mmengine writes its ``MessageHub`` (``HistoryBuffer`` of logged scalars) and config dicts into
    checkpoints: resume state and every published mmaction2/mmagic checkpoint of the mmengine era. A
    HistoryBuffer pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``; a free
    ``getattr`` reaches any attribute of anything (and through them, code), so the name ``getattr``
    stands here for a function that returns those methods and nothing else."""
    from mmengine.config.config import ConfigDict
    from mmengine.logging.history_buffer import HistoryBuffer

    def statistics_method(owner, name):
        method = getattr(HistoryBuffer, name, None) if owner is HistoryBuffer and isinstance(name, str) else None
        if method is None or name.startswith("_") or not inspect.isfunction(method):
            raise pickle.UnpicklingError(
                f"Unsupported global: GLOBAL getattr({_named(owner)}, {name!r}) was not an allowed global"
            )
        return method

    getattr_names = [(statistics_method, f"{module}.getattr") for module in ("builtins", "__builtin__")]
    return [HistoryBuffer, ConfigDict, *getattr_names]


def _named(thing) -> str:
    kind = thing if isinstance(thing, type) else type(thing)
    return f"{kind.__module__}.{kind.__qualname__}"


_allowed: list | None = None


def allowed() -> list:
    """The types a checkpoint may name besides torch's own (built once: importing mmengine is slow)."""
    global _allowed
    if _allowed is None:
        _allowed = [*_numpy_types(), *_mmengine_types()]
    return _allowed


# what torch's weights_only unpickler says of a global outside the allowlist (its own, or a blocked module's)
_GLOBAL = re.compile(r"GLOBAL (.+?) (?:was not an allowed global|whose module)|Unsupported class (\S+)")


# the largest checkpoint the pipeline reads: a UniFormer-B epoch with its optimizer state is about 1.2 GB
CHECKPOINT_MAX_BYTES = 8 * GIB


def load(path: str | os.PathLike, map_location="cpu", mmap: bool = False) -> dict:
    """The content of a checkpoint file, read as data: a regular file of at most CHECKPOINT_MAX_BYTES,
    opened once. Raises FileNotFoundError for a missing file and :class:`CheckpointError` for any other
    file, one that names a type outside :func:`allowed` (nothing of it runs) or that is no checkpoint."""
    path = Path(path)
    try:
        fd = open_regular(path, CHECKPOINT_MAX_BYTES)
    except FileNotFoundError:
        raise FileNotFoundError(f"checkpoint {path} does not exist") from None
    except UntrustedFileError as e:
        raise CheckpointError(str(e)) from None
    import torch

    try:
        with os.fdopen(fd, "rb") as f, torch.serialization.safe_globals(allowed()):
            # mmap maps a file by name (this process's own resume state); else the opened file is read
            source = path if mmap else f
            content = torch.load(source, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        found = _GLOBAL.search(str(e))
        if found:
            held = next(g for g in found.groups() if g).rstrip(".,")
            raise CheckpointError(
                f"{path}: refused: it holds {held}, which is not tensors or plain data "
                "(a checkpoint is read as data, never run)"
            ) from None
        raise CheckpointError(f"{path}: not a checkpoint ({_first_line(e)})") from None
    except Exception as e:  # noqa: BLE001 - allowed constructors fed bad arguments, memory, a cut file...
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(e).__name__}: {_first_line(e)})") from None
    held = _object_dtype(content)
    if held:
        raise CheckpointError(
            f"{path}: refused: it holds {held} of Python objects, which is not tensors or plain data (a "
            "checkpoint is read as data, never run)"
        )
    return content


def load_weights(model, state: dict, path: str | os.PathLike) -> None:
    """``state`` into ``model``; weights of another network (keys missing or unknown, shapes that differ)
    are a CheckpointError of one line naming the file."""
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unknown = sorted(set(state) - set(expected))
    if missing or unknown:
        parts = [
            f"{len(keys)} {what} (first {keys[0]})"
            for what, keys in (("missing", missing), ("unknown", unknown))
            if keys
        ]
        raise CheckpointError(f"{path}: not this network's weights: {', '.join(parts)}")
    for key, value in state.items():
        if not hasattr(value, "shape") or tuple(value.shape) != tuple(expected[key].shape):
            shape = tuple(value.shape) if hasattr(value, "shape") else type(value).__name__
            raise CheckpointError(
                f"{path}: not this network's weights: {key} is {shape}, the network's {tuple(expected[key].shape)}"
            )
    model.load_state_dict(state)


def _object_dtype(content) -> str | None:
    """``"a numpy array"`` (or scalar, or dtype) whose dtype has a Python-object field anywhere in
    ``content``, else None. The allowlist lets a file build numpy dtypes and set their state: an object
    field whose reference flags were cleared would be filled with raw bytes from the file that numpy then
    follows as pointers. Only dtypes are inspected, never the data; iteratively (any nesting depth),
    through a dtype's ``metadata`` and sub-dtypes and a tensor's attributes too, where a file can hide one."""
    stack, seen = [content], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, np.dtype):
            if _holds_objects(node):
                return "a numpy dtype"
            stack += list((node.metadata or {}).values())
            stack += [field[0] for field in (node.fields or {}).values()]
            if node.subdtype is not None:
                stack.append(node.subdtype[0])
        elif isinstance(node, (np.ndarray, np.generic)):
            if _holds_objects(node.dtype):
                return f"a numpy {'array' if isinstance(node, np.ndarray) else 'scalar'}"
            stack.append(node.dtype)
        elif isinstance(node, dict):
            stack += [*node.keys(), *node.values()]
        elif isinstance(node, (list, tuple, set, frozenset)):
            stack += list(node)
        elif hasattr(node, "__dict__"):  # an object's, or a tensor's own attributes
            stack += list(vars(node).values())
    return None


def _holds_objects(dtype: np.dtype) -> bool:
    if dtype.kind == "O":
        return True
    if dtype.subdtype is not None and _holds_objects(dtype.subdtype[0]):
        return True
    return any(_holds_objects(field[0]) for field in (dtype.fields or {}).values())


def _is_tensor(node) -> bool:
    import torch

    return isinstance(node, torch.Tensor)


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

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


def load(path: str | os.PathLike, map_location="cpu", mmap: bool = False) -> dict:
    """The content of a checkpoint file, read as data. Raises FileNotFoundError for a missing file and
    :class:`CheckpointError` for a file that names a type outside :func:`allowed` (nothing of it
    runs) or is no checkpoint."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    import torch

    try:
        with torch.serialization.safe_globals(allowed()):
            return torch.load(path, map_location=map_location, weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as e:
        found = _GLOBAL.search(str(e))
        if found:
            held = next(g for g in found.groups() if g).rstrip(".,")
            raise CheckpointError(
                f"{path}: refused: it holds {held}, which is not tensors or plain data "
                "(a checkpoint is read as data, never run)"
            ) from None
        raise CheckpointError(f"{path}: not a checkpoint ({_first_line(e)})") from None
    except (RuntimeError, EOFError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: not a readable checkpoint ({_first_line(e)})") from None


def _first_line(error: Exception) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__

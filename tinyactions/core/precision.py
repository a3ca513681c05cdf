"""Numeric precision of a stage family (``train``, ``scores``, ``superres``, ``superres_fit``): fp32, or
mixed precision under ``torch.autocast`` (bf16, fp16), or ``auto``.

``auto`` is a fixed rule, never a timing taken at run time (that would make outputs depend on noise):
on CUDA bf16 where the GPU supports it (else fp16); on a CPU with bf16 instructions (AMX tiles or
AVX-512 BF16) bf16 for the families measured faster under it (``bench/precision.py``, ``bench/README.md``:
super-resolution and its fit about 2x, paper-size score dumps 1.6x), fp32 for training (measured both
slower and faster depending on network and CPU) and on CPUs without bf16 instructions (emulated there).
The precision an output was made with, and the device, are recorded with it (``record``).
"""

from __future__ import annotations

import contextlib
import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

# torch is imported where it is used: the settings check reads PRECISIONS without importing it
PRECISIONS = ("fp32", "bf16", "fp16", "auto")  # the settings of a stage family
DTYPES = {"bf16": "bfloat16", "fp16": "float16"}  # torch dtype names of the mixed precisions
# families where bf16 autocast beat fp32 on CPUs with bf16 instructions (bench/precision.py)
CPU_BF16_FAMILIES = frozenset({"superres", "superres_fit", "scores"})


@functools.cache
def cpu_has_bf16() -> bool:
    """bf16 instructions oneDNN uses: AMX tiles (Linux asks the kernel for permission first) or AVX-512 BF16."""
    import torch

    try:
        torch.cpu._init_amx()
        return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def resolve(precision: str, family: str, device: torch.device | str) -> str:
    """``precision`` (a setting) as it runs on ``device`` for ``family``: fp32, bf16 or fp16."""
    import torch

    device = torch.device(device)
    if precision != "auto":
        return precision
    if device.type == "cuda":  # natively: emulated bf16 (e.g. V100, T4) is slower than fp16
        return "bf16" if torch.cuda.is_bf16_supported(including_emulation=False) else "fp16"
    return "bf16" if family in CPU_BF16_FAMILIES and device.type == "cpu" and cpu_has_bf16() else "fp32"


def autocast(precision: str, device: torch.device | str):
    """The context a forward pass runs in: nothing for fp32, ``torch.autocast`` otherwise. ``precision``
    is a resolved one (see ``resolve``)."""
    import torch

    device = torch.device(device)
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=getattr(torch, DTYPES[precision]))


def record(precision: str, device: torch.device | str) -> dict:
    """What an output says of how it was computed: the resolved precision and the device type (not the
    model of GPU: an output another GPU would make the same way must not look different)."""
    import torch

    return {"precision": precision, "device": torch.device(device).type}


def training_device() -> str:
    """Where a Runner trains: mmengine picks CUDA when it is there."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def optim_wrapper(precision: str, device: str) -> dict:
    """The optimizer wrapper config keys of a resolved precision: mmengine's ``AmpOptimWrapper`` on CUDA
    (loss scaling for fp16), our ``AutocastOptimWrapper`` for bf16 on a CPU, nothing for fp32."""
    if precision == "fp32":
        return {}
    if device == "cuda":
        return {"type": "AmpOptimWrapper", "dtype": {"bf16": "bfloat16", "fp16": "float16"}[precision]}
    if precision == "fp16":
        raise ValueError("train.precision: fp16 needs a CUDA device (no loss scaling on a CPU); use bf16 or fp32")
    return {"type": "AutocastOptimWrapper", "dtype": "bfloat16"}


def register_optim_wrapper():
    """Register ``AutocastOptimWrapper`` with mmengine (called by ``tinyactions.train.registry``)."""
    import torch
    from mmengine.optim import OptimWrapper
    from mmengine.registry import OPTIM_WRAPPERS

    @OPTIM_WRAPPERS.register_module(force=True)
    class AutocastOptimWrapper(OptimWrapper):
        """bf16 autocast for training on a CPU: mmengine's ``AmpOptimWrapper`` refuses to build without a
        GPU (it asserts CUDA/NPU/MLU/MUSA for its CUDA loss scaler), and bf16 needs no loss scaling."""

        def __init__(self, dtype: str = "bfloat16", **kwargs):
            super().__init__(**kwargs)
            self.cast_dtype = getattr(torch, dtype)

        @contextlib.contextmanager
        def optim_context(self, model):
            with super().optim_context(model), torch.autocast("cpu", dtype=self.cast_dtype):
                yield

    return AutocastOptimWrapper

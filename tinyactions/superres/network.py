"""The RealBasicVSR generator through mmagic's registry, and its weights in the official checkpoint format
(the published RealBasicVSR files, and ours: the superres_fit stage writes that format)."""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

import torch

from tinyactions.core import checkpoint_io
from tinyactions.core.files import write_bytes


@dataclass(frozen=True)
class GeneratorSpec:
    """RealBasicVSRNet size (``superres.generator``). The official config: mid_channels 64, 20 propagation
    and 20 cleaning blocks."""

    mid_channels: int
    propagation_blocks: int
    cleaning_blocks: int

    def config(self) -> dict:
        return dict(
            type="RealBasicVSRNet",
            mid_channels=self.mid_channels,
            num_propagation_blocks=self.propagation_blocks,
            num_cleaning_blocks=self.cleaning_blocks,
            dynamic_refine_thres=255,
            spynet_pretrained=None,
            is_fix_cleaning=False,
            is_sequential_cleaning=False,
        )


def build_generator(spec: GeneratorSpec) -> torch.nn.Module:
    from mmagic.registry import MODELS
    from mmengine.registry import DefaultScope

    from tinyactions.core import compat

    compat.register_realbasicvsr()

    # in mmagic's scope: a Runner or a test pipeline may have left mmaction's scope current
    with DefaultScope.overwrite_default_scope("mmagic"):
        return MODELS.build(spec.config())


def load_official(net: torch.nn.Module, path: str | os.PathLike, key: str = "superres.weights") -> dict:
    """Load an mmagic RealBasicVSR checkpoint: the generator's weights live under ``generator_ema.``
    (used for inference) and ``generator.``. ``key`` names the param in errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{key}: {path} does not exist")
    checkpoint = checkpoint_io.load(path)
    state = checkpoint.get("state_dict", checkpoint)
    for prefix in ("generator_ema.", "generator."):
        weights = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}
        if weights:
            checkpoint_io.load_weights(net, weights, path)
            return checkpoint.get("meta", {})
    raise KeyError(f"{key}: {path} holds no generator_ema.* or generator.* weights")


def save_official(net: torch.nn.Module, path: str | os.PathLike, meta: dict) -> None:
    """Write weights in the official layout (both prefixes, as mmagic's RealBasicVSR saves them). The
    archive is built in memory: torch.save names a file's archive after the file, and the atomic
    write's temporary name is random, so saving to it made equal weights differ in bytes."""

    state = {
        f"{prefix}{k}": v.detach().cpu()
        for prefix in ("generator.", "generator_ema.")
        for k, v in net.state_dict().items()
    }
    buffer = io.BytesIO()
    torch.save({"meta": meta, "state_dict": state}, buffer)
    write_bytes(path, buffer.getvalue())


def weights_digest(net: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]

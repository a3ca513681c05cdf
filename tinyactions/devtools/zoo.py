"""The model-zoo networks, built from the configs that ship inside the installed mmaction2 and mmagic
wheels (``<package>/.mim/configs/``), and checkpoints in their published layouts.

The paper configuration initialises from these checkpoints. Where they cannot be downloaded (CI, tests),
``write_checkpoint`` writes the same layout with random weights, so the real loading path runs:
mmaction2 ``{"meta", "state_dict": {"backbone.*", "cls_head.fc_cls.*"}}`` (a 400-way Kinetics head),
mmagic RealBasicVSR ``{"meta", "state_dict": {"generator.*", "generator_ema.*", "discriminator.*"}}``.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

import torch

# name -> (package whose wheel ships the config, config path under <package>/.mim/configs/)
CONFIGS = {
    "ircsn": ("mmaction", "recognition/csn/ircsn_ig65m-pretrained-r152_8xb12-32x2x1-58e_kinetics400-rgb.py"),
    "uniformer": ("mmaction", "recognition/uniformer/uniformer-base_imagenet1k-pre_16x4x1_kinetics400-rgb.py"),
    "realbasicvsr": ("mmagic", "real_basicvsr/realbasicvsr_c64b20-1x30x8_8xb1-lr5e-5-150k_reds.py"),
}


def config_path(name: str) -> Path:
    package, rel = CONFIGS[name]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"{package} is not installed (rerun scripts/setup.sh)")
    path = Path(spec.submodule_search_locations[0]) / ".mim" / "configs" / rel
    if not path.is_file():
        raise FileNotFoundError(f"{path}: the {package} wheel does not ship this model-zoo config")
    return path


def model_config(name: str) -> dict:
    """The model dict of the model-zoo config, with its download URLs removed (weights come from files)."""
    from mmengine.config import Config

    cfg = copy.deepcopy(Config.fromfile(str(config_path(name))).model.to_dict())
    if name == "realbasicvsr":
        cfg["generator"]["spynet_pretrained"] = None
    else:
        cfg["backbone"]["pretrained"] = None
    return cfg


def build(name: str, seed: int = 0) -> dict[str, torch.nn.Module]:
    """The model-zoo network(s) with seeded random weights, by checkpoint prefix: the recognizer as ``""``
    (its state dict already carries backbone./cls_head. keys), RealBasicVSR as generator, generator_ema
    (another draw: inference must read this one) and discriminator."""
    from mmengine.registry import DefaultScope

    from tinyactions.core import compat  # mmaction2's missing module, before importing it; RealBasicVSR's registration

    cfg = model_config(name)
    torch.manual_seed(seed)
    if name == "realbasicvsr":
        from mmagic.registry import MODELS

        compat.register_realbasicvsr()

        with DefaultScope.overwrite_default_scope("mmagic"):
            nets = {"generator": MODELS.build(cfg["generator"])}
            torch.manual_seed(seed + 1)
            nets["generator_ema"] = MODELS.build(cfg["generator"])
            nets["discriminator"] = MODELS.build(cfg["discriminator"])
        return nets
    import mmaction.models  # noqa: F401  (registrations)
    from mmaction.registry import MODELS

    with DefaultScope.overwrite_default_scope("mmaction"):
        model = MODELS.build(cfg)
    return {"": model}


def state_dict(nets: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    """One flat state dict with each network's keys under its prefix."""
    out = {}
    for prefix, net in nets.items():
        for key, value in net.state_dict().items():
            out[f"{prefix}.{key}" if prefix else key] = value
    return out


def write_checkpoint(name: str, path: str | Path, seed: int = 0) -> dict[str, torch.Tensor]:
    """Write a random-weight checkpoint of the model-zoo network ``name`` in its published layout at
    ``path``; returns its state dict."""
    weights = state_dict(build(name, seed))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(
        {"meta": {"config": CONFIGS[name][1], "random_weights": True, "seed": seed}, "state_dict": weights}, path
    )
    return weights

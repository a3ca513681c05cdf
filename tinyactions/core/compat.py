"""Upstream breakages of the OpenMMLab stack on torch 2.14 / Python 3.11, worked around in one place.

Import this module (``tinyactions.core.compat.apply()`` runs on import) before importing mmaction or mmagic.
Every workaround names its upstream report and has a test in tests/core/test_compat.py that fails without it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
import types
import warnings

_applied = False


def _stub_mmaction_drn() -> None:
    """mmaction2 1.2.0 wheels lack ``mmaction/models/localizers/drn/`` while the package's
    ``localizers/__init__.py`` imports it, so ``import mmaction.models`` fails
    (open-mmlab/mmaction2 issue 2714). DRN is a temporal-grounding localizer this project never uses:
    register a stub in its place that fails loudly if someone does build it."""
    name = "mmaction.models.localizers.drn"
    if name in sys.modules:
        return
    spec = importlib.util.find_spec("mmaction")
    if spec is None or spec.submodule_search_locations is None:
        return  # mmaction not installed: nothing to repair
    root = spec.submodule_search_locations[0]
    if os.path.isdir(os.path.join(root, "models", "localizers", "drn")):
        return  # a release that ships the module

    class DRN:  # noqa: D401 - placeholder with the upstream name
        """Placeholder for mmaction2's DRN localizer, missing from the 1.2.0 wheel."""

        def __init__(self, *args, **kwargs):
            raise RuntimeError(
                "DRN is not shipped in the installed mmaction2 1.2.0 wheel "
                "(open-mmlab/mmaction2 issue 2714); tinyactions does not use it"
            )

    from mmaction.registry import MODELS

    MODELS.register_module(name="DRN", module=DRN)
    package = types.ModuleType(name)
    package.__path__ = []  # a package, so that ``.drn.drn`` resolves
    module = types.ModuleType(f"{name}.drn")
    module.DRN = DRN
    package.drn = module
    sys.modules[name] = package
    sys.modules[f"{name}.drn"] = module


def _check_importlib_metadata() -> None:
    """``mmaction/utils/dependency.py`` imports ``importlib_metadata`` without declaring it
    (mmaction2 1.2.0's requirements/ files omit it; no upstream report found). It is pinned in
    requirements/runtime.txt; fail with a clear message instead of an ImportError deep inside mmaction when
    an environment lacks it."""
    if importlib.util.find_spec("importlib_metadata") is None:
        raise ImportError(
            "importlib_metadata is missing: mmaction2 imports it without declaring it; "
            "rerun scripts/setup.sh to rebuild .venv"
        )


def _checkpoint_loader_reads_data() -> None:
    """torch >= 2.6 defaults ``torch.load(weights_only=True)``; mmengine 0.10.7 checkpoints pickle a
    ``HistoryBuffer``, numpy scalars and config objects in ``meta``, so ``load_from``/``resume`` fail
    (open-mmlab/mmengine issue 1655, fixed only on mmengine's unreleased main). Local files go through
    ``checkpoint_io.load``: the same safe unpickler with those named types allowed, never a full unpickle
    (a checkpoint named in params may come from anywhere). Remote schemes (http, open-mmlab://, ...) are
    never reached: the train stage requires ``train.pretrained`` to be a local file."""
    from mmengine.runner.checkpoint import CheckpointLoader

    from tinyactions.core.checkpoint_io import load

    def load_from_local(filename, map_location):
        return load(os.path.expanduser(filename), map_location=map_location)

    CheckpointLoader.register_scheme(prefixes="", loader=load_from_local, force=True)


# mmagic packages whose __init__ imports every editor, and the names the RealBasicVSR modules import from
# them (the module that defines each)
_MMAGIC_SKIPPED = {
    "mmagic.utils": {},  # its __init__ imports torchvision (image grids)
    "mmagic.structures": {},
    "mmagic.models": {},
    "mmagic.models.editors": {},
    "mmagic.models.editors.basicvsr": {},
    "mmagic.models.editors.real_basicvsr": {},
    "mmagic.models.editors.real_esrgan": {},
    "mmagic.models.utils": {
        "flow_warp": "mmagic.models.utils.flow_warp",
        "make_layer": "mmagic.models.utils.model_utils",
        "default_init_weights": "mmagic.models.utils.model_utils",
    },
    "mmagic.models.archs": {
        "PixelShufflePack": "mmagic.models.archs.upsample",
        "ResidualBlockNoBN": "mmagic.models.archs.sr_backbone",
    },
}
# RealBasicVSR's generator, and the discriminator its published checkpoints also hold
_REALBASICVSR_MODULES = (
    "mmagic.models.editors.real_basicvsr.real_basicvsr_net",
    "mmagic.models.editors.real_esrgan.unet_disc",
)


def register_realbasicvsr() -> None:
    """Register RealBasicVSR's networks in mmagic's registry, loading only the modules they are made of.
    ``import mmagic.models`` imports every editor: diffusers and transformers pipelines and mmcv's compiled
    ops (open-mmlab/mmagic issue 2110: `No module named 'mmcv._ext'` without a full mmcv build), none of
    which RealBasicVSR uses. The packages' ``__init__`` files are skipped (their modules keep their real
    names). Where the full-ops setup installed what every editor needs, ``mmagic.models`` is imported
    whole instead, so that other mmagic networks stay importable beside it."""
    import mmagic  # noqa: F401  (its own __init__: version checks only)

    if all(name in sys.modules for name in _REALBASICVSR_MODULES):
        return
    if importlib.util.find_spec("mmcv._ext") is not None and importlib.util.find_spec("diffusers") is not None:
        importlib.import_module("mmagic.models")  # the full-ops setup (scripts/setup.sh --full-ops)
        return
    for package in _MMAGIC_SKIPPED:  # parents first: the dict is ordered
        if package in sys.modules:
            continue
        parent_name, leaf = package.rsplit(".", 1)
        parent = sys.modules[parent_name]
        module = types.ModuleType(package)
        module.__path__ = [os.path.join(parent.__path__[0], leaf)]
        module.__package__ = package
        sys.modules[package] = module
        setattr(parent, leaf, module)
    # model_utils (make_layer, default_init_weights) imports DataSample for functions RealBasicVSR never
    # calls; its module imports torchvision through mmagic.utils: a named placeholder stands in
    if not hasattr(sys.modules["mmagic.structures"], "DataSample"):
        sys.modules["mmagic.structures"].DataSample = type("DataSample", (), {"__doc__": "not loaded (compat)"})
    for package, names in _MMAGIC_SKIPPED.items():
        for name, source in names.items():
            setattr(sys.modules[package], name, getattr(importlib.import_module(source), name))
    for name in _REALBASICVSR_MODULES:
        importlib.import_module(name)


def _quiet_mmcv_lite() -> None:
    """mmcv-lite (no compiled ops, by design: tinyactions runs none) warns at import that its deformable
    attention needs the full build, in every stage's log; that module is never used here."""
    warnings.filterwarnings("ignore", message="Fail to import ``MultiScaleDeformableAttention``")


def apply() -> None:
    """Apply every workaround once (idempotent)."""
    global _applied
    if _applied:
        return
    _quiet_mmcv_lite()
    _stub_mmaction_drn()
    _check_importlib_metadata()
    _checkpoint_loader_reads_data()
    _applied = True


apply()

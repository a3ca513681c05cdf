"""Upstream breakages of the OpenMMLab stack on torch 2.14 / Python 3.11, worked around in one place.

Import this module (``tinyactions.compat.apply()`` runs on import) before importing mmaction or mmagic.
Every workaround names its upstream report and has a test in tests/test_compat.py that fails without it.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types

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

    from .checkpoint_io import load

    def load_from_local(filename, map_location):
        return load(os.path.expanduser(filename), map_location=map_location)

    CheckpointLoader.register_scheme(prefixes="", loader=load_from_local, force=True)


def apply() -> None:
    """Apply every workaround once (idempotent)."""
    global _applied
    if _applied:
        return
    _stub_mmaction_drn()
    _check_importlib_metadata()
    _checkpoint_loader_reads_data()
    _applied = True


apply()

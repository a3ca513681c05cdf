"""Each workaround in tinyactions.core.compat: these fail if it is removed."""

import subprocess
import sys

import pytest
import torch


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


def test_mmaction_models_import_after_compat_and_drn_fails_loudly():
    # open-mmlab/mmaction2 issue 2714: the 1.2.0 wheel lacks localizers/drn.
    out = run_python(
        "import tinyactions.core.compat, mmaction.models\n"
        "from mmaction.registry import MODELS\n"
        "try:\n    MODELS.build(dict(type='DRN'))\nexcept RuntimeError as e:\n    print('DRN:', e)\n"
    )
    assert out.returncode == 0, out.stderr
    assert "DRN: DRN is not shipped" in out.stdout


def test_upstream_wheel_is_still_broken_without_compat():
    # When this starts passing, mmaction2 fixed issue 2714 and the stub can go.
    out = run_python("import mmaction.models")
    assert out.returncode != 0 and "mmaction.models.localizers.drn" in out.stderr


def test_mmaction_dependency_module_imports():
    out = run_python("import tinyactions.core.compat, mmaction.utils.dependency")
    assert out.returncode == 0, out.stderr


def test_missing_importlib_metadata_is_named(monkeypatch):
    from tinyactions.core import compat

    real = compat.importlib.util.find_spec
    monkeypatch.setattr(
        compat.importlib.util, "find_spec", lambda name, *a: None if name == "importlib_metadata" else real(name, *a)
    )
    with pytest.raises(ImportError, match="importlib_metadata is missing"):
        compat._check_importlib_metadata()


def test_mmengine_checkpoint_with_history_buffers_loads(tmp_path):
    # open-mmlab/mmengine issue 1655: torch >= 2.6 refuses mmengine's pickled meta with weights_only.
    import numpy as np
    from mmengine.logging import MessageHub
    from mmengine.runner.checkpoint import CheckpointLoader

    import tinyactions.core.compat  # noqa: F401

    hub = MessageHub.get_instance("compat-test")
    hub.update_scalar("train/loss", 0.5)
    path = tmp_path / "epoch_1.pth"
    torch.save(
        {"meta": {"message_hub": hub.state_dict(), "seed": np.int64(3)}, "state_dict": {"w": torch.ones(2)}}, path
    )
    with pytest.raises(Exception):
        torch.load(path)  # torch's default: what mmengine 0.10.7 calls
    ckpt = CheckpointLoader.load_checkpoint(str(path), map_location="cpu")
    assert torch.equal(ckpt["state_dict"]["w"], torch.ones(2))
    assert ckpt["meta"]["message_hub"]["log_scalars"]["train/loss"].current() == 0.5


def test_realbasicvsr_registers_alone_where_mmagic_models_cannot_import():
    # open-mmlab/mmagic issue 2110: `import mmagic.models` imports every editor, which needs mmcv's compiled
    # ops and diffusers/transformers; compat registers RealBasicVSR's own modules under their real names
    import importlib.util

    if importlib.util.find_spec("mmcv._ext") is not None:
        pytest.skip("scripts/setup.sh --full-ops: mmagic.models imports whole there")
    whole = run_python("import tinyactions.core.compat, mmagic.models")
    assert whole.returncode != 0  # when this passes, mmagic imports without its editors' requirements
    alone = run_python(
        "import sys\n"
        "from tinyactions.core import compat\n"
        "compat.register_realbasicvsr()\n"
        "from mmagic.registry import MODELS\n"
        "net = MODELS.build(dict(type='RealBasicVSRNet', mid_channels=8, num_propagation_blocks=1,"
        " num_cleaning_blocks=1))\n"
        "editors = sorted({m.split('.')[3] for m in sys.modules if m.startswith('mmagic.models.editors.')})\n"
        "print(type(net).__module__, *editors, *(m for m in ('diffusers', 'transformers') if m in sys.modules))\n"
    )
    assert alone.returncode == 0, alone.stderr
    # the generator's modules (RealBasicVSR on BasicVSR's) and its checkpoints' discriminator (Real-ESRGAN's)
    assert alone.stdout.split() == [
        "mmagic.models.editors.real_basicvsr.real_basicvsr_net",
        "basicvsr",
        "real_basicvsr",
        "real_esrgan",
    ]

"""Smoke tests that catch a broken environment: the backbones of the seed through mmaction2's
registry at their published sizes, RealBasicVSR through mmagic's registry, compiled mmcv ops,
decord, and the DVC command line."""

import subprocess
import sys

import numpy as np
import pytest
import torch

import tinyactions.core.compat  # noqa: F401  (before mmaction / mmagic)
from tests.conftest import smooth_clip
from tinyactions.data.video import _decord_chunks, write_video

TOLERANCE = 0.01  # relative, against the published backbone sizes


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def mmaction_models():
    import mmaction.models  # noqa: F401  (registers the backbones)
    from mmaction.registry import MODELS

    return MODELS


def test_ircsn152_has_published_size_and_runs(mmaction_models):
    torch.manual_seed(0)
    net = mmaction_models.build(
        dict(type="ResNet3dCSN", depth=152, bottleneck_mode="ir", pretrained=None, pretrained2d=False, norm_eval=False)
    )
    assert n_params(net) == pytest.approx(28.9e6, rel=TOLERANCE)
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 8, 32, 32))
    assert out.shape == (1, 2048, 1, 1, 1) and torch.isfinite(out).all()


def test_uniformer_base_has_published_size_and_runs(mmaction_models):
    torch.manual_seed(0)
    net = mmaction_models.build(
        dict(
            type="UniFormer",
            depth=[5, 8, 20, 7],
            embed_dim=[64, 128, 320, 512],
            head_dim=64,
            drop_path_rate=0.4,
            pretrained2d=False,
        )
    )
    assert n_params(net) == pytest.approx(49.6e6, rel=TOLERANCE)
    net.eval()
    with torch.no_grad():
        out = net(torch.randn(1, 3, 8, 64, 64))
    assert out.shape[:2] == (1, 512) and torch.isfinite(out).all()


def test_realbasicvsr_upscales_x4_through_mmagic():
    from mmagic.registry import MODELS

    tinyactions.core.compat.register_realbasicvsr()

    torch.manual_seed(0)
    net = MODELS.build(
        dict(
            type="RealBasicVSRNet",
            mid_channels=64,
            num_propagation_blocks=20,
            num_cleaning_blocks=20,
            dynamic_refine_thres=255,
            spynet_pretrained=None,
            is_fix_cleaning=False,
            is_sequential_cleaning=False,
        )
    )
    assert n_params(net) == pytest.approx(6.29e6, rel=TOLERANCE)
    net.eval()
    with torch.no_grad():
        out = net(torch.rand(1, 16, 3, 32, 32))
    assert out.shape == (1, 16, 3, 128, 128) and torch.isfinite(out).all()


def test_the_pipeline_imports_no_compiled_op_and_no_other_mmagic_editor():
    """The default setup (mmcv-lite): building every network the pipeline runs imports neither mmcv's
    compiled ops nor diffusers/transformers (mmagic's other editors); with --full-ops, its compiled ops
    compute."""
    import importlib.util

    if importlib.util.find_spec("mmcv._ext") is not None:  # scripts/setup.sh --full-ops
        from mmcv.ops import nms

        boxes = torch.tensor([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=torch.float32)
        _, keep = nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
        assert keep.tolist() == [0, 2]
        return
    code = (
        "import sys\n"
        "from tinyactions.devtools import zoo\n"
        "from tinyactions.superres import network\n"
        "from tinyactions.train.registry import build_model\n"
        "from tinyactions.train.recipes import model_config\n"
        "from tests.conftest import run_spec\n"
        "network.build_generator(network.GeneratorSpec(8, 1, 1))\n"
        "zoo.build('realbasicvsr')\n"
        "build_model(model_config(run_spec()))\n"
        "found = sorted(m for m in sys.modules if m.split('.')[0] in ('diffusers', 'transformers', 'timm', 'lpips')"
        " or m == 'mmcv._ext')\n"
        "print('imported:', found)\n"
    )
    from tests.conftest import ROOT

    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "imported: []" in out.stdout and "MultiScaleDeformableAttention" not in out.stderr


def test_decord_decodes_an_mp4_written_here(tmp_path):
    clip = smooth_clip(10, 40, 40)
    write_video(tmp_path / "x.mp4", clip)
    frames = np.concatenate([chunk for _, chunk in _decord_chunks(tmp_path / "x.mp4", limit=None)])
    assert frames.shape == (10, 40, 40, 3)
    assert np.abs(frames.astype(int) - clip.astype(int)).mean() < 12


def test_dvc_runs_from_the_environment():
    out = subprocess.run([sys.executable, "-m", "dvc", "version"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "DVC version: 3." in out.stdout


@pytest.mark.parametrize(
    "nvcc_release, force, expected",
    [
        (None, "", r"^cpu no nvcc on PATH$"),
        (
            "11.8",
            "",
            r"^cpu the CUDA toolkit \(nvcc 11\.8\) differs from torch's CUDA {torch}: building mmcv's CPU ops",
        ),
        ("{torch}", "", r"^cpu no visible GPU$"),
        ("11.8", "1", r"^cuda FORCE_CUDA=1$"),
    ],
)
def test_setup_builds_cuda_ops_only_with_a_matching_toolkit(tmp_path, nvcc_release, force, expected):
    """scripts/setup.sh --ops: CUDA ops need a visible GPU and an nvcc of torch's own CUDA release;
    otherwise CPU ops, with the reason in one line."""
    import re
    from pathlib import Path

    if torch.version.cuda is None:
        pytest.skip("torch is a CPU-only build: setup never considers CUDA ops")
    expected = expected.replace("{torch}", re.escape(torch.version.cuda))
    stub = tmp_path / "bin"
    stub.mkdir()
    if nvcc_release is not None:
        release = nvcc_release.replace("{torch}", torch.version.cuda)
        (stub / "nvcc").write_text(f"#!/bin/sh\necho 'Cuda compilation tools, release {release}, V{release}.1'\n")
        (stub / "nvcc").chmod(0o755)
    import shutil

    for tool in ("bash", "cat", "cut", "dirname", "sed", "sha256sum"):  # what setup.sh --ops runs, and no nvcc
        (stub / tool).symlink_to(shutil.which(tool))
    env = {
        "PATH": str(stub),
        "HOME": str(tmp_path),
        "VPY": sys.executable,
        "FORCE_CUDA": force,
        "CUDA_VISIBLE_DEVICES": "",
    }
    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [str(stub / "bash"), str(root / "scripts/setup.sh"), "--ops"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 1 and re.match(expected, lines[0]), lines


@pytest.mark.parametrize(
    "driver, built, available, warns",
    [
        ("12.4", "13.0", True, True),  # another major release: the driver cannot run it
        ("13.0", "13.1", False, True),  # a newer minor with which torch sees no GPU
        ("13.0", "13.1", True, False),  # CUDA's minor version compatibility: it runs
        ("13.2", "13.0", True, False),
        ("12.4", None, False, False),  # a CPU-only torch
    ],
)
def test_setup_says_in_one_line_when_the_driver_is_too_old_for_torch(tmp_path, driver, built, available, warns):
    import shutil
    from pathlib import Path

    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "nvidia-smi").write_text(
        f"#!/bin/sh\necho '| NVIDIA-SMI 570.0   Driver Version: 570.0   CUDA Version: {driver} |'\n"
    )
    (stub / "nvidia-smi").chmod(0o755)
    for tool in ("bash", "cat", "cut", "dirname", "sed", "sha256sum", "head"):
        (stub / tool).symlink_to(shutil.which(tool))
    fake = tmp_path / "site" / "torch"  # what the check reads of torch
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        f"__version__ = '2.11.0'\nclass version:\n    cuda = {built!r}\n"
        f"class cuda:\n    is_available = staticmethod(lambda: {available})\n"
    )
    root = Path(__file__).resolve().parents[1]
    env = {"PATH": str(stub), "HOME": str(tmp_path), "VPY": sys.executable, "PYTHONPATH": str(tmp_path / "site")}
    out = subprocess.run(
        [str(stub / "bash"), str(root / "scripts/setup.sh"), "--driver"], env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    if warns:
        assert out.stderr == (
            f"setup: torch 2.11.0 is built for CUDA {built}, newer than this NVIDIA driver's CUDA {driver}: "
            "no GPU will be used until the driver is updated\n"
        )
    else:
        assert out.stderr == ""

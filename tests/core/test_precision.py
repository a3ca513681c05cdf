"""Precision: what ``auto`` resolves to, the optimizer wrapper of each precision, and bf16 that really
runs under autocast with outputs close to fp32."""

import numpy as np
import pytest
import torch

from tests.conftest import run_spec
from tinyactions.core import precision as numeric
from tinyactions.superres import network, upscale
from tinyactions.train.recipes import runner_config


@pytest.mark.parametrize("has_bf16", [True, False])
def test_auto_on_a_cpu_is_bf16_only_for_measured_families_with_bf16_instructions(monkeypatch, has_bf16):
    monkeypatch.setattr(numeric, "cpu_has_bf16", lambda: has_bf16)
    expected = "bf16" if has_bf16 else "fp32"
    assert {f: numeric.resolve("auto", f, "cpu") for f in ("superres", "superres_fit", "scores", "train")} == {
        "superres": expected,
        "superres_fit": expected,
        "scores": expected,
        "train": "fp32",
    }
    assert numeric.resolve("fp32", "superres", "cpu") == "fp32" and numeric.resolve("bf16", "train", "cpu") == "bf16"


@pytest.mark.parametrize("bf16_gpu, expected", [(True, "bf16"), (False, "fp16")])
def test_auto_on_cuda_is_bf16_where_the_gpu_has_it_natively(monkeypatch, bf16_gpu, expected):
    # torch counts emulated bf16 as supported unless asked not to: an emulating GPU must get fp16
    monkeypatch.setattr(
        torch.cuda, "is_bf16_supported", lambda including_emulation=True: including_emulation or bf16_gpu
    )
    assert numeric.resolve("auto", "train", "cuda") == expected == numeric.resolve("auto", "superres", "cuda:1")


def test_optimizer_wrapper_of_each_precision():
    assert numeric.optim_wrapper("fp32", "cpu") == {} == numeric.optim_wrapper("fp32", "cuda")
    assert numeric.optim_wrapper("bf16", "cuda") == {"type": "AmpOptimWrapper", "dtype": "bfloat16"}
    assert numeric.optim_wrapper("fp16", "cuda") == {"type": "AmpOptimWrapper", "dtype": "float16"}
    assert numeric.optim_wrapper("bf16", "cpu") == {"type": "AutocastOptimWrapper", "dtype": "bfloat16"}
    with pytest.raises(ValueError, match=r"^train.precision: fp16 needs a CUDA device"):
        numeric.optim_wrapper("fp16", "cpu")
    cfg = runner_config(run_spec(precision="bf16"), "w", "t.parquet", "v.parquet", "root", "live")
    assert cfg["optim_wrapper"]["type"] == "AutocastOptimWrapper" and "optimizer" in cfg["optim_wrapper"]
    assert (
        "type"
        not in runner_config(run_spec(precision="auto"), "w", "t.parquet", "v.parquet", "root", "live")["optim_wrapper"]
    ), "auto trains in fp32 on a CPU"


def test_the_cpu_bf16_wrapper_runs_the_step_under_autocast_and_updates_fp32_weights():
    from mmengine.registry import OPTIM_WRAPPERS

    import tinyactions.train.registry  # noqa: F401  (registers the wrapper)

    model = torch.nn.Linear(8, 2)
    wrapper = OPTIM_WRAPPERS.build(
        dict(type="AutocastOptimWrapper", dtype="bfloat16", optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    )
    before = model.weight.detach().clone()
    with wrapper.optim_context(model):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
        out = model(torch.ones(4, 8))
    assert out.dtype == torch.bfloat16 and not torch.is_autocast_enabled("cpu")
    wrapper.update_params(out.float().pow(2).mean())
    assert model.weight.dtype == torch.float32 and not torch.equal(model.weight, before)


def test_bf16_super_resolution_stays_within_two_grey_levels_and_is_keyed_apart():
    torch.manual_seed(0)
    net = network.build_generator(network.GeneratorSpec(8, 1, 1))
    rng = np.random.default_rng(0)
    clip = upscale.resize_frames(rng.integers(0, 255, (10, 5, 5, 3), np.uint8), 16)
    up = {
        p: upscale.Upscaler(net, 64, window=8, overlap=2, batch=2, input="square", device="cpu", precision=p)
        for p in ("fp32", "bf16")
    }
    a, b = (up[p].upscale([clip])[0].astype(int) for p in ("fp32", "bf16"))
    assert 0 < np.abs(a - b).max() <= 2
    assert "precision" not in up["fp32"].settings() and up["bf16"].settings()["precision"] == "bf16"

"""Super-resolution: official weight format, windowing, batching equals direct calls, cache keys, metrics."""

import copy
from typing import get_args

import cv2
import numpy as np
import pytest
import torch

from tests.conftest import smooth_clip
from tinyactions.superres import dataset, fit, network, upscale

TINY = network.GeneratorSpec(mid_channels=8, propagation_blocks=1, cleaning_blocks=1)


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return network.build_generator(TINY).eval()


def clip(frames, size=16, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (1, size, size, 3), np.uint8).repeat(frames, 0).astype(int)
    base += np.arange(frames)[:, None, None, None] * 3
    return np.clip(base, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("length, window, overlap", [(5, 8, 2), (40, 16, 4), (33, 10, 2), (100, 32, 4), (17, 16, 0)])
def test_window_plan_tiles_the_clip_with_context(length, window, overlap):
    plans = upscale.plan_windows(length, window, overlap)
    kept = [f for _, _, kf, kt in plans for f in range(kf, kt)]
    assert kept == list(range(length))
    for start, end, kf, kt in plans:
        assert end - start == min(window, length) and start <= kf < kt <= end
        assert kf - start >= min(overlap, kf) and end - kt >= min(overlap, length - kt)
    with pytest.raises(ValueError):
        upscale.plan_windows(10, 4, 2)


def test_upscaler_matches_a_direct_model_call_and_batches_across_clips(net):
    clips = [clip(12, seed=1), clip(7, seed=2), clip(12, seed=3)]
    up = upscale.Upscaler(
        net, out_size=64, window=32, overlap=4, batch=4, input="square", device="cpu", precision="fp32"
    )
    outs = up.upscale(clips)
    assert [o.shape for o in outs] == [(12, 64, 64, 3), (7, 64, 64, 3), (12, 64, 64, 3)]
    with torch.no_grad():
        x = torch.from_numpy(clips[1]).permute(0, 3, 1, 2)[None].float() / 255
        direct = (net(x).clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(0, 2, 3, 1).numpy()
    assert np.array_equal(outs[1], direct)
    alone = upscale.Upscaler(
        net, 64, window=32, overlap=4, batch=1, input="square", device="cpu", precision="fp32"
    ).upscale([clips[2]])[0]
    assert np.abs(alone.astype(int) - outs[2].astype(int)).max() <= 1  # batching keeps the output


def test_channels_last_layout_keeps_the_output():
    """The Upscaler converts the network to channels_last; a network in the default layout gives the
    same frames (within one grey level of rounding)."""
    torch.manual_seed(1)
    plain = network.build_generator(TINY).eval()
    c = clip(9, seed=5)
    with torch.no_grad():
        x = torch.from_numpy(c).permute(0, 3, 1, 2)[None].float() / 255
        direct = (plain(x).clamp(0, 1) * 255).round().to(torch.uint8)[0].permute(0, 2, 3, 1).numpy()
    converted = copy.deepcopy(plain)
    out = upscale.Upscaler(
        converted, 64, window=32, overlap=4, batch=4, input="square", device="cpu", precision="fp32"
    ).upscale([c])[0]
    assert converted.basicvsr.conv_hr.weight.is_contiguous(memory_format=torch.channels_last)
    assert not plain.basicvsr.conv_hr.weight.is_contiguous(memory_format=torch.channels_last)
    assert np.abs(out.astype(int) - direct.astype(int)).max() <= 1


def test_windowed_processing_stays_close_to_whole_clip(net):
    """Documented difference: windows of 16 with 4 frames of context vs the whole 48-frame clip."""
    c = clip(48, seed=4)
    whole = (
        upscale.Upscaler(net, 64, window=64, overlap=4, batch=4, input="square", device="cpu", precision="fp32")
        .upscale([c])[0]
        .astype(int)
    )
    windowed = (
        upscale.Upscaler(net, 64, window=16, overlap=4, batch=4, input="square", device="cpu", precision="fp32")
        .upscale([c])[0]
        .astype(int)
    )
    diff = np.abs(whole - windowed)
    assert diff.mean() < 1.0 and diff.max() <= 64


def test_official_format_roundtrip_and_errors(net, tmp_path):
    path = tmp_path / "g.pth"
    network.save_official(net, path, {"note": "test"})
    state = torch.load(path, weights_only=False)["state_dict"]
    assert any(k.startswith("generator_ema.") for k in state) and any(k.startswith("generator.") for k in state)
    other = network.build_generator(TINY)
    assert network.load_official(other, path) == {"note": "test"}
    assert network.weights_digest(other) == network.weights_digest(net)
    # the same weights and meta give the same bytes, wherever and however often they are saved
    (tmp_path / "again").mkdir()
    network.save_official(net, tmp_path / "again" / "other.pth", {"note": "test"})
    assert (tmp_path / "again" / "other.pth").read_bytes() == path.read_bytes()
    with pytest.raises(FileNotFoundError, match="superres.weights: .*missing.pth does not exist"):
        network.load_official(other, tmp_path / "missing.pth")
    torch.save({"state_dict": {"backbone.x": torch.ones(1)}}, tmp_path / "bad.pth")
    with pytest.raises(KeyError, match="no generator_ema"):
        network.load_official(other, tmp_path / "bad.pth")


def test_cache_key_follows_bytes_settings_and_weights(tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    a.write_bytes(b"one")
    b.write_bytes(b"one")
    settings = {"out_size": 112, "window": 32, "overlap": 4}
    assert dataset.cache_key(a, settings, "w") == dataset.cache_key(b, settings, "w")
    b.write_bytes(b"two")
    assert dataset.cache_key(a, settings, "w") != dataset.cache_key(b, settings, "w")
    assert dataset.cache_key(a, settings, "w") != dataset.cache_key(a, {**settings, "overlap": 2}, "w")
    assert dataset.cache_key(a, settings, "w") != dataset.cache_key(a, settings, "v")


def test_psnr_and_ssim_reference_values():
    a = np.full((2, 32, 32, 3), 100, np.uint8)
    b = a.copy()
    b[..., 0] += 10  # MSE = 100/3
    assert fit.psnr(a, b) == pytest.approx(10 * np.log10(255**2 / (100 / 3)))
    assert fit.ssim(a, a) == pytest.approx(1.0)
    noisy = np.clip(a + np.random.default_rng(0).normal(0, 20, a.shape), 0, 255).astype(np.uint8)
    assert fit.ssim(a, noisy) < 0.9


def test_fit_lowers_the_pixel_loss():
    torch.manual_seed(0)
    model = network.build_generator(TINY)
    hr = [smooth_clip(6, 32, 32, seed=k) for k in range(3)]
    lr = [upscale.resize_frames(h, 8) for h in hr]
    losses = fit.fit(
        model, list(zip(lr, hr)), out_size=32, iterations=30, clip_len=4, batch=2, lr=5e-3, seed=0, precision="fp32"
    )
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])


def test_fit_starts_from_bilinear_upsampling():
    """The identity start: zero cleaning residue, zero flow, zero reconstruction -> output = the network's
    bilinear upsampling. A short fit from there improves on it and ends below the same fit from a random
    start; SPyNet stays frozen and no hook is left behind."""
    torch.manual_seed(0)
    model = fit.start_from_upsampling(network.build_generator(TINY)).eval()
    x = torch.rand(1, 5, 3, 8, 8)
    with torch.no_grad():
        out = model(x)
    bilinear = torch.nn.functional.interpolate(x[0], scale_factor=4, mode="bilinear", align_corners=False)
    assert torch.allclose(out[0], bilinear, atol=1e-6)

    hr = [smooth_clip(8, 32, 32, seed=k) for k in range(4)]
    lr = [upscale.resize_frames(h, 8, cv2.INTER_AREA) for h in hr]

    def quality(net):
        sr = upscale.Upscaler(
            net, 32, window=8, overlap=2, batch=4, input="square", device="cpu", precision="fp32"
        ).upscale(lr)
        return np.mean([fit.psnr(o, h) for o, h in zip(sr, hr)])

    start = quality(model)
    spynet = {k: v.clone() for k, v in model.basicvsr.spynet.state_dict().items()}
    losses = fit.fit(
        model, list(zip(lr, hr)), out_size=32, iterations=60, clip_len=2, batch=4, lr=2e-3, seed=0, precision="fp32"
    )
    assert all(torch.equal(v, model.basicvsr.spynet.state_dict()[k]) for k, v in spynet.items())
    assert not model.basicvsr.spynet._forward_pre_hooks
    torch.manual_seed(0)
    random_start = network.build_generator(TINY)
    random_losses = fit.fit(
        random_start,
        list(zip(lr, hr)),
        out_size=32,
        iterations=60,
        clip_len=2,
        batch=4,
        lr=2e-3,
        seed=0,
        precision="fp32",
    )
    assert np.mean(losses[-5:]) < 0.95 * np.mean(random_losses[-5:])  # measured 0.0242 vs 0.0274
    assert quality(model) > max(start, quality(random_start)) + 0.03  # measured 23.71 vs 23.64 / 23.57 dB


def test_native_input_keeps_the_detail_that_square_input_halves():
    """``input: native`` feeds a clip at its own size (x4, then resized to the output size); ``square``
    first shrinks it to size/4. With the identity-start generator (x4 bilinear) on a 24 px clip of a
    64 px scene, the native path is the closer to the scene; clips of several sizes batch together and
    each equals its own run; the cache key of square input is what it was before inputs had a name."""
    torch.manual_seed(0)
    net = fit.start_from_upsampling(network.build_generator(TINY)).eval()
    scenes = [smooth_clip(6, 64, 64, seed=k) for k in range(2)]
    lr = [upscale.resize_frames(scenes[0], 24, cv2.INTER_AREA), upscale.resize_frames(scenes[1], 12, cv2.INTER_AREA)]
    quality = {}
    for mode in ("native", "square"):
        up = upscale.Upscaler(net, 64, window=4, overlap=1, batch=4, input=mode, device="cpu", precision="fp32")
        together = up.upscale(lr)
        assert [o.shape for o in together] == [(6, 64, 64, 3)] * 2
        for clip, out in zip(lr, together):
            np.testing.assert_array_equal(out, up.upscale([clip])[0])
        quality[mode] = fit.psnr(together[0], scenes[0])
        assert fit.psnr(together[0], scenes[0]) > fit.psnr(up.bicubic(lr[0]), scenes[0]) - 1.0  # same league as bicubic
    assert quality["native"] > quality["square"] + 1.0, quality
    assert upscale.Upscaler(net, 64, 4, 1, 4, "square", "cpu", precision="fp32").settings() == {
        "out_size": 64,
        "window": 4,
        "overlap": 1,
    }
    assert upscale.Upscaler(net, 64, 4, 1, 4, "native", "cpu", precision="fp32").settings()["input"] == "native"


def test_lossless_storage_round_trips_exactly_and_mp4v_does_not():
    clip = smooth_clip(6, 32, 32, seed=3)
    from tinyactions.data import video
    from tinyactions.superres.settings import Inference

    np.testing.assert_array_equal(video.as_stored(clip, "ffv1"), clip)
    assert np.abs(video.as_stored(clip, "mp4v").astype(int) - clip).mean() > 0.1

    storage = Inference.model_fields["storage"].annotation  # the settings offer what the writer knows
    assert get_args(storage) == tuple(video.CODECS)

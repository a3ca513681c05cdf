"""RealBasicVSR through mmagic: weights in the official format, windowed and batched inference, a
per-video cache, fitting on generated HR/LR pairs, and PSNR/SSIM.

Inference: every clip is resized (bicubic) to ``in_size`` x ``in_size`` (= out_size / 4; non-square clips
are stretched to a square, as the recognisers resize to squares anyway) and upscaled x4. Long clips
are cut into temporal windows of ``window`` frames that overlap by ``overlap`` frames on each side;
only each window's centre is kept, so propagation still sees ``overlap`` frames of context in both
directions (see ``tests/test_superres.py`` for the measured difference to whole-clip processing).
Windows of equal length from different clips are batched into one forward pass, and the network runs
in the channels_last memory layout (same output within rounding, faster convolutions).
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

SCALE = 4


@dataclass(frozen=True)
class GeneratorSpec:
    """RealBasicVSRNet size. The official config: mid_channels 64, 20 propagation and 20 cleaning blocks."""

    mid_channels: int = 64
    propagation_blocks: int = 20
    cleaning_blocks: int = 20

    def config(self) -> dict:
        return dict(type="RealBasicVSRNet", mid_channels=self.mid_channels,
                    num_propagation_blocks=self.propagation_blocks, num_cleaning_blocks=self.cleaning_blocks,
                    dynamic_refine_thres=255, spynet_pretrained=None, is_fix_cleaning=False,
                    is_sequential_cleaning=False)


def build_generator(spec: GeneratorSpec) -> torch.nn.Module:
    from . import compat  # noqa: F401
    import mmagic.models  # noqa: F401  (registrations)
    from mmagic.registry import MODELS
    return MODELS.build(spec.config())


def load_official(net: torch.nn.Module, path: str | os.PathLike, key: str = "superres.weights") -> dict:
    """Load an mmagic RealBasicVSR checkpoint: the generator's weights live under ``generator_ema.``
    (used for inference) and ``generator.``. ``key`` names the param in errors."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{key}: {path} does not exist")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    state = checkpoint.get("state_dict", checkpoint)
    for prefix in ("generator_ema.", "generator."):
        weights = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        if weights:
            net.load_state_dict(weights)
            return checkpoint.get("meta", {})
    raise KeyError(f"{key}: {path} holds no generator_ema.* or generator.* weights")


def save_official(net: torch.nn.Module, path: str | os.PathLike, meta: dict) -> None:
    """Write weights in the official layout (both prefixes, as mmagic's RealBasicVSR saves them)."""
    from .atomic import atomic_path
    state = {f"{prefix}{k}": v.detach().cpu() for prefix in ("generator.", "generator_ema.")
             for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        torch.save({"meta": meta, "state_dict": state}, tmp)


def weights_digest(net: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for k, v in sorted(net.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def resize_frames(frames: np.ndarray, size: int, interpolation=cv2.INTER_CUBIC) -> np.ndarray:
    if frames.shape[1:3] == (size, size):
        return frames
    return np.stack([cv2.resize(f, (size, size), interpolation=interpolation) for f in frames])


def plan_windows(length: int, window: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """(start, end, keep_from, keep_to) per window: frames [start, end) go through the network and
    frames [keep_from, keep_to) of the clip are taken from it. Kept spans tile the clip exactly."""
    if window <= 2 * overlap:
        raise ValueError(f"window ({window}) must exceed twice the overlap ({overlap})")
    if length <= window:
        return [(0, length, 0, length)]
    step = window - 2 * overlap
    plans, keep_from = [], 0
    while keep_from < length:
        keep_to = min(keep_from + step, length)
        start = max(0, keep_from - overlap)
        end = min(length, start + window)
        start = max(0, end - window)
        plans.append((start, end, keep_from, keep_to))
        keep_from = keep_to
    return plans


class Upscaler:
    """A resident generator that upscales many clips, batching equal-length windows."""

    def __init__(self, net: torch.nn.Module, out_size: int, window: int = 32, overlap: int = 4, batch: int = 4,
                 device: str | None = None):
        if out_size % SCALE:
            raise ValueError(f"superres.size must be a multiple of {SCALE}, got {out_size}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        # channels_last: oneDNN/cuDNN convolutions run without layout reorders (same output within
        # rounding; measured on 2 CPU cores: 1.17x frames/s of the demo generator)
        self.net = net.to(self.device, memory_format=torch.channels_last).eval()
        self.out_size, self.in_size = out_size, out_size // SCALE
        self.window, self.overlap, self.batch = window, overlap, batch

    def settings(self) -> dict:
        return {"out_size": self.out_size, "window": self.window, "overlap": self.overlap}

    @torch.no_grad()
    def _forward(self, windows: list[np.ndarray]) -> np.ndarray:
        x = torch.from_numpy(np.stack(windows)).to(self.device)  # (n, t, h, w, 3) uint8
        x = x.permute(0, 1, 4, 2, 3).float().div_(255)
        y = self.net(x).clamp_(0, 1).mul_(255).round_().to(torch.uint8)
        return y.permute(0, 1, 3, 4, 2).cpu().numpy()

    def upscale(self, clips: list[np.ndarray]) -> list[np.ndarray]:
        """(T, h, w, 3) uint8 RGB clips -> (T, out, out, 3) uint8 RGB clips."""
        inputs = [resize_frames(c, self.in_size) for c in clips]
        outputs = [np.empty((len(c), self.out_size, self.out_size, 3), np.uint8) for c in clips]
        jobs: dict[int, list] = {}
        for ci, clip in enumerate(inputs):
            for start, end, keep_from, keep_to in plan_windows(len(clip), self.window, self.overlap):
                jobs.setdefault(end - start, []).append((ci, start, end, keep_from, keep_to))
        for length, items in jobs.items():
            for b in range(0, len(items), self.batch):
                chunk = items[b:b + self.batch]
                result = self._forward([inputs[ci][s:e] for ci, s, e, _, _ in chunk])
                for (ci, s, e, kf, kt), frames in zip(chunk, result):
                    outputs[ci][kf:kt] = frames[kf - s:kt - s]
        return outputs


def process(jobs: list[tuple[str, str]], upscaler: "Upscaler", chunk: int = 16, progress=None) -> None:
    """Upscale (input path, output path) pairs: chunks of clips go through the network together while
    the next chunk is decoded and the previous one encoded on two threads (torch releases the GIL)."""
    from concurrent.futures import ThreadPoolExecutor

    from .video import read_video, write_video
    chunks = [jobs[i:i + chunk] for i in range(0, len(jobs), chunk)]
    if not chunks:
        return

    def load(part):
        return [(dst, read_video(src)) for src, dst in part]

    with ThreadPoolExecutor(2) as pool:
        ahead, writes = pool.submit(load, chunks[0]), []
        for i in range(len(chunks)):
            loaded = ahead.result()
            ahead = pool.submit(load, chunks[i + 1]) if i + 1 < len(chunks) else None
            results = upscaler.upscale([frames for _, frames in loaded])
            for future in writes:
                future.result()
            writes = [pool.submit(write_video, dst, frames) for (dst, _), frames in zip(loaded, results)]
            if progress:
                progress(len(loaded))
        for future in writes:
            future.result()


def cache_key(video: str | os.PathLike, settings: dict, weights: str) -> str:
    """Identity of one SR output: the input file's bytes, the SR settings, the weights."""
    h = hashlib.sha256()
    with open(video, "rb") as f:
        h.update(f.read())
    h.update(json.dumps({"settings": settings, "weights": weights}, sort_keys=True).encode())
    return h.hexdigest()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) over frames and channels."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for fa, fb in zip(a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:])):
        for ch in range(fa.shape[-1]):
            x, y = fa[..., ch].astype(np.float64), fb[..., ch].astype(np.float64)
            blur = lambda m: cv2.GaussianBlur(m, (11, 11), 1.5)  # noqa: E731
            mx, my = blur(x), blur(y)
            sxx, syy, sxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
            values.append(np.mean(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))))
    return float(np.mean(values))


def bicubic(clip: np.ndarray, in_size: int, out_size: int) -> np.ndarray:
    """The baseline SR is compared with: the same square input, upscaled bicubically."""
    return resize_frames(resize_frames(clip, in_size), out_size)


def start_from_upsampling(net: torch.nn.Module) -> torch.nn.Module:
    """Initialise a generator without pretrained weights so that its output starts as its own bilinear
    upsampling of the input: zero the last layer of the cleaning module (no residue), of every SPyNet
    level (zero flow: mmagic freezes SPyNet inside RealBasicVSRNet, so without its pretrained weights
    the fitted generator propagates features unaligned rather than along random flows) and of the
    reconstruction (``conv_last``). From a random start a short fit spends its iterations removing noise;
    from this one it beats bicubic upscaling within a few hundred iterations."""
    last_layers = [net.image_cleaning[-1], net.basicvsr.conv_last]
    last_layers += [level.basic_module[-1].conv for level in net.basicvsr.spynet.basic_module]
    with torch.no_grad():
        for layer in last_layers:
            layer.weight.zero_()
            layer.bias.zero_()
    return net


def _detached(module, inputs):
    return tuple(t.detach() for t in inputs)


COMPARISON_COLUMNS = ["clip", "lr_px", "frames", "psnr_sr", "psnr_bicubic", "ssim_sr", "ssim_bicubic"]


def compare_with_bicubic(upscaler: "Upscaler", pairs: list[tuple[np.ndarray, np.ndarray]],
                         names: list[str]) -> "pd.DataFrame":
    """One row per (LR clip, HR clip) pair: PSNR/SSIM of the generator's output and of bicubic upscaling
    of the same square input, both against the clean render at the output size."""
    import pandas as pd
    rows = []
    for name, (lr_clip, hr_clip), out in zip(names, pairs, upscaler.upscale([lr for lr, _ in pairs])):
        target = resize_frames(hr_clip, upscaler.out_size, cv2.INTER_AREA)
        base = bicubic(lr_clip, upscaler.in_size, upscaler.out_size)
        rows.append({"clip": name, "lr_px": lr_clip.shape[1], "frames": len(lr_clip),
                     "psnr_sr": psnr(out, target), "psnr_bicubic": psnr(base, target),
                     "ssim_sr": ssim(out, target), "ssim_bicubic": ssim(base, target)})
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def fit(net: torch.nn.Module, pairs: list[tuple[np.ndarray, np.ndarray]], out_size: int, iterations: int,
        clip_len: int = 8, batch: int = 4, lr: float = 2e-4, seed: int = 0, progress=None) -> list[float]:
    """Fit the generator on (LR clip, HR clip) pairs with an L1 pixel loss (the GAN, perceptual and
    cleaning losses of the original recipe are left out), Adam with a cosine decay of the learning
    rate over the iterations (a short fit ends lower than at a constant rate). Returns the loss per
    iteration.

    Speed (the fit runs on the demo's CPU budget): channels_last memory layout, and SPyNet, which mmagic
    keeps frozen, sees detached frames, so no backward pass runs through it (the cleaning module then
    learns through the reconstruction only, not through the flow). Measured on 2 cores: 0.40 vs 0.56 s
    per step of 16 frames."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    in_size = out_size // SCALE
    prepared = [(resize_frames(lr_clip, in_size), resize_frames(hr_clip, out_size, cv2.INTER_AREA))
                for lr_clip, hr_clip in pairs]
    net.to(memory_format=torch.channels_last).train()
    no_flow_gradient = net.basicvsr.spynet.register_forward_pre_hook(_detached)
    optim = torch.optim.Adam([w for w in net.parameters() if w.requires_grad], lr=lr, betas=(0.9, 0.99))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=max(iterations, 1), eta_min=lr / 100)
    losses = []
    try:
        for _ in range(iterations):
            xs, ys = [], []
            for k in rng.integers(0, len(prepared), batch):
                lr_clip, hr_clip = prepared[k]
                n = len(lr_clip)
                idx = (int(rng.integers(0, max(n - clip_len, 0) + 1)) + np.arange(clip_len)) % n
                flip = rng.random() < 0.5
                x, y = lr_clip[idx], hr_clip[idx]
                if flip:
                    x, y = x[:, :, ::-1], y[:, :, ::-1]
                xs.append(np.ascontiguousarray(x))
                ys.append(np.ascontiguousarray(y))
            x = torch.from_numpy(np.stack(xs)).permute(0, 1, 4, 2, 3).float() / 255
            y = torch.from_numpy(np.stack(ys)).permute(0, 1, 4, 2, 3).float() / 255
            loss = torch.nn.functional.l1_loss(net(x), y)
            optim.zero_grad()
            loss.backward()
            optim.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if progress:
                progress(losses[-1])
    finally:
        no_flow_gradient.remove()
    net.eval()
    return losses

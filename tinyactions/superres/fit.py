"""Fitting RealBasicVSR on the demo's clean renders, and measuring SR quality against bicubic upscaling.

No pretrained generator exists on the demo's machines, so ``superres.weights: fit`` fits one on
generated HR/LR pairs (starting from its own bilinear upsampling) and reports PSNR/SSIM of SR vs
bicubic on held-out val pairs; ``superres.weights: <path>`` validates an official checkpoint
(generator_ema.* weights) and copies it. Both end in ``models/superres/generator.pth``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import torch

from tinyactions.core import precision as numeric
from tinyactions.core.errors import SettingsError
from tinyactions.core.files import remove_orphans, write_json, write_table
from tinyactions.core.paths import Workspace
from tinyactions.data.index import originals
from tinyactions.data.video import as_stored, read_video
from tinyactions.superres.fit_settings import Superres
from tinyactions.superres.geometry import SCALE
from tinyactions.superres.network import GeneratorSpec, build_generator, load_official, save_official
from tinyactions.superres.upscale import Upscaler, resize_frames

log = logging.getLogger(__name__)
# the fit's metrics, in the workspace's metrics folder
FIT_CLIPS = "superres_clips.csv"  # per held-out clip: SR vs bicubic (a plot)
FIT_LOSS = "superres_fit.tsv"  # the fit's L1 per step (a plot)
FIT_SUMMARY = "superres.json"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5) over frames and channels."""
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for fa, fb in zip(a.reshape(-1, *a.shape[-3:]), b.reshape(-1, *b.shape[-3:])):
        for ch in range(fa.shape[-1]):
            x, y = fa[..., ch].astype(np.float64), fb[..., ch].astype(np.float64)
            blur = lambda m: cv2.GaussianBlur(m, (11, 11), 1.5)  # noqa: E731
            mx, my = blur(x), blur(y)
            sxx, syy, sxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
            values.append(np.mean(((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx**2 + my**2 + c1) * (sxx + syy + c2))))
    return float(np.mean(values))


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


COMPARISON_COLUMNS = [
    "clip",
    "lr_px",
    "frames",
    "psnr_sr",
    "psnr_bicubic",
    "ssim_sr",
    "ssim_bicubic",
    "psnr_sr_stored",
    "psnr_bicubic_stored",
    "ssim_sr_stored",
    "ssim_bicubic_stored",
]


def compare_with_bicubic(
    upscaler: Upscaler, pairs: list[tuple[np.ndarray, np.ndarray]], names: list[str], codec: str
) -> pd.DataFrame:
    """One row per (LR clip, HR clip) pair: PSNR/SSIM of the generator's output and of bicubic upscaling
    of the same input, both against the clean render at the output size: as computed, and ``*_stored``
    after the storage round trip (``codec``) that training reads."""
    rows = []
    for name, (lr_clip, hr_clip), out in zip(names, pairs, upscaler.upscale([lr for lr, _ in pairs])):
        target = resize_frames(hr_clip, upscaler.out_size, cv2.INTER_AREA)
        base = upscaler.bicubic(lr_clip)
        out_read, base_read = as_stored(out, codec), as_stored(base, codec)
        rows.append(
            {
                "clip": name,
                "lr_px": lr_clip.shape[1],
                "frames": len(lr_clip),
                "psnr_sr": psnr(out, target),
                "psnr_bicubic": psnr(base, target),
                "ssim_sr": ssim(out, target),
                "ssim_bicubic": ssim(base, target),
                "psnr_sr_stored": psnr(out_read, target),
                "psnr_bicubic_stored": psnr(base_read, target),
                "ssim_sr_stored": ssim(out_read, target),
                "ssim_bicubic_stored": ssim(base_read, target),
            }
        )
    return pd.DataFrame(rows, columns=COMPARISON_COLUMNS)


def fit(
    net: torch.nn.Module,
    pairs: list[tuple[np.ndarray, np.ndarray]],
    out_size: int,
    iterations: int,
    clip_len: int,
    batch: int,
    lr: float,
    seed: int,
    precision: str,
    progress=None,
) -> list[float]:
    """Fit the generator on (LR clip, HR clip) pairs with an L1 pixel loss (the GAN, perceptual and
    cleaning losses of the original recipe are left out), Adam with a cosine decay of the learning
    rate over the iterations (a short fit ends lower than at a constant rate). Returns the loss per
    iteration. ``precision`` is a resolved one: fp32, or bf16 autocast (fp16 would need loss scaling,
    which this loop does not do: settings refuse it).

    Speed (the fit runs on the demo's CPU budget): channels_last memory layout, and SPyNet, which mmagic
    keeps frozen, sees detached frames, so no backward pass runs through it (the cleaning module then
    learns through the reconstruction only, not through the flow). Measured on 2 cores: 0.40 vs 0.56 s
    per step of 16 frames."""
    rng = np.random.default_rng(seed)
    torch.manual_seed(seed)
    in_size = out_size // SCALE
    prepared = [
        (resize_frames(lr_clip, in_size), resize_frames(hr_clip, out_size, cv2.INTER_AREA))
        for lr_clip, hr_clip in pairs
    ]
    device = next(net.parameters()).device
    net.to(memory_format=torch.channels_last).train()
    no_flow_gradient = net.basicvsr.spynet.register_forward_pre_hook(_detached)
    optim = torch.optim.Adam([w for w in net.parameters() if w.requires_grad], lr=lr, betas=(0.9, 0.99))
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optim, T_max=max(iterations, 1), eta_min=lr / 100)
    losses = []
    tick = progress("fit", iterations) if progress else None
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
            with numeric.autocast(precision, device):
                out = net(x)
            loss = torch.nn.functional.l1_loss(out.float(), y)
            optim.zero_grad()
            loss.backward()
            optim.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if tick:
                tick(1, l1=f"{losses[-1]:.4f}")
    finally:
        no_flow_gradient.remove()
    net.eval()
    return losses


def sample_clips(index: str | os.PathLike, count: int, seed: int) -> list[str]:
    """Relative paths of ``count`` readable original (not flipped) clips of a prepared index."""
    rows = originals(pd.read_parquet(index))
    return rows.sample(n=min(count, len(rows)), random_state=seed)["path"].tolist()


def load_pairs(rels: list[str], lr_root: str, hr_root: str | os.PathLike) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(read_video(Path(lr_root) / rel), read_video(Path(hr_root) / rel)) for rel in rels]


def make_generator(
    sr: Superres,
    lr_root: str,
    batch: int,
    ws: Workspace,
    progress: Callable[..., Callable[..., None]] | None = None,
) -> dict:
    """The superres_fit stage's job: ``ws.generator`` from an official checkpoint or fitted on the demo's
    pairs (LR under ``lr_root``, clean renders in ``ws.synth_hr``), with the fit's metrics. Returns the
    summary written to superres.json."""
    remove_orphans(ws.metrics)  # what a killed run of this stage left half written beside its metrics
    spec = GeneratorSpec(**sr.generator.model_dump())
    torch.manual_seed(sr.fit.seed)
    net = build_generator(spec)
    if sr.weights != "fit":
        try:
            load_official(net, sr.weights)
        except (FileNotFoundError, KeyError) as e:
            raise SettingsError(str(e)) from None
        except RuntimeError as e:
            raise SettingsError(
                f"superres.generator: does not match the checkpoint {sr.weights}: {' '.join(str(e).split())[:300]}"
            ) from None
        save_official(net, ws.generator, {"source": sr.weights, "generator": asdict(spec)})
        summary = {"weights": sr.weights, "fitted": False}
        write_json(ws.metrics / FIT_SUMMARY, summary)
        # no clean renders to compare with
        write_table(ws.metrics / FIT_CLIPS, pd.DataFrame(columns=COMPARISON_COLUMNS))
        write_table(ws.metrics / FIT_LOSS, pd.DataFrame(columns=["step", "l1"]))
        log.info("using %s", sr.weights)
        return summary
    f = sr.fit
    train_pairs = load_pairs(sample_clips(ws.index("train"), f.clips, f.seed), lr_root, ws.synth_hr)
    log.info("fitting on %d clip pairs, %d iterations", len(train_pairs), f.iterations)
    start = time.time()
    precision = numeric.resolve(f.precision, "superres_fit", "cpu")
    losses = fit(
        start_from_upsampling(net),
        train_pairs,
        sr.size,
        f.iterations,
        clip_len=f.clip_len,
        batch=f.batch,
        lr=f.lr,
        seed=f.seed,
        precision=precision,
        progress=progress,
    )
    save_official(net, ws.generator, {"source": "fit", "generator": asdict(spec), "fit": f.model_dump()})
    write_table(ws.metrics / FIT_LOSS, pd.DataFrame({"step": np.arange(1, len(losses) + 1), "l1": losses}))

    eval_clips = sample_clips(ws.index("val"), f.eval_clips, f.seed)
    upscaler = Upscaler(
        net, sr.size, window=sr.window, overlap=sr.overlap, batch=batch, input=sr.input, precision=sr.precision
    )
    table = compare_with_bicubic(upscaler, load_pairs(eval_clips, lr_root, ws.synth_hr), eval_clips, sr.storage)
    write_table(ws.metrics / FIT_CLIPS, table)
    summary = {
        name: {k: float(table[f"{k}_{name}"].mean()) for k in ("psnr", "ssim")}
        for name in ("sr", "bicubic", "sr_stored", "bicubic_stored")
    }
    summary.update(
        weights="fit",
        fitted=True,
        eval_clips=len(table),
        input=sr.input,
        storage=sr.storage,
        fit_made_with=numeric.record(precision, "cpu"),
        made_with=numeric.record(upscaler.precision, upscaler.device),
        clips_sr_better=int((table["psnr_sr"] > table["psnr_bicubic"]).sum()),
        clips_sr_better_stored=int((table["psnr_sr_stored"] > table["psnr_bicubic_stored"]).sum()),
        final_l1=float(np.mean(losses[-10:])) if losses else None,
    )
    write_json(ws.metrics / FIT_SUMMARY, summary)
    log.info("fit and evaluation: %.0f s", time.time() - start)  # a time, not a result: logged, not in the metrics
    log.info(
        "val PSNR: SR %.2f dB vs bicubic %.2f dB (SR better on %d of %d clips); SSIM %.4f vs %.4f; "
        "after %s storage: %.2f vs %.2f dB",
        summary["sr"]["psnr"],
        summary["bicubic"]["psnr"],
        summary["clips_sr_better"],
        len(table),
        summary["sr"]["ssim"],
        summary["bicubic"]["ssim"],
        sr.storage,
        summary["sr_stored"]["psnr"],
        summary["bicubic_stored"]["psnr"],
    )
    return summary
